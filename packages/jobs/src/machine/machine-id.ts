import { readFileSync } from 'node:fs';

/**
 * This machine's /etc/machine-id (systemd's, stable across reboots), or
 * undefined where there is none. Inode numbers recorded in a checkpoint
 * only mean something on the machine that recorded them.
 */
export function machineId(): string | undefined {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(path, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) return id;
    } catch {
      // Try the next one.
    }
  }
  return undefined;
}

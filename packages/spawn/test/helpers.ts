import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temp directory, removed after the current test. */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryopipe-spawn-'));
    dirs.push(dir);
    return dir;
  };
}

/** fd number → link target (`pipe:[123]`, `/dev/null`, a path) as the kernel reports it. */
export function fdTable(pid: number): Map<number, string> {
  const table = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      table.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {}
  }
  return new Map([...table].sort((a, b) => a[0] - b[0]));
}

/** A field of /proc/PID/status, e.g. `SigBlk`. */
export function statusField(pid: number, field: string): string | undefined {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return m?.[1];
}

/** session and tty_nr from /proc/PID/stat (fields 6 and 7, after the comm). */
export function sessionAndTty(pid: number): { session: number; ttyNr: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { session: Number(rest[3]), ttyNr: Number(rest[4]) };
}

/** The environment of a process, exactly as the kernel has it. */
export function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

/** Waits until `check` returns true; polls (no timing assertion, the test timeout bounds it). */
export async function until(check: () => boolean, intervalMs = 20): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, intervalMs));
}

/** What the process is blocked in, e.g. `anon_pipe_write` / `pipe_write`. */
export function wchan(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'utf8');
  } catch {
    return '';
  }
}

export const PATH_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };

import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A thing a test needs from the machine: root, a binary, a kernel feature. */
export interface Requirement {
  /** Short name used in messages, e.g. `root` or `criu`. */
  name: string;
  /** Returns undefined when met, otherwise what is missing and how to get it. */
  check(): string | undefined;
}

/** Absolute path of `cmd` on PATH (plus the sbin dirs root usually has), or undefined. */
export function which(cmd: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/local/sbin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export const root: Requirement = {
  name: 'root',
  check: () =>
    process.getuid?.() === 0
      ? undefined
      : 'tests must run as root (CRIU needs CAP_SYS_ADMIN and friends)',
};

/** A binary on PATH; `hint` says how to install it. */
export function binary(cmd: string, hint = 'run `bash scripts/setup.sh` as root'): Requirement {
  return {
    name: cmd,
    check: () => (which(cmd) ? undefined : `${cmd} not found on PATH; ${hint}`),
  };
}

/** A working CRIU 4.x: found and `criu check` passes. Probed once per process. */
let criuProbe: string | undefined | null = null;
export const criu: Requirement = {
  name: 'criu',
  check() {
    if (criuProbe !== null) return criuProbe;
    const bin = process.env.CRIU_BIN ?? which('criu');
    if (!bin) {
      criuProbe = 'criu not found (set CRIU_BIN or run `bash scripts/setup.sh` as root)';
      return criuProbe;
    }
    try {
      execFileSync(bin, ['check'], { stdio: 'pipe' });
      criuProbe = undefined;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '')
        .trim()
        .split('\n')
        .slice(-3)
        .join(' | ');
      criuProbe = `\`${bin} check\` failed: ${stderr}`;
    }
    return criuProbe;
  },
};

/** True when running under CI, where a missing requirement is a failure, never a skip. */
export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** The unmet requirements among `reqs`, as messages naming each one. */
export function missing(reqs: readonly Requirement[]): string[] {
  const out: string[] = [];
  for (const req of reqs) {
    const why = req.check();
    if (why !== undefined) out.push(`missing requirement "${req.name}": ${why}`);
  }
  return out;
}

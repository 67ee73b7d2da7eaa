import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CriuError } from './errors.ts';

/** Oldest criu whose RPC this client has been written for. */
export const MIN_CRIU_VERSION = {
  /** Major version. */
  major: 3,
  /** Minor version. */
  minor: 15,
} as const;

/**
 * Finds the criu binary: the explicit path, then `CRIU_BIN`, then PATH, then
 * /usr/local/sbin and /usr/sbin (often missing from a non-login root PATH).
 */
export function findCriu(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  const usable = (path: string): boolean => {
    tried.push(path);
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (explicit) {
    if (usable(explicit)) return explicit;
    throw notFound(`criu not executable at ${explicit} (the criuPath option)`);
  }
  if (env.CRIU_BIN) {
    if (usable(env.CRIU_BIN)) return env.CRIU_BIN;
    throw notFound(`criu not executable at ${env.CRIU_BIN} (from CRIU_BIN)`);
  }
  const dirs = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/sbin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'criu');
    if (usable(candidate)) return candidate;
  }
  throw notFound(`criu not found (looked in ${dirs.join(', ')})`);
}

function notFound(what: string): CriuError {
  return new CriuError(
    `${what}. Install CRIU ${MIN_CRIU_VERSION.major}.${MIN_CRIU_VERSION.minor} or newer (4.x on recent kernels), ` +
      'then put it on PATH or set CRIU_BIN to its path.',
    { code: 'CRIU_NOT_FOUND' },
  );
}

/** Throws NOT_ROOT unless this process is root; criu's RPC needs root privileges. */
export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new CriuError(
      'criu must run as root to checkpoint or restore (it needs CAP_SYS_ADMIN, CAP_SYS_PTRACE …): ' +
        'run this program as root, e.g. with sudo.',
      { code: 'NOT_ROOT' },
    );
  }
}

/** A criu version, as its VERSION RPC request reports it. */
export interface CriuVersion {
  /** Major version, e.g. 4 in 4.2.1. */
  major: number;
  /** Minor version, e.g. 2 in 4.2.1. */
  minor: number;
  /** Sublevel, e.g. 1 in 4.2.1; undefined when criu did not report one. */
  sublevel?: number | undefined;
  /** Extra version number of development builds; undefined when absent. */
  extra?: number | undefined;
  /** Git commit of a development build; undefined for releases. */
  gitid?: string | undefined;
  /** Release name; undefined when criu did not report one. */
  name?: string | undefined;
}

/** Throws CRIU_TOO_OLD when `version` is older than MIN_CRIU_VERSION. */
export function assertSupportedVersion(version: CriuVersion, bin: string): void {
  const { major, minor } = MIN_CRIU_VERSION;
  if (version.major > major || (version.major === major && version.minor >= minor)) return;
  throw new CriuError(
    `${bin} is CRIU ${version.major}.${version.minor}; this client needs ${major}.${minor} or newer ` +
      '(and recent kernels need 4.x). Install a newer criu and point CRIU_BIN at it.',
    { code: 'CRIU_TOO_OLD' },
  );
}

/** `criu --version` parsed ("Version: 4.2.1"); used by benchmarks and diagnostics. */
export function cliVersion(bin: string): Promise<CriuVersion> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['--version'], (err, stdout) => {
      if (err) return reject(err);
      const m = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(stdout);
      if (!m) return reject(new Error(`cannot parse \`${bin} --version\`: ${stdout.trim()}`));
      resolve({
        major: Number(m[1]),
        minor: Number(m[2]),
        sublevel: m[3] ? Number(m[3]) : undefined,
      });
    });
  });
}

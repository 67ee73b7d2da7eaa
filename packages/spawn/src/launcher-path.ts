import { execFile } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LauncherNotFoundError } from './errors.ts';

/** Environment variable that overrides the bundled launcher binary. */
export const LAUNCHER_ENV = 'CRYOPIPE_LAUNCHER';

const relative = `bin/linux-${process.arch}/cryopipe-launch`;

/**
 * The architectures whose launcher ships in dist/bin/linux-<arch>/. The
 * launcher is static, so it runs on glibc and musl systems (Alpine) alike.
 */
export const LAUNCHER_ARCHES = ['x64', 'arm64'] as const;

/**
 * Absolute path of the cryopipe-launch binary for this platform:
 * $CRYOPIPE_LAUNCHER, else the copy shipped in dist/bin/linux-<arch>/.
 * Throws LauncherNotFoundError naming the path and what to do.
 */
export function launcherPath(): string {
  const override = process.env[LAUNCHER_ENV];
  const candidates = override
    ? [override]
    : [
        fileURLToPath(new URL(`./${relative}`, import.meta.url)), // dist/index.js
        fileURLToPath(new URL(`../dist/${relative}`, import.meta.url)), // src/*.ts in tests
      ];
  if (process.platform !== 'linux')
    throw new LauncherNotFoundError(
      candidates[0]!,
      `cryopipe needs Linux, this is ${process.platform}`,
    );
  let why = (LAUNCHER_ARCHES as readonly string[]).includes(process.arch)
    ? 'no such file'
    : `no launcher ships for linux-${process.arch}; @cryopipe/spawn ships one for ` +
      `${LAUNCHER_ARCHES.map((a) => `linux-${a}`).join(' and ')}`;
  for (const path of candidates) {
    try {
      if (!statSync(path).isFile()) continue;
      accessSync(path, constants.X_OK);
      return path;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES') continue;
      // A tarball packed without the mode (some packers drop it): restore it if we may.
      try {
        chmodSync(path, 0o755);
        return path;
      } catch {
        why = 'not executable (lost its executable bit?)';
      }
    }
  }
  throw new LauncherNotFoundError(candidates[0]!, why);
}

/** Runs `cryopipe-launch --version`: `{ version: '0.1.0', spec: 'cryopipe-spec/1' }`. */
export function launcherVersion(path = launcherPath()): Promise<{
  /** The launcher's version, e.g. 0.1.0. */
  version: string;
  /** The spec format version the launcher reads. */
  spec: string;
}> {
  return new Promise((resolvePromise, reject) => {
    execFile(path, ['--version'], { timeout: 10_000 }, (err, stdout) => {
      const m = /^cryopipe-launch (\S+) (\S+)/.exec(stdout);
      if (err || !m)
        reject(
          new LauncherNotFoundError(path, `--version handshake failed: ${err?.message ?? stdout}`),
        );
      else resolvePromise({ version: m[1]!, spec: m[2]! });
    });
  });
}

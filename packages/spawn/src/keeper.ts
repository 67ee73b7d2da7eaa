import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LauncherError } from './errors.ts';
import { launcherPath } from './launcher-path.ts';

/** Options of `startKeeper()`: restore a `--shell-job` dump under a new pseudo-terminal. */
export interface KeeperOptions {
  /** Absolute run directory: status, launcher.log, restore.log, root.pid and the `input` FIFO go here. */
  runDir: string;
  /** Images of a `--shell-job` dump. */
  imagesDir: string;
  /** File that receives everything the job writes to its terminal (appended). */
  terminalLog: string;
  /** The criu binary to run. */
  criu: string;
  /** Terminal size the job sees (its old terminal's, so full-screen programs keep their layout). */
  columns?: number;
  /** Terminal height in rows (default 24). */
  rows?: number;
}

/** What `startKeeper()` resolves with once the tree is restored. */
export interface KeeperStarted {
  /** The keeper: session leader owning the pty master, parent of the restored root; the job's dump root from now on. */
  keeperPid: number;
  /** The restored root of the adopted tree. */
  rootPid: number;
}

/**
 * Restores a shell-job dump under a pseudo-terminal owned by a keeper
 * (`cryopipe-launch --keep`, see native/keeper.c), which outlives the caller.
 * Resolves once criu has restored the tree; rejects with the keeper's reason
 * (criu's log is RUNDIR/restore.log).
 */
export function startKeeper(options: KeeperOptions): Promise<KeeperStarted> {
  const args = [
    '--keep',
    options.runDir,
    options.imagesDir,
    options.terminalLog,
    options.criu,
    String(options.columns ?? 80),
    String(options.rows ?? 24),
  ];
  return new Promise((resolve, reject) => {
    // Detached: the keeper must lead its own session to take a controlling terminal.
    const child = spawn(launcherPath(), args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
    });
    child.on('error', (err) =>
      reject(
        new LauncherError(options.runDir, `cannot start the keeper: ${err.message}`, undefined, ''),
      ),
    );
    // The keeper closes its report pipe once criu is done, either way.
    child.stdout.on('end', () => {
      child.unref();
      const started = /^started (\d+) (\d+)/.exec(text);
      if (started) resolve({ keeperPid: Number(started[1]), rootPid: Number(started[2]) });
      else
        reject(
          new LauncherError(
            options.runDir,
            `keeper: ${text.replace(/^failed /, '').trim() || 'exited without a report'}`,
            undefined,
            readLog(options.runDir),
          ),
        );
    });
  });
}

function readLog(runDir: string): string {
  try {
    return readFileSync(join(runDir, 'launcher.log'), 'utf8');
  } catch {
    return '';
  }
}

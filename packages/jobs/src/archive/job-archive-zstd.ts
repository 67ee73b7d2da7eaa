import { type ChildProcess, spawn } from 'node:child_process';
import { JobError } from '../errors.ts';

/**
 * The system `zstd` as a stream filter (compress, or `-d` to decompress):
 * nothing is held in memory beyond the pipe buffers.
 */
export function zstdProcess(args: string[], stdout: 'pipe' | number): ChildProcess {
  return spawn('zstd', ['-q', ...args], { stdio: ['pipe', stdout, 'pipe'] });
}

/** Resolves when zstd exits 0; a failure carries its stderr (e.g. "not in zstd format"). */
export function zstdDone(child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new JobError('zstd is not installed', 'ENVIRONMENT', 'install it: apt-get install zstd')
          : err,
      ),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new JobError(
            `zstd failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`,
            'FAILED',
          ),
        );
    });
  });
}

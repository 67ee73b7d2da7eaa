import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of whole image files, the large ones in parallel worker threads.
 *
 * One file's SHA-256 is sequential, so the parallelism is across files: a
 * job with several processes has several pages-N.img. A worker costs ~20–40
 * ms to start, so only files of at least WORKER_MIN_BYTES go to workers, and
 * only when there are two or more of them; everything else is hashed here.
 * The digest is the plain SHA-256 of the file (what `sha256sum` prints), so
 * signatures and outside tools can check the same value.
 */

const WORKER_MIN_BYTES = 16 << 20;
const CHUNK = 4 << 20;

/** Plain SHA-256 of one file, on this thread. */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

// The worker's whole program. Evaluated from a string so it runs the same
// from the TypeScript sources (tests) and from the bundled dist, with no
// separate file to locate next to the bundle.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buf = Buffer.allocUnsafe(${CHUNK});
parentPort.on('message', ({ index, path }) => {
  try {
    const hash = createHash('sha256');
    const fd = openSync(path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ index, sha256: hash.digest('hex') });
  } catch (err) {
    parentPort.postMessage({ index, error: err.code || err.message });
  }
});
`;

export interface HashFilesOptions {
  /**
   * Most worker threads to use; 0 or 1 hashes everything on this thread.
   * Default: the CPUs that are idle (CPUs minus the 1-minute load average,
   * plus this thread's own). On a busy machine workers only add contention:
   * measured 0.7–0.8× the speed of one thread at load 18 on 2 cores
   * (tools/bench/src/image-hash.bench.ts).
   */
  threads?: number;
}

function idleThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() - loadavg()[0]! + 1));
}

/** A file that could not be read while hashing; `code` is the errno code when there is one. */
export class HashError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`${path}: ${code}`);
  }
}

/** SHA-256 of each file (`sizes` tells which are large), in the order given. */
export async function sha256Files(
  files: readonly { path: string; size: number }[],
  options: HashFilesOptions = {},
): Promise<string[]> {
  const digests: string[] = new Array(files.length);
  const large = files.flatMap((f, index) => (f.size >= WORKER_MIN_BYTES ? [index] : []));
  const threads = Math.min(options.threads ?? idleThreads(), large.length);
  const inWorkers = threads >= 2 ? new Set(large) : new Set<number>();
  const pending =
    inWorkers.size > 0 ? hashInWorkers(files, [...inWorkers], threads, digests) : undefined;
  // Meanwhile this thread hashes the rest (the small images, or everything).
  let local: unknown;
  files.forEach((f, index) => {
    if (inWorkers.has(index) || local !== undefined) return;
    try {
      digests[index] = sha256File(f.path);
    } catch (err) {
      local = new HashError(f.path, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
  });
  await pending;
  if (local !== undefined) throw local;
  return digests;
}

async function hashInWorkers(
  files: readonly { path: string; size: number }[],
  indices: number[],
  threads: number,
  digests: string[],
): Promise<void> {
  // Largest first, so the longest file doesn't start last.
  const queue = [...indices].sort((a, b) => files[b]!.size - files[a]!.size);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true }));
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const next = () => {
              const index = queue.shift();
              if (index === undefined) return resolve();
              worker.postMessage({ index, path: files[index]!.path });
            };
            worker.on('message', (m: { index: number; sha256?: string; error?: string }) => {
              if (m.error !== undefined)
                return reject(new HashError(files[m.index]!.path, m.error));
              digests[m.index] = m.sha256!;
              next();
            });
            worker.on('error', reject);
            next();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

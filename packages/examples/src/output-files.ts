import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Size of a file, 0 while it does not exist yet (an encoder creates its output late). */
export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Bytes of the regular files directly in `dir` (a CRIU images directory is flat). */
export function directoryBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(join(dir, entry.name)).size, 0);
}

/**
 * Resolves once `path` holds at least `bytes`; polls, and gives up with an
 * error naming `what` as soon as `stillRunning()` says the job has ended.
 */
export async function untilSize(
  path: string,
  bytes: number,
  stillRunning: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  // The size is polled every 50 ms; whether the job still runs (a whole
  // `cryopipe ps`, up to a second on a busy machine) only once a second, so the
  // checkpoint follows the size closely and the job is not near its end by then.
  let checkedAt = performance.now();
  while (sizeOf(path) < bytes) {
    if (performance.now() - checkedAt > 1000) {
      if (!(await stillRunning()) && sizeOf(path) < bytes)
        throw new Error(`${what} ended before its output reached ${bytes} bytes (${path})`);
      checkedAt = performance.now();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What an encode produced: its output's size and sha256, and how long it took since `startedMs`. */
export interface EncodeOutcome {
  path: string;
  bytes: number;
  sha256: string;
  ms: number;
}

export async function outcomeOf(path: string, startedMs: number): Promise<EncodeOutcome> {
  return {
    path,
    bytes: sizeOf(path),
    sha256: await sha256File(path),
    ms: performance.now() - startedMs,
  };
}

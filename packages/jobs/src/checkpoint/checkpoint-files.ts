import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Total size of the regular files under `dir`. */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(p);
    else if (entry.isFile()) total += statSync(p).size;
  }
  return total;
}

/** The number the next checkpoint of a job gets: one more than any directory there, complete or not. */
export function nextCheckpointNumber(checkpointsDir: string): number {
  let max = 0;
  for (const name of readdirSync(checkpointsDir)) {
    const m = /^(?:\.tmp-)?(\d+)/.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/**
 * Numbers of the checkpoint directories (named N; partial ones are .tmp-*),
 * ascending. `withMetadata`: only those with their checkpoint.json, the ones a
 * restore would accept.
 */
export function checkpointNumbers(checkpointsDir: string, withMetadata = false): number[] {
  let names: string[];
  try {
    names = readdirSync(checkpointsDir);
  } catch {
    return [];
  }
  return names
    .filter(
      (n) =>
        /^\d+$/.test(n) &&
        (!withMetadata || existsSync(join(checkpointsDir, n, 'checkpoint.json'))),
    )
    .map(Number)
    .sort((a, b) => a - b);
}

import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { childrenOf } from '@cryopipe/testkit';
import { aomenc, stagesOf } from '../../examples/src/encoders.ts';

export { TmuxServer } from '../../examples/src/tmux-server.ts';

/** Frames of the test encode: long enough to adopt mid-way, short enough for a test. */
export const FRAMES = 240;

/** The AV1 demo pipeline as one shell command line writing `output`. */
export function encodeLine(output: string): string {
  return stagesOf(aomenc.pipeline(output, FRAMES))
    .map((argv) => argv.join(' '))
    .join(' | ');
}

/** The same encode uninterrupted, for a byte-for-byte comparison. */
export function referenceEncode(output: string): Buffer {
  execFileSync('bash', ['-c', encodeLine(output)], { stdio: 'ignore' });
  return readFileSync(output);
}

export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export { childrenOf };

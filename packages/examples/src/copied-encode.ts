import { join } from 'node:path';
import { startEncode } from './checkpointed-encode.ts';
import type { CryopipeCli } from './cryopipe-cli.ts';
import type { Encoder } from './encoders.ts';
import { type EncodeOutcome, outcomeOf, untilSize } from './output-files.ts';

export interface CopiedEncode {
  /** The job restored in place, finishing its own output. */
  original: EncodeOutcome;
  /** The copy started from the same checkpoint (`restore --as`), with its own output. */
  copy: EncodeOutcome;
  frozenMs: number | undefined;
  imageBytes: number;
  restoreMs: number;
  copyRestoreMs: number;
}

/**
 * One checkpoint, two futures: the encode is checkpointed (stopped) at
 * `at` of the reference size, then restored twice — in place, and as a copy
 * writing its own output — and both run at once to the end.
 */
export async function copiedEncode(
  cli: CryopipeCli,
  enc: Encoder,
  dir: string,
  frames: number,
  referenceBytes: number,
  at = 0.5,
): Promise<CopiedEncode> {
  const path = join(dir, `${enc.name}-original.ivf`);
  const copyDir = join(dir, `${enc.name}-copy`);
  const started = performance.now();
  const { job, running } = await startEncode(cli, enc, path, frames);
  await untilSize(path, referenceBytes * at, running, `the ${enc.name} job`);
  const cp = await cli.json<{ frozenMs?: number; imageBytes: number }>(['checkpoint', job.id]);
  const restored = await cli.json<{ ms: number }>(['restore', job.id]);
  const copy = await cli.json<{ id: string; ms: number }>([
    'restore',
    job.id,
    '--as',
    `${job.id}-copy`,
    '--output-dir',
    copyDir,
  ]);
  for (const id of [job.id, copy.id]) {
    const done = await cli.json<{ exitCode: number; state: string }>(['wait', id]);
    if (done.exitCode !== 0)
      throw new Error(`${id} (${enc.name}) ended with ${done.state} (exit ${done.exitCode})`);
  }
  return {
    original: await outcomeOf(path, started),
    copy: await outcomeOf(join(copyDir, `${enc.name}-original.ivf`), started),
    frozenMs: cp.frozenMs,
    imageBytes: cp.imageBytes,
    restoreMs: restored.ms,
    copyRestoreMs: copy.ms,
  };
}

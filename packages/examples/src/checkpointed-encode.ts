import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CryopipeCli } from './cryopipe-cli.ts';
import type { Encoder } from './encoders.ts';

export interface EncodeOutcome {
  path: string;
  bytes: number;
  sha256: string;
  ms: number;
}

export interface CheckpointStep {
  /** Fraction of the reference output size at which the checkpoint was taken. */
  at: number;
  checkpoint: number;
  frozenMs: number | undefined;
  dumpMs: number;
  imageBytes: number;
  restoreMs: number;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** An uninterrupted encode through `cryopipe run --wait`: the reference output. */
export async function referenceEncode(
  cli: CryopipeCli,
  enc: Encoder,
  dir: string,
  frames: number,
): Promise<EncodeOutcome> {
  const path = join(dir, `${enc.name}-reference.ivf`);
  const started = performance.now();
  await cli.json(['run', '--wait', '--', ...enc.pipeline(path, frames)]);
  return {
    path,
    bytes: sizeOf(path),
    sha256: await sha256File(path),
    ms: performance.now() - started,
  };
}

/**
 * The same encode, checkpointed (job stopped) whenever the output reaches
 * each fraction of the reference size, then restored and left to finish.
 */
export async function checkpointedEncode(
  cli: CryopipeCli,
  enc: Encoder,
  dir: string,
  frames: number,
  referenceBytes: number,
  at: readonly number[] = [0.4, 0.7],
  onStep?: (step: CheckpointStep) => void,
): Promise<EncodeOutcome & { steps: CheckpointStep[] }> {
  const path = join(dir, `${enc.name}-checkpointed.ivf`);
  const started = performance.now();
  const { id } = await cli.json<{ id: string }>(['run', '--', ...enc.pipeline(path, frames)]);
  const steps: CheckpointStep[] = [];
  for (const fraction of at) {
    while (sizeOf(path) < referenceBytes * fraction) {
      const [job] = (await cli.json<{ id: string; state: string }[]>(['ps'])).filter(
        (j) => j.id === id,
      );
      if (job?.state !== 'running')
        throw new Error(
          `the ${enc.name} job ended (${job?.state}) before reaching ${fraction * 100}%`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    const cp = await cli.json<{
      checkpoint: number;
      frozenMs?: number;
      dumpMs: number;
      imageBytes: number;
    }>(['checkpoint', id]);
    const rs = await cli.json<{ ms: number }>(['restore', id]);
    const step: CheckpointStep = {
      at: fraction,
      checkpoint: cp.checkpoint,
      frozenMs: cp.frozenMs,
      dumpMs: cp.dumpMs,
      imageBytes: cp.imageBytes,
      restoreMs: rs.ms,
    };
    steps.push(step);
    onStep?.(step);
  }
  const done = await cli.json<{ exitCode: number; state: string }>(['wait', id]);
  if (done.exitCode !== 0)
    throw new Error(
      `the restored ${enc.name} job ended with ${done.state} (exit ${done.exitCode})`,
    );
  return {
    path,
    bytes: sizeOf(path),
    sha256: await sha256File(path),
    ms: performance.now() - started,
    steps,
  };
}

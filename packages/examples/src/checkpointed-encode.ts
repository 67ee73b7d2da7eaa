import { join } from 'node:path';
import type { CryopipeCli } from './cryopipe-cli.ts';
import type { Encoder } from './encoders.ts';
import { type EncodeOutcome, outcomeOf, untilSize } from './output-files.ts';

export type { EncodeOutcome };

export interface CheckpointStep {
  /** Fraction of the reference output size at which the checkpoint was taken. */
  at: number;
  checkpoint: number;
  frozenMs: number | undefined;
  dumpMs: number;
  imageBytes: number;
  restoreMs: number;
}

export interface CheckpointPlan {
  /** Fractions of the reference output size at which to checkpoint (default 40% and 70%). */
  at?: readonly number[];
  /** Called once the job runs, before any checkpoint (e.g. to diagnose it). */
  onStarted?: (job: { id: string; rootPid: number }) => void | Promise<void>;
  onStep?: (step: CheckpointStep) => void;
}

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
  return outcomeOf(path, started);
}

/** Starts an encode with `cryopipe run`; `running()` asks `cryopipe ps` whether it still runs. */
export async function startEncode(
  cli: CryopipeCli,
  enc: Encoder,
  path: string,
  frames: number,
): Promise<{ job: { id: string; rootPid: number }; running: () => Promise<boolean> }> {
  const job = await cli.json<{ id: string; rootPid: number }>([
    'run',
    '--',
    ...enc.pipeline(path, frames),
  ]);
  const running = async () =>
    (await cli.json<{ id: string; state: string }[]>(['ps'])).some(
      (j) => j.id === job.id && j.state === 'running',
    );
  return { job, running };
}

/**
 * The same encode under `cryopipe run`, checkpointed (job stopped) whenever
 * the output reaches each fraction of the reference size, then restored and
 * left to finish.
 */
export async function checkpointedEncode(
  cli: CryopipeCli,
  enc: Encoder,
  dir: string,
  frames: number,
  referenceBytes: number,
  plan: CheckpointPlan = {},
): Promise<EncodeOutcome & { steps: CheckpointStep[] }> {
  const path = join(dir, `${enc.name}-checkpointed.ivf`);
  const started = performance.now();
  const { job, running } = await startEncode(cli, enc, path, frames);
  await plan.onStarted?.(job);
  const steps: CheckpointStep[] = [];
  for (const fraction of plan.at ?? [0.4, 0.7]) {
    await untilSize(path, referenceBytes * fraction, running, `the ${enc.name} job`);
    const cp = await cli.json<{
      checkpoint: number;
      frozenMs?: number;
      dumpMs: number;
      imageBytes: number;
    }>(['checkpoint', job.id]);
    const rs = await cli.json<{ ms: number }>(['restore', job.id]);
    const step: CheckpointStep = {
      at: fraction,
      checkpoint: cp.checkpoint,
      frozenMs: cp.frozenMs,
      dumpMs: cp.dumpMs,
      imageBytes: cp.imageBytes,
      restoreMs: rs.ms,
    };
    steps.push(step);
    plan.onStep?.(step);
  }
  const done = await cli.json<{ exitCode: number; state: string }>(['wait', job.id]);
  if (done.exitCode !== 0)
    throw new Error(
      `the restored ${enc.name} job ended with ${done.state} (exit ${done.exitCode})`,
    );
  return { ...(await outcomeOf(path, started)), steps };
}

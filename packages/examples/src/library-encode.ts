/**
 * The AV1 checkpoint/restore cycle without the CLI, through the libraries an
 * integrator would use: @cryopipe/spawn starts the pipeline in a dumpable
 * shape (PID 1 of a fresh PID namespace, stdio on files), @cryopipe/criu-client
 * dumps and restores it, and spawn's attach() follows the restored run.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CriuClient } from '@cryopipe/criu-client';
import { attach, type PipelineHandle, type PipelineSpec, spawnPipeline } from '@cryopipe/spawn';
import type { CheckpointStep } from './checkpointed-encode.ts';
import { type Encoder, stagesOf } from './encoders.ts';
import { directoryBytes, type EncodeOutcome, outcomeOf, untilSize } from './output-files.ts';

/** The encoder's pipeline as a spawn spec: stdin /dev/null, stdout and stderr to files in the run dir. */
function encodeSpec(enc: Encoder, output: string, frames: number): PipelineSpec {
  return {
    stages: stagesOf(enc.pipeline(output, frames)).map((argv) => ({ argv })),
    env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' },
  };
}

async function finish(handle: PipelineHandle, enc: Encoder): Promise<void> {
  const result = await handle.wait(); // rejects with PipelineError naming the failed stage
  const codes = result.stages.map((s) => s.exitCode);
  if (codes.some((c) => c !== 0))
    throw new Error(`the ${enc.name} pipeline ended with exit codes ${codes.join(', ')}`);
}

/** An uninterrupted encode started with spawnPipeline: the reference output. */
export async function libraryReferenceEncode(
  enc: Encoder,
  dir: string,
  frames: number,
): Promise<EncodeOutcome> {
  const path = join(dir, `${enc.name}-library-reference.ivf`);
  const started = performance.now();
  const handle = await spawnPipeline(encodeSpec(enc, path, frames), {
    runDir: join(dir, `${enc.name}-library-reference`),
    pidNamespace: true,
  });
  await finish(handle, enc);
  return outcomeOf(path, started);
}

/**
 * The same encode, dumped by CRIU (which stops it) whenever the output
 * reaches each fraction of the reference size, restored from the images and
 * re-attached, then left to finish.
 */
export async function libraryCheckpointedEncode(
  enc: Encoder,
  dir: string,
  frames: number,
  referenceBytes: number,
  at: readonly number[] = [0.4, 0.7],
): Promise<EncodeOutcome & { steps: CheckpointStep[] }> {
  const path = join(dir, `${enc.name}-library-checkpointed.ivf`);
  const runDir = join(dir, `${enc.name}-library-run`);
  const started = performance.now();
  // pidNamespace: true, so the dump root is a namespace init: restores get fresh host PIDs.
  let handle = await spawnPipeline(encodeSpec(enc, path, frames), { runDir, pidNamespace: true });
  const running = async () =>
    existsSync(`/proc/${handle.rootPid}`) && (await handle.status()).state === 'running';
  const criu = CriuClient.swrk();
  const steps: CheckpointStep[] = [];
  try {
    for (const [i, fraction] of at.entries()) {
      await untilSize(path, referenceBytes * fraction, running, `the ${enc.name} pipeline`);
      const imagesDir = join(dir, `${enc.name}-library-images-${i + 1}`);
      mkdirSync(imagesDir, { mode: 0o700 }); // images hold process memory: private
      const dumpStart = performance.now();
      const dump = await criu.dump({ pid: handle.rootPid, imagesDir, leaveRunning: false });
      const dumpMs = performance.now() - dumpStart;
      // No output file grew after the dump (the tree is gone), so CRIU's size check passes.
      const restoreStart = performance.now();
      const { pid } = await criu.restore({ imagesDir });
      const restoreMs = performance.now() - restoreStart;
      // Not our child any more: the run directory is the channel to the restored launcher.
      handle = await attach(runDir, { rootPid: pid });
      steps.push({
        at: fraction,
        checkpoint: i + 1,
        frozenMs: dump.stats ? dump.stats.frozenTimeUs / 1000 : undefined,
        dumpMs,
        imageBytes: directoryBytes(imagesDir),
        restoreMs,
      });
    }
  } finally {
    criu.close();
  }
  await finish(handle, enc);
  return { ...(await outcomeOf(path, started)), steps };
}

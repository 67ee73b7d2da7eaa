import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { checkpointJob } from '../checkpoint/checkpoint-job.ts';
import { JobStore } from '../store/job-store.ts';
import { jobState } from '../store/liveness.ts';
import { killTree, superviseSlurmJob } from './slurm-job.ts';
import { readSlurmRecord } from './slurm-record.ts';

// The supervisor with the real launcher and criu, Slurm's part played by
// the environment and an injected requeue (the real-Slurm cases are in the
// CLI's slurm e2e tests).
describeWith([root, criu], 'superviseSlurmJob', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-slurm-job-'));
  const store = new JobStore(join(dir, 'home'));
  const out = join(dir, 'count.txt');
  const N = 60;
  const pipeline = `sh -c 'i=0; while [ $i -lt ${N} ]; do echo $i; i=$((i+1)); sleep 0.1; done' > ${out}`;
  const env = (extra: Record<string, string>) => ({ SLURM_JOB_ID: '4242', ...extra });
  afterAll(() => {
    for (const job of store.list()) killTree(job.rootPid);
    rmSync(dir, { recursive: true, force: true });
  });

  it('one checkpoint for two signals, a requeue, then a restore on the next run that finishes the pipeline', async () => {
    const requeued: string[] = [];
    const lines: string[] = [];
    const first = superviseSlurmJob(store, {
      pipeline,
      env: env({ SLURMD_NODENAME: 'n1' }),
      requeue: async (id) => {
        requeued.push(id);
      },
      onLog: (l) => lines.push(l),
    });
    const deadline = Date.now() + 30_000;
    while (!existsSync(out) || readFileSync(out, 'utf8').split('\n').length < 6) {
      if (Date.now() > deadline) throw new Error(`the pipeline never wrote\n${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    first.stop('SIGUSR1');
    first.stop('SIGTERM');
    const stopped = await first.done;
    expect(stopped, lines.join('\n')).toMatchObject({
      outcome: 'checkpointed',
      signal: 'SIGUSR1',
      checkpoint: 1,
      requeued: true,
    });
    expect(lines).toContain('SIGTERM ignored: a checkpoint is already under way');
    expect(requeued).toEqual(['4242']);
    expect((await jobState(store, 'slurm-4242')).state).toBe('checkpointed');
    expect(store.checkpoints(stopped.id)).toHaveLength(1);

    const second = superviseSlurmJob(store, {
      pipeline,
      env: env({ SLURM_RESTART_COUNT: '1', SLURMD_NODENAME: 'n2' }),
      requeue: async () => {
        throw new Error('no requeue when the pipeline finishes');
      },
    });
    expect(await second.done).toMatchObject({ outcome: 'finished', exitCode: 0 });
    const want = Array.from({ length: N }, (_, i) => `${i}\n`).join('');
    expect(readFileSync(out, 'utf8')).toBe(want);
    expect(readSlurmRecord(store, stopped.id)).toMatchObject({
      slurmJobId: '4242',
      runs: [
        {
          restartCount: 0,
          node: 'n1',
          action: 'started',
          end: { outcome: 'checkpointed', signal: 'SIGUSR1', checkpoint: 1, requeued: true },
        },
        {
          restartCount: 1,
          node: 'n2',
          action: 'restored',
          from: 1,
          end: { outcome: 'finished', exitCode: 0 },
        },
      ],
    });

    // Requeued once more after it finished: nothing runs again.
    const third = superviseSlurmJob(store, { pipeline, env: env({ SLURM_RESTART_COUNT: '2' }) });
    expect(await third.done).toMatchObject({ outcome: 'finished', exitCode: 0 });
    expect(readSlurmRecord(store, stopped.id)?.runs).toHaveLength(2);
  });

  it('a stopping checkpoint taken from outside ends the run with a requeue, not as finished', async () => {
    const requeued: string[] = [];
    const run = superviseSlurmJob(store, {
      pipeline: 'sleep 60',
      env: { SLURM_JOB_ID: '4343' },
      requeue: async (id) => {
        requeued.push(id);
      },
    });
    const started = () => store.list().find((j) => j.name === 'slurm-4343')?.id;
    const deadline = Date.now() + 30_000;
    while (!started()) {
      if (Date.now() > deadline) throw new Error('the job never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const id = started()!;
    await checkpointJob(store, id, { lockWaitMs: 10_000 });
    const outcome = await run.done;
    expect(outcome).toMatchObject({ outcome: 'checkpointed', checkpoint: 1, requeued: true });
    expect(outcome).not.toHaveProperty('signal');
    expect(requeued).toEqual(['4343']);
  });

  it('outside a Slurm job it says what to do', async () => {
    const run = superviseSlurmJob(store, { pipeline: 'true', env: {} });
    await expect(run.done).rejects.toMatchObject({ code: 'ENVIRONMENT', message: /SLURM_JOB_ID/ });
  });
});

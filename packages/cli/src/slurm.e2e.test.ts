import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SlurmRunRecord } from '@cryopipe/jobs';
import { binary, describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EncodeOptions } from '../../examples/src/encoders.ts';
import { useCli } from '../test/cli-harness.ts';
import {
  cryopipeBinDir,
  encode,
  referenceEncode,
  SLURM_REQUIREMENTS,
  SlurmCluster,
} from '../test/slurm-harness.ts';

// cryopipe slurm on a real Slurm 22.05 (slurmctld, slurmd, munged started by
// the harness): every case ends byte-identical to an uninterrupted encode.
// Phase A runs its cases as concurrent jobs on one cluster (with
// preempt_send_user_signal); phase B reconfigures without it.

const SHORT = 240;
const LONG = 400;
// Case 5's TERM comes only at GraceTime's end, after slurmctld's preemption
// pass. Unpaced, a 240-frame encode (~10 s) and then a 720-frame one (32 s,
// in CI) finished first and Slurm recorded TIMEOUT. This one is paced by
// ffmpeg -re at 12 frames a second: 60 s however fast the machine is.
const LONGEST = 720;
const PACED = { realTimeFps: 12 };

interface Case {
  name: string;
  id: string;
  out: string;
  frames: number;
}

describeWith(
  [...SLURM_REQUIREMENTS, binary('sbatch')],
  'cryopipe slurm on a real Slurm cluster',
  () => {
    const { cli, cliWith, dir, home } = useCli();
    let cluster: SlurmCluster;
    let bin = '';
    const refs = new Map<number, Promise<Buffer>>();
    const timings: string[] = [];

    beforeAll(async () => {
      bin = cryopipeBinDir(dir);
      cluster = await SlurmCluster.start({ preemptSendUserSignal: true });
      // Uninterrupted references, encoded while the jobs run.
      for (const frames of [SHORT, LONG]) refs.set(frames, referenceEncode(dir, frames));
      refs.set(LONGEST, referenceEncode(dir, LONGEST, PACED));
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
      if (timings.length) process.stdout.write(`slurm timings:\n${timings.join('\n')}\n`);
    }, 60_000);

    /** Submits the sbatch script `cryopipe slurm --sbatch` prints, as is, with extra sbatch options. */
    function submit(
      name: string,
      frames: number,
      sbatchArgs: string[],
      slurmArgs: string[] = [],
      options: EncodeOptions = {},
    ): Case {
      const out = join(dir, `${name}.ivf`);
      const made = cli(
        'slurm',
        '--sbatch',
        '--name',
        name,
        ...slurmArgs,
        '--',
        ...encode(out, frames, options),
      );
      expect(made.status, made.stderr).toBe(0);
      const script = join(dir, `${name}.sbatch`);
      writeFileSync(script, made.stdout);
      const id = cluster.sbatch([`--chdir=${dir}`, ...sbatchArgs, script], {
        PATH: `${bin}:${process.env.PATH}`,
        CRYOPIPE_HOME: home,
      });
      return { name, id, out, frames };
    }

    const log = (c: Case) => {
      try {
        return readFileSync(join(dir, `cryopipe-${c.id}.log`), 'utf8');
      } catch {
        return '(no log yet)';
      }
    };

    /** Waits until the job runs and its output has grown for a while. */
    async function encoding(c: Case, bytes = 20_000): Promise<void> {
      await cluster.waitForJob(c.id, (j) => j.state === 'RUNNING', 'start');
      const deadline = Date.now() + 120_000;
      while (!existsSync(c.out) || statSync(c.out).size < bytes) {
        if (Date.now() > deadline) throw new Error(`${c.name}: output never grew\n${log(c)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    function jobId(name: string): string {
      const job = (cli('ps', '--json').json() as { id: string; name?: string }[]).find(
        (j) => j.name === name,
      );
      if (!job) throw new Error(`no cryopipe job ${name}`);
      return job.id;
    }

    function runs(c: Case): SlurmRunRecord[] {
      return JSON.parse(readFileSync(join(home, 'jobs', jobId(c.name), 'slurm.json'), 'utf8')).runs;
    }

    /** The job completed (exit 0), after at least one restart, byte-identical to the reference. */
    async function completedIdentical(c: Case): Promise<SlurmRunRecord[]> {
      const done = await cluster.waitForJob(
        c.id,
        (j) => !['RUNNING', 'PENDING', 'REQUEUED', 'COMPLETING', 'REQUEUE_HOLD'].includes(j.state),
        'end',
        300_000,
      );
      expect(done, log(c)).toMatchObject({ state: 'COMPLETED', exitCode: '0:0' });
      expect(done.restarts).toBeGreaterThanOrEqual(1);
      const ref = await refs.get(c.frames)!;
      expect(readFileSync(c.out).equals(ref), `${c.name}: output differs from the reference`).toBe(
        true,
      );
      const r = runs(c);
      expect(r.at(-1)?.end, log(c)).toMatchObject({ outcome: 'finished', exitCode: 0 });
      return r;
    }

    /** The first run ended by a stopping checkpoint on `signal`; the second restored it. */
    function checkpointedThenRestored(c: Case, r: SlurmRunRecord[], signal: string): void {
      expect(r[0], log(c)).toMatchObject({
        action: 'started',
        end: { outcome: 'checkpointed', signal },
      });
      expect(r[1]).toMatchObject({
        action: 'restored',
        from: r[0]!.end!.checkpoint,
        restartCount: 1,
      });
      const requeueToRestored = Date.parse(r[1]!.at) + r[1]!.ms - Date.parse(r[0]!.end!.at);
      timings.push(
        `${c.name}: ${signal} → checkpoint on disk ${Math.round(r[0]!.end!.checkpointMs!)} ms; ` +
          `requeue → restored ${Math.round(requeueToRestored)} ms (restore ${Math.round(r[1]!.ms)} ms)`,
      );
    }

    // Phase A: four cases at once.
    const cases: Record<string, Promise<Case>> = {};
    beforeAll(() => {
      // 1. scancel --signal=USR1 --batch: checkpoint, requeue, restore.
      cases.usr1 = (async () => {
        const c = submit('usr1', SHORT, ['--partition=main']);
        await encoding(c);
        cluster.run('scancel', ['--signal=USR1', '--batch', c.id]);
        return c;
      })();
      // 2. The time limit with --signal=B:USR1@30: Slurm won't requeue a time-out; cryopipe does.
      cases.timeout = (async () => {
        const c = submit(
          'timeout',
          LONG,
          ['--partition=main', '--time=1'],
          ['--warn-seconds', '30'],
        );
        return c;
      })();
      // 3. Preemption by a higher-priority partition, preempt_send_user_signal set.
      cases.preempt = (async () => {
        const c = submit('preempt', SHORT, ['--partition=low', '--cpus-per-task=4']);
        await encoding(c);
        cluster.sbatch([
          '--partition=high',
          '--cpus-per-task=5',
          `--chdir=${dir}`,
          '--wrap',
          'sleep 8',
        ]);
        return c;
      })();
      // 4. SIGKILL of the whole job, no warning: resumes from the last periodic checkpoint.
      cases.kill = (async () => {
        const c = submit(
          'kill',
          SHORT,
          ['--partition=main'],
          ['--checkpoint-every', '4s', '--keep', '100'],
        );
        await encoding(c);
        const cps = () => {
          try {
            return readdirSync(join(home, 'jobs', jobId(c.name), 'checkpoints')).filter((n) =>
              /^\d+$/.test(n),
            );
          } catch {
            return [];
          }
        };
        const deadline = Date.now() + 120_000;
        while (cps().length === 0) {
          if (Date.now() > deadline) throw new Error(`kill: no periodic checkpoint\n${log(c)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        await new Promise((r) => setTimeout(r, 2500));
        killedAt.set(c.name, Date.now());
        expect(cluster.killJobProcesses(c.id)).toBeGreaterThan(0);
        await cluster.waitForJob(c.id, (j) => !['RUNNING', 'COMPLETING'].includes(j.state), 'kill');
        // Killed without warning, the job failed: requeue it as a user (or a node failure) would.
        cluster.run('scontrol', ['requeue', c.id]);
        return c;
      })();
      // 6. scancel (TERM, a cancel): checkpointed, the requeue refused; resubmitted, it goes on.
      cases.cancel = (async () => {
        const c = submit('cancel', SHORT, ['--partition=main']);
        await encoding(c);
        cluster.run('scancel', [c.id]);
        return c;
      })();
      for (const p of Object.values(cases)) p.catch(() => {}); // awaited by each test
    });
    const killedAt = new Map<string, number>();

    it('1: scancel --signal=USR1 --batch checkpoints, requeues and resumes; wait says checkpointed', async () => {
      const c = await cases.usr1!;
      // Between the runs: hold the requeued job, and ask cryopipe what the job is.
      await cluster.waitForJob(
        c.id,
        (j) => j.restarts >= 1 && j.state === 'PENDING',
        'requeue',
        60_000,
      );
      cluster.run('scontrol', ['hold', c.id]);
      const w = cli('wait', c.name, '--json');
      expect(w.json(), w.stderr).toMatchObject({ state: 'checkpointed' });
      const ps = cli('ps', '--json')
        .json()
        .find((j: { name?: string }) => j.name === c.name);
      expect(ps).toMatchObject({
        state: 'checkpointed',
        slurm: {
          jobId: c.id,
          runs: 1,
          lastRun: {
            action: 'started',
            end: { outcome: 'checkpointed', signal: 'SIGUSR1', requeued: true },
          },
        },
      });
      expect(cli('ps').stdout).toMatch(
        new RegExp(
          `is Slurm job ${c.id}: run 1 on \\S+, started, ended in checkpoint \\d+ \\(SIGUSR1\\), requeued`,
        ),
      );
      cluster.run('scontrol', ['release', c.id]);
      const r = await completedIdentical(c);
      checkpointedThenRestored(c, r, 'SIGUSR1');
      expect(r[0]!.end!.requeued).toBe(true);
      expect(r).toHaveLength(2);
    }, 360_000);

    it('2: the time limit with --signal=B:USR1@30: cryopipe requeues the timed-out job itself', async () => {
      const c = await cases.timeout!;
      const r = await completedIdentical(c);
      checkpointedThenRestored(c, r, 'SIGUSR1');
      // Every run but the last ended in a checkpoint it requeued itself.
      for (const run of r.slice(0, -1))
        expect(run.end).toMatchObject({ outcome: 'checkpointed', requeued: true });
    }, 360_000);

    it('3: preemption with preempt_send_user_signal: USR1 at preemption, resumed after', async () => {
      const c = await cases.preempt!;
      const r = await completedIdentical(c);
      checkpointedThenRestored(c, r, 'SIGUSR1');
    }, 360_000);

    it('4: SIGKILL of the whole job: resumes from the last periodic checkpoint, losing less than an interval', async () => {
      const c = await cases.kill!;
      const r = await completedIdentical(c);
      expect(r[0]!.end, 'a SIGKILLed run records no end').toBeUndefined();
      expect(r[1]).toMatchObject({ action: 'restored', restartCount: 1 });
      const cp = JSON.parse(
        readFileSync(
          join(home, 'jobs', jobId(c.name), 'checkpoints', String(r[1]!.from), 'checkpoint.json'),
          'utf8',
        ),
      );
      // Taken at most one interval (4 s) plus one checkpoint's duration before the kill.
      const lostMs = killedAt.get(c.name)! - Date.parse(cp.takenAt);
      expect(lostMs).toBeLessThan(4000 + cp.dumpMs + 3000);
      timings.push(
        `kill: restored checkpoint ${r[1]!.from}, taken ${lostMs} ms before the SIGKILL`,
      );
    }, 360_000);

    it('6: scancel checkpoints on the TERM and ends the job; the same script submitted again goes on from there', async () => {
      const c = await cases.cancel!;
      const ended = await cluster.waitForJob(
        c.id,
        (j) => !['RUNNING', 'PENDING', 'COMPLETING'].includes(j.state),
        'cancel',
      );
      expect(ended, log(c)).toMatchObject({ state: 'CANCELLED', restarts: 0 });
      const first = runs(c)[0]!;
      expect(first.end, log(c)).toMatchObject({
        outcome: 'checkpointed',
        signal: 'SIGTERM',
        requeued: false,
      });
      expect(cli('wait', c.name, '--json').json()).toMatchObject({ state: 'checkpointed' });
      // A new Slurm job (no SLURM_RESTART_COUNT) with the same --name restores the checkpoint.
      const again: Case = {
        ...c,
        id: cluster.sbatch([`--chdir=${dir}`, '--partition=main', join(dir, `${c.name}.sbatch`)], {
          PATH: `${bin}:${process.env.PATH}`,
          CRYOPIPE_HOME: home,
        }),
      };
      const done = await cluster.waitForJob(
        again.id,
        (j) => !['RUNNING', 'PENDING', 'COMPLETING'].includes(j.state),
        'end',
        300_000,
      );
      expect(done, log(again)).toMatchObject({ state: 'COMPLETED', exitCode: '0:0', restarts: 0 });
      expect(readFileSync(c.out).equals(await refs.get(c.frames)!), 'output differs').toBe(true);
      expect(runs(c)[1]).toMatchObject({
        action: 'restored',
        from: first.end!.checkpoint,
        restartCount: 0,
      });
    }, 360_000);

    it('5: preemption without preempt_send_user_signal: checkpoint on the TERM at GraceTime end', async () => {
      await Promise.allSettled(Object.values(cases));
      // Phase B needs the other cases done: the setting is cluster-wide.
      for (const name of ['usr1', 'timeout', 'preempt', 'kill', 'cancel']) {
        const c = await cases[name]!.catch(() => undefined);
        if (c)
          await cluster
            .waitForJob(
              c.id,
              (j) => ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(j.state),
              'end',
              300_000,
            )
            .catch(() => {});
      }
      cluster.reconfigure({ preemptSendUserSignal: false, graceTime: 5 });
      const c = submit('graceterm', LONGEST, ['--partition=low', '--cpus-per-task=4'], [], PACED);
      await encoding(c);
      cluster.sbatch([
        '--partition=high',
        '--cpus-per-task=5',
        `--chdir=${dir}`,
        '--wrap',
        'sleep 5',
      ]);
      const r = await completedIdentical(c);
      checkpointedThenRestored(c, r, 'SIGTERM');
    }, 600_000);

    it('refuses to run outside a Slurm job, naming what to do', () => {
      const r = cliWith({ SLURM_JOB_ID: '' }, 'slurm', '--', 'true');
      expect(r.status).toBe(5);
      expect(r.stderr).toMatch(/not inside a Slurm job[\s\S]*--sbatch/);
    });
  },
);

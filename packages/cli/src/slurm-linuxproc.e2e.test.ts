import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useCli } from '../test/cli-harness.ts';
import {
  cryopipeBinDir,
  encode,
  referenceEncode,
  SLURM_REQUIREMENTS,
  SlurmCluster,
} from '../test/slurm-harness.ts';

// proctrack/linuxproc follows processes by parentage: a restored pipeline
// (re-parented to PID 1 when criu exits) is outside the job, and survives
// it. cryopipe slurm kills such a leftover before its next restore.

const FRAMES = 240;

describeWith(SLURM_REQUIREMENTS, 'cryopipe slurm under proctrack/linuxproc', () => {
  const { cli, dir, home } = useCli();
  let cluster: SlurmCluster;
  let ref: Promise<Buffer>;
  let bin = '';

  beforeAll(async () => {
    bin = cryopipeBinDir(dir);
    cluster = await SlurmCluster.start({ preemptSendUserSignal: false, proctrack: 'linuxproc' });
    ref = referenceEncode(dir, FRAMES);
    ref.catch(() => {});
  }, 60_000);
  afterAll(() => cluster?.stop(), 60_000);

  const trackedPids = (id: string) =>
    cluster
      .run('scontrol', ['listpids', id])
      .split('\n')
      .slice(1)
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .filter((n) => n > 0);
  const ppid = (pid: number) =>
    Number(
      readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ')[1],
    );
  const alive = (pid: number) =>
    existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

  it('a restored pipeline escapes a SIGKILLed job; the next run kills it and restores, byte-identical', async () => {
    const out = join(dir, 'lp.ivf');
    const made = cli('slurm', '--sbatch', '--name', 'lp', '--', ...encode(out, FRAMES));
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(join(dir, 'lp.sbatch'), made.stdout);
    const id = cluster.sbatch([`--chdir=${dir}`, join(dir, 'lp.sbatch')], {
      PATH: `${bin}:${process.env.PATH}`,
      CRYOPIPE_HOME: home,
    });
    const log = () => readFileSync(join(dir, `cryopipe-${id}.log`), 'utf8');
    await cluster.waitForJob(id, (j) => j.state === 'RUNNING', 'start');
    const grown = async (bytes: number) => {
      const deadline = Date.now() + 120_000;
      while (!existsSync(out) || statSync(out).size < bytes) {
        if (Date.now() > deadline) throw new Error(`output never grew to ${bytes}\n${log()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await grown(20_000);
    cluster.run('scancel', ['--signal=USR1', '--batch', id]);
    await cluster.waitForJob(id, (j) => j.restarts === 1 && j.state === 'RUNNING', 'restart');
    const deadline = Date.now() + 120_000;
    while (!/restored job lp/.test(log())) {
      if (Date.now() > deadline) throw new Error(`no restore\n${log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(log()).toMatch(/note: proctrack\/linuxproc/);
    const job = cli('ps', '--json')
      .json()
      .find((j: { name?: string }) => j.name === 'lp');
    const tree: number = job.rootPid;
    // Outside the job: re-parented to PID 1, not among the pids Slurm tracks.
    expect(ppid(tree)).toBe(1);
    const tracked = trackedPids(id);
    expect(tracked).not.toContain(tree);
    // The job dies without warning (its cryopipe SIGKILLed); the pipeline survives it.
    const batch = tracked.filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node');
    expect(batch).toHaveLength(1);
    const size = statSync(out).size;
    process.kill(batch[0]!, 'SIGKILL');
    await cluster.waitForJob(id, (j) => j.state === 'FAILED', 'failure', 60_000);
    expect(alive(tree)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(statSync(out).size, 'the escaped pipeline still writes').toBeGreaterThanOrEqual(size);
    // Kept from finishing on its own before the next run starts (requeue →
    // start took up to 36 s under load): stopped, it is still a leftover.
    for (const pid of treeOf(tree)) process.kill(pid, 'SIGSTOP');
    // The next run of the job kills the leftover, restores, and finishes.
    cluster.run('scontrol', ['requeue', id]);
    const done = await cluster.waitForJob(
      id,
      (j) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(j.state) && j.restarts === 2,
      'end',
      300_000,
    );
    expect(done, log()).toMatchObject({ state: 'COMPLETED', exitCode: '0:0' });
    expect(log()).toMatch(/killing the pipeline an earlier run of Slurm job \d+ left behind/);
    expect(alive(tree)).toBe(false);
    expect(readFileSync(out).equals(await ref), 'output differs from the reference').toBe(true);
  }, 400_000);
});

/** `pid` and every descendant, from /proc. */
function treeOf(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(treeOf)];
}

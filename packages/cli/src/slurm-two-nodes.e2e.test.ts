import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { SlurmRunRecord } from '@cryopipe/jobs';
import { binary, describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useCli } from '../test/cli-harness.ts';
import {
  cryopipeBinDir,
  encode,
  referenceEncode,
  SLURM_REQUIREMENTS,
  SlurmCluster,
} from '../test/slurm-harness.ts';

// A job moves between nodes: checkpointed on node1 (this machine), requeued,
// and restored by a second slurmd, node2, in its own network and UTS
// namespaces, both nodes sharing the file system (the job store).

const FRAMES = 400;

describeWith(
  [...SLURM_REQUIREMENTS, binary('ip'), binary('nsenter'), binary('unshare')],
  'cryopipe slurm: a job moves to a second node',
  () => {
    const { cli, dir, home } = useCli();
    let cluster: SlurmCluster;
    let ref: Promise<Buffer>;
    let bin = '';

    beforeAll(async () => {
      bin = cryopipeBinDir(dir);
      cluster = await SlurmCluster.start({ preemptSendUserSignal: false, secondNode: true });
      ref = referenceEncode(dir, FRAMES);
      ref.catch(() => {});
    }, 90_000);
    afterAll(() => cluster?.stop(), 60_000);

    const netnsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`); // net:[INODE]
    const utsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/uts`);
    /** Processes of the job on `node` (proctrack/cgroup: the step's freezer cgroup and below). */
    const jobPids = (node: string, id: string): number[] => {
      const walk = (d: string): number[] => {
        try {
          const here = readFileSync(join(d, 'cgroup.procs'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(Number);
          return readdirSync(d, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .reduce((all, e) => all.concat(walk(join(d, e.name))), here);
        } catch {
          return [];
        }
      };
      return walk(`/sys/fs/cgroup/freezer/slurm_${node}/uid_0/job_${id}`);
    };
    const comm = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    };

    it('checkpointed on node1, restored on node2 (its network namespace), byte-identical', async () => {
      const n2 = cluster.node2!;
      const out = join(dir, 'move.ivf');
      const made = cli('slurm', '--sbatch', '--name', 'move', '--', ...encode(out, FRAMES));
      expect(made.status, made.stderr).toBe(0);
      const script = join(dir, 'move.sbatch');
      writeFileSync(script, made.stdout);
      const id = cluster.sbatch(
        [`--chdir=${dir}`, '--partition=main', `--nodelist=${cluster.node}`, script],
        { PATH: `${bin}:${process.env.PATH}`, CRYOPIPE_HOME: home },
      );
      const log = () => {
        try {
          return readFileSync(join(dir, `cryopipe-${id}.log`), 'utf8');
        } catch {
          return '(no log yet)';
        }
      };

      // Running on node1, output growing: warn it.
      await cluster.waitForJob(id, (j) => j.state === 'RUNNING', 'start');
      const deadline = Date.now() + 120_000;
      while (!existsSync(out) || statSync(out).size < 20_000) {
        if (Date.now() > deadline) throw new Error(`output never grew\n${log()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      cluster.run('scancel', ['--signal=USR1', '--batch', id]);

      // Requeued: hold it, move it to node2, release it.
      await cluster.waitForJob(
        id,
        (j) => j.restarts >= 1 && j.state === 'PENDING',
        'requeue',
        60_000,
      );
      cluster.run('scontrol', ['hold', id]);
      cluster.run('scontrol', [
        'update',
        `JobId=${id}`,
        `NodeList=${n2.name}`,
        `ExcNodeList=${cluster.node}`,
      ]);
      cluster.run('scontrol', ['release', id]);

      // The restored pipeline runs in node2's namespaces, not in this test's.
      const restored = Date.now() + 120_000;
      let encoders: number[] = [];
      for (;;) {
        encoders = jobPids(n2.name, id).filter((p) => ['ffmpeg', 'aomenc'].includes(comm(p)));
        if (encoders.length > 0) break;
        const j = cluster.job(id);
        if (
          Date.now() > restored ||
          !['PENDING', 'RUNNING', 'REQUEUED', 'CONFIGURING'].includes(j.state)
        )
          throw new Error(`no restored encoder on ${n2.name} (job ${JSON.stringify(j)})\n${log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const node2Net = `net:[${statSync(`/run/netns/${n2.netns}`).ino}]`;
      expect(netnsOf(process.pid)).not.toBe(node2Net);
      for (const pid of encoders) {
        expect(netnsOf(pid), `${comm(pid)} ${pid}`).toBe(node2Net);
        expect(utsOf(pid)).not.toBe(utsOf(process.pid));
      }

      const done = await cluster.waitForJob(
        id,
        (j) => !['RUNNING', 'PENDING', 'REQUEUED', 'COMPLETING', 'REQUEUE_HOLD'].includes(j.state),
        'end',
        300_000,
      );
      expect(done, log()).toMatchObject({ state: 'COMPLETED', exitCode: '0:0', restarts: 1 });
      expect(readFileSync(out).equals(await ref), 'output differs from the reference').toBe(true);

      const job = (cli('ps', '--json').json() as { id: string; name?: string }[]).find(
        (j) => j.name === 'move',
      )!;
      const runs: SlurmRunRecord[] = JSON.parse(
        readFileSync(join(home, 'jobs', job.id, 'slurm.json'), 'utf8'),
      ).runs;
      expect(runs, log()).toHaveLength(2);
      expect(runs[0]).toMatchObject({
        node: cluster.node,
        action: 'started',
        end: { outcome: 'checkpointed', signal: 'SIGUSR1' },
      });
      expect(runs[1]).toMatchObject({
        node: n2.name,
        action: 'restored',
        from: runs[0]!.end!.checkpoint,
        restartCount: 1,
        end: { outcome: 'finished', exitCode: 0 },
      });
    }, 420_000);
  },
);

// Fault matrix row 4: restoring while the old pids are taken.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, until } from '../../test/cli-harness.ts';
import {
  killQuietly,
  occupyPid,
  pidExists,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: old pids taken at restore', () => {
  const { home, cli, stoppedCountingJob } = useFaultCli();

  async function stoppedJob(name: string, n: number, plain: boolean) {
    const job = await stoppedCountingJob(name, n, { plain });
    const meta = JSON.parse(readFileSync(join(job.cpDir, 'checkpoint.json'), 'utf8'));
    return { ...job, meta };
  }

  it('PID-namespace mode: restores although another process holds the old root pid', async () => {
    const job = await stoppedJob('pidns', 300, false);
    await until(() => !pidExists(job.rootPid), 'the old root pid to be reaped');
    // Whoever holds the old pid (our sleep, or a process that took it first).
    const squatter = await occupyPid(job.rootPid, { acceptTaken: true });
    try {
      const rs = cli('restore', 'pidns', '--json');
      expect(rs.status, rs.stderr).toBe(0);
      expect(rs.json().rootPid).not.toBe(job.rootPid);
      await untilFinished(home, job.id);
      expect(cli('wait', 'pidns').status).toBe(0);
      expect(readFileSync(job.out, 'utf8')).toBe(expectedCount(300));
    } finally {
      killQuietly(squatter?.pid);
    }
  });

  it('plain mode: waits, then fails naming the taken pid; restores once it is free', async () => {
    const job = await stoppedJob('plain', 300, true);
    const treePids = job.meta.treePids as number[];
    expect(treePids).toContain(job.rootPid);
    expect(treePids.length).toBeGreaterThanOrEqual(3); // launcher and two stages
    // A stage's pid, not the root's: every pid of the tree must be free.
    const victim = treePids.filter((p) => p !== job.rootPid).at(-1)!;
    await until(() => treePids.every((p) => !pidExists(p)), 'the old pids to be reaped');
    const squatter = (await occupyPid(victim))!; // throws rather than return undefined
    let failedAfterMs: number;
    try {
      const t0 = Date.now();
      const rs = cli('restore', 'plain');
      failedAfterMs = Date.now() - t0;
      expect(rs.status).toBe(1);
      expect(rs.stderr).toMatch(
        new RegExp(`PID ${victim} \\(sleep\\) needed by the restore is still taken after 5 s`),
      );
      expect(rs.stderr).toMatch(/without a PID namespace/);
      expect(processesWith(job.marker)).toEqual([]);
    } finally {
      killQuietly(squatter.pid);
    }
    expect(failedAfterMs).toBeGreaterThanOrEqual(5000); // it waited before giving up
    await until(() => !pidExists(victim), 'the squatter to be gone');
    const rs = cli('restore', 'plain', '--json');
    expect(rs.status, rs.stderr).toBe(0);
    expect(rs.json().rootPid).toBe(job.rootPid); // plain mode gets its old pids back
    await untilFinished(home, job.id);
    const waited = cli('wait', 'plain', '--json');
    expect(waited.status, waited.stdout + waited.stderr).toBe(0);
    expect(readFileSync(job.out, 'utf8')).toBe(expectedCount(300));
  });
});

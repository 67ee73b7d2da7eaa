// Fault matrix row 4, the other side: a job's recorded root pid now belongs to another job.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { until } from '../../test/cli-harness.ts';
import { checkpointsOf, jobDir, processState, useFaultCli } from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: reused root pids', () => {
  const { home, cli } = useFaultCli();

  it("never checkpoints another job's tree through a stale pid, and restores despite it", async () => {
    const a = cli('run', '--name', 'stale', '--json', '--', 'sleep', '1000');
    const b = cli('run', '--name', 'holder', '--json', '--', 'sleep', '1000');
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const cp = cli('checkpoint', 'stale');
    expect(cp.status, cp.stderr).toBe(0);
    await until(() => processState(a.json().rootPid) === undefined, "a's tree to be gone");

    // As if a's old pid had been handed to b's launcher.
    const jobJson = join(jobDir(home, a.json().id), 'job.json');
    const record = JSON.parse(readFileSync(jobJson, 'utf8'));
    writeFileSync(jobJson, JSON.stringify({ ...record, rootPid: b.json().rootPid }), {
      mode: 0o600,
    });

    const again = cli('checkpoint', 'stale');
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/job \w+ is not running, so there is nothing to checkpoint/);
    expect(checkpointsOf(home, a.json().id)).toEqual(['1']);
    expect(processState(b.json().rootPid)?.state).toMatch(/[RS]/); // b untouched

    const rs = cli('restore', 'stale', '--json');
    expect(rs.status, rs.stderr).toBe(0);
    expect(rs.json().rootPid).not.toBe(b.json().rootPid);
  });
});

// Fault matrix rows 14 and 15: `restore` and `checkpoint` SIGKILLed at each phase.
// Afterwards ps, wait, checkpoint and restore agree on where the job stands, at
// most one copy of it ever runs, and it finishes with exactly its output.
import { existsSync, readFileSync } from 'node:fs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until } from '../../test/cli-harness.ts';
import { processesWith, processState, useFaultCli } from '../../test/fault-harness.ts';

const RESTORE_PHASES = ['verified', 'criu-running', 'criu-returned', 'finalizing'] as const;
const CHECKPOINT_PHASES = ['verified', 'criu-running', 'criu-returned', 'finalizing'] as const;

describeWith([root, criu], 'fault matrix: restore and checkpoint killed at every phase', () => {
  const { cli, dir, start, stoppedCountingJob } = useFaultCli();
  const n = 300;

  /** Runs `cryopipe ARGS` until it stops itself at `point`, then SIGKILLs it there. */
  async function killAt(point: string, args: string[]): Promise<string> {
    const { child, done } = start(args, { env: { CRYOPIPE_FAULT_POINT: point } });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    await until(
      () => stderr.includes(`fault point ${point}`) && processState(child.pid!)?.state === 'T',
      `${args[0]} to reach ${point}`,
      120_000,
    );
    child.kill('SIGKILL');
    await done;
    return stderr;
  }

  /** The stage-1 shells of a job: more than one would mean it runs twice. */
  const shellsOf = (marker: string) =>
    processesWith(marker).filter(
      (pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sh',
    );

  /** ps, restore and wait agree with /proc; the job then finishes exactly once. */
  async function expectConsistentThenFinish(name: string, marker: string, out: string) {
    // criu finishing its own work after we died (resuming or killing a tree) takes a moment.
    await new Promise((r) => setTimeout(r, 1500));
    const alive = shellsOf(marker);
    expect(alive.length, `copies of ${name} running`).toBeLessThanOrEqual(1);
    const ps = (
      cli('ps', '--json').json() as { name: string; state: string; rootPid?: number }[]
    ).find((j) => j.name === name)!;
    expect(ps.state, JSON.stringify(ps)).toBe(alive.length ? 'running' : 'checkpointed');
    const again = cli('restore', name);
    if (alive.length) {
      expect(again.status, again.stderr).toBe(1);
      expect(again.stderr).toContain(`is running (pid ${ps.rootPid})`);
    } else {
      expect(again.status, again.stderr).toBe(0);
    }
    expect(shellsOf(marker).length).toBe(1);
    const waited = cli('wait', name);
    expect(waited.status, waited.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
    expect(
      cli('ps', '--json')
        .json()
        .find((j: { name: string }) => j.name === name).state,
    ).toBe('exited');
  }

  for (const phase of RESTORE_PHASES) {
    it(`14: restore SIGKILLed at ${phase}: one copy at most, ps/restore/wait agree, output identical`, async () => {
      const name = `r-${phase}`;
      const { marker, out } = await stoppedCountingJob(name, n);
      const stderr = await killAt(`restore:${phase}`, ['restore', name]);
      expect(stderr).toContain(`fault point restore:${phase}`);
      await expectConsistentThenFinish(name, marker, out);
    });
  }

  for (const phase of CHECKPOINT_PHASES) {
    it(`15: checkpoint SIGKILLed at ${phase}: the job runs or a complete checkpoint exists, never lost`, async () => {
      const name = `c-${phase}`;
      const marker = `${name}-${process.pid}`;
      const started = cli(
        'run',
        '--name',
        name,
        '--',
        'sh',
        '-c',
        `${slowCounter(n)} # ${marker}`,
        '|',
        'cat',
        '>',
        `${name}.txt`,
      );
      expect(started.status, started.stderr).toBe(0);
      const out = `${dir}/${name}.txt`;
      await until(() => existsSync(out) && readFileSync(out, 'utf8').length > 100, 'some output');
      await killAt(`checkpoint:${phase}`, ['checkpoint', name]);
      await expectConsistentThenFinish(name, marker, out);
    });
  }
});

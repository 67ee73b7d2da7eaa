import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

interface PsJob {
  id: string;
  name?: string;
  state: string;
  rootPid: number;
  copyOf?: { job: string; checkpoint: number };
  outputs: { path: string }[];
}

describeWith([root, criu], 'cryopipe restore --as (two restores of one checkpoint)', () => {
  const { cli, dir, home } = useCli();
  const n = 400;
  // Stage 1 also says goodbye on stderr, which lands in the job's own stage log.
  const pipeline = [
    'sh',
    '-c',
    `${slowCounter(n)}; echo finished >&2`,
    '|',
    'cat',
    '>',
    'count.txt',
  ];
  const ps = () => cli('ps', '--json').json() as PsJob[];

  it('runs the original and a copy of one checkpoint at once; both finish identical to an uninterrupted run', async () => {
    const started = cli('run', '--name', 'orig', '--json', '--', ...pipeline);
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'count.txt');
    await until(() => existsSync(out) && statSync(out).size > 300, 'some output');
    const cp = cli('checkpoint', 'orig');
    expect(cp.status, cp.stderr).toBe(0);
    const atCheckpoint = statSync(out).size;

    const first = cli('restore', 'orig', '--json');
    expect(first.status, first.stderr).toBe(0);
    expect(first.json().moved).toEqual([]); // in place: nothing moves
    const copyOut = join(dir, 'copy-out');
    const second = cli('restore', 'orig', '--as', 'copy', '--output-dir', copyOut, '--json');
    expect(second.status, second.stderr).toBe(0);
    const copy = second.json();
    expect(copy.copyOf).toBe(started.json().id);
    const copyDir = join(home, 'jobs', copy.id);
    expect(copy.moved).toEqual(
      expect.arrayContaining([
        { from: out, to: join(copyOut, 'count.txt') },
        { from: join(home, 'jobs', started.json().id, 'run'), to: join(copyDir, 'run') },
      ]),
    );
    // Both trees are alive at the same moment, with different pids.
    const both = ps().filter((j) => j.state === 'running');
    expect(both.map((j) => j.name).sort()).toEqual(['copy', 'orig']);
    expect(new Set(both.map((j) => j.rootPid)).size).toBe(2);
    const copyRow = both.find((j) => j.name === 'copy')!;
    expect(copyRow.copyOf).toEqual({ job: started.json().id, checkpoint: 1 });
    expect(copyRow.outputs.map((o) => o.path)).toEqual([join(copyOut, 'count.txt')]);
    expect(statSync(join(copyOut, 'count.txt')).size).toBeGreaterThanOrEqual(atCheckpoint);

    const waitedOrig = cli('wait', 'orig');
    const waitedCopy = cli('wait', 'copy');
    expect(waitedOrig.status, waitedOrig.stderr).toBe(0);
    expect(waitedCopy.status, waitedCopy.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
    expect(readFileSync(join(copyOut, 'count.txt'), 'utf8')).toBe(expectedCount(n));
    // Each launcher wrote its own status and each stage its own log: nothing was shared.
    for (const name of ['orig', 'copy']) {
      expect(ps().find((j) => j.name === name)?.state).toBe('exited');
      const log = cli('logs', name, '--stage', '1');
      expect(log.stdout.match(/finished/g), `${name}: ${log.stdout}`).toHaveLength(1);
    }
    expect(statSync(join(copyDir, 'run')).mode & 0o777).toBe(0o700);
  });

  it('refuses a copy that would overwrite a file, or of a job without a PID namespace, leaving nothing behind', async () => {
    const taken = join(dir, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'count.txt'), 'mine\n');
    const jobsBefore = readdirSync(join(home, 'jobs')).sort();
    const clash = cli('restore', 'orig', '--as', 'clash', '--output-dir', taken);
    expect(clash.status).toBe(6);
    expect(clash.stderr).toMatch(/count\.txt already exists; a copy of the job never overwrites/);
    expect(readFileSync(join(taken, 'count.txt'), 'utf8')).toBe('mine\n');
    expect(readdirSync(join(home, 'jobs')).sort()).toEqual(jobsBefore);

    // Without --output-dir the copy's outputs live in its own job directory, and ps says so.
    const again = cli('restore', 'orig', '--as', 'again', '--json');
    expect(again.status, again.stderr).toBe(0);
    const againOut = join(home, 'jobs', again.json().id, 'outputs', 'count.txt');
    expect(
      ps()
        .find((j) => j.name === 'again')
        ?.outputs.map((o) => o.path),
    ).toEqual([againOut]);
    expect(cli('wait', 'again').status).toBe(0);
    expect(readFileSync(againOut, 'utf8')).toBe(expectedCount(n));
    expect(cli('rm', 'again').status).toBe(0);

    const usage = cli('restore', 'orig', '--output-dir', taken);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--output-dir only applies to a copy/);

    const plain = cli('run', '--name', 'plain', '--no-pid-namespace', '--', 'sleep', '600');
    expect(plain.status, plain.stderr).toBe(0);
    expect(cli('checkpoint', 'plain').status).toBe(0);
    const refused = cli('restore', 'plain', '--as', 'plain-copy');
    expect(refused.status).toBe(6);
    expect(refused.stderr).toMatch(/without a PID namespace[\s\S]*restore it in place/);
    expect(ps().some((j) => j.name === 'plain-copy')).toBe(false);
    expect(cli('restore', 'plain').status).toBe(0);
    expect(cli('kill', 'plain', '-s', 'KILL').status).toBe(0);
  });
});

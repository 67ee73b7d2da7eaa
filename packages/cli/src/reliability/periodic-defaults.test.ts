// Fault matrix row 28: periodic checkpoints keep 3 by default, skip when the disk can't take
// another, and a staged checkpoint killed half-way leaves nothing in the staging dir for long.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { slowCounter, until } from '../../test/cli-harness.ts';
import {
  jobDir,
  memoryHog,
  pidExists,
  processesWith,
  processState,
  useFaultCli,
} from '../../test/fault-harness.ts';

const complete = (home: string, id: string) =>
  readdirSync(join(jobDir(home, id), 'checkpoints'))
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);

const logOf = (home: string, id: string) => {
  try {
    return readFileSync(join(jobDir(home, id), 'periodic', 'checkpointer.log'), 'utf8');
  } catch {
    return '';
  }
};

describeWith([root, criu], 'fault matrix: periodic checkpoint defaults', () => {
  const { dir, home, cli, run, start, mountTmpfs } = useFaultCli();

  it('28 --checkpoint-every without --keep keeps the newest 3', async () => {
    const started = cli(
      'run',
      '--json',
      '--checkpoint-every',
      '1s',
      '--',
      'sh',
      '-c',
      slowCounter(100_000, 50),
      '>',
      'kept.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const { id, schedule, checkpointerPid } = started.json();
    expect(schedule).toEqual({ everyMs: 1000, keep: 3 });
    await until(
      () => logOf(home, id).includes('removed checkpoints 2 (keep 3)'),
      'a fifth checkpoint and the second one removed',
      150_000,
    );
    expect(cli('schedule', id, '--off').status).toBe(0);
    await until(() => !pidExists(checkpointerPid), 'the checkpointer to exit');
    const kept = complete(home, id);
    expect(kept).toHaveLength(3);
    expect(kept[0]).toBeGreaterThanOrEqual(3);
    const ps = (cli('ps', '--json').json() as { id: string; checkpoints: number }[]).find(
      (j) => j.id === id,
    );
    expect(ps?.checkpoints).toBe(3);
  });

  it('28 skips a periodic checkpoint that would not fit, says why, and the job runs on', async () => {
    const small = mountTmpfs(join(dir, 'small-home'), '40m');
    const opts = { home: small };
    const marker = `tight-${process.pid}`;
    const started = run(
      [
        'run',
        '--json',
        '--checkpoint-every',
        '1s',
        '--',
        'sh',
        '-c',
        `${slowCounter(100_000, 50)} # ${marker}`,
        '>',
        'tight.txt',
      ],
      opts,
    );
    expect(started.status, started.stderr).toBe(0);
    const { id, checkpointerPid } = started.json();
    await until(
      () => logOf(small, id).includes('checkpoint skipped'),
      'a skipped checkpoint',
      120_000,
    );
    expect(logOf(small, id)).toMatch(
      /checkpoint skipped: only [\d.]+ MiB free in .*\/checkpoints, and checkpoint 1 took [\d.]+ [KM]iB: the next one needs about [\d.]+ MiB; free space or lower --keep/,
    );
    expect(complete(small, id)).toEqual([1]);
    const state = JSON.parse(
      readFileSync(join(jobDir(small, id), 'periodic', 'state.json'), 'utf8'),
    );
    expect(state.lastError.message).toMatch(/^only .* free in /);
    expect(processesWith(marker).length).toBeGreaterThan(0);
    const size = statSync(join(dir, 'tight.txt')).size;
    await until(() => statSync(join(dir, 'tight.txt')).size > size, 'the job to keep writing');
    expect(run(['schedule', id, '--off'], opts).status).toBe(0);
    await until(() => !pidExists(checkpointerPid), 'the checkpointer to exit');
  });

  it('28 a staged checkpoint SIGKILLed half-way: its image set is removed by the next checkpoint', async () => {
    const staging = join(dir, 'staging');
    mkdirSync(staging, { mode: 0o700 });
    // A set whose writer lives (this test process) is not garbage, whatever its name says.
    const living = join(staging, `cryopipe-0123abcd-1-${process.pid}`);
    mkdirSync(living);
    const marker = `staged-${process.pid}`;
    const started = cli('run', '--json', '--', ...memoryHog(300, marker), '>', 'staged.txt');
    expect(started.status, started.stderr).toBe(0);
    const { id } = started.json();
    await until(() => existsSync(join(dir, 'staged.txt')), 'the job to start');
    const first = start(['checkpoint', id, '--leave-running', '--staging-dir', staging]);
    const set = join(staging, `cryopipe-${id}-1-${first.child.pid}`);
    const bytes = (d: string) =>
      existsSync(d) ? readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0) : 0;
    await until(() => bytes(set) > 20 * 2 ** 20, 'criu to be writing the staged images');
    first.child.kill('SIGKILL');
    await first.done;
    // criu finishes or gives up on its own; the job must be running, untraced, again.
    await until(
      () =>
        processesWith(marker).every((p) => {
          const st = processState(p);
          return st !== undefined && /[RSD]/.test(st.state) && st.tracerPid === 0;
        }),
      'the job to run again',
    );
    await until(() => !existsSync(`/proc/${first.child.pid}`), 'the killed CLI to be gone');
    expect(existsSync(set)).toBe(true); // nobody cleaned up after the killed checkpoint

    const second = cli('checkpoint', id, '--leave-running', '--staging-dir', staging, '--json');
    expect(second.status, second.stderr).toBe(0);
    expect(readdirSync(staging).sort()).toEqual([`cryopipe-0123abcd-1-${process.pid}`]);
    rmSync(living, { recursive: true });
  });
});

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

describeWith([root, criu], 'periodic live checkpoints', () => {
  const { cli, dir, home } = useCli();

  /** Complete checkpoints on disk (partial dumps are .tmp-*), ascending. */
  const complete = (id: string) =>
    readdirSync(join(home, 'jobs', id, 'checkpoints'))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  const checkpointerOf = (id: string): number | undefined =>
    (cli('ps', '--json').json() as { id: string; schedule?: { checkpointerPid?: number } }[]).find(
      (j) => j.id === id,
    )?.schedule?.checkpointerPid;

  it('SIGKILLed between periodic checkpoints, restores from the newest, keeps exactly N, output identical', async () => {
    const n = 1000;
    const started = cli(
      'run',
      '--json',
      '--checkpoint-every',
      '2s',
      '--keep',
      '2',
      '--',
      'sh',
      '-c',
      slowCounter(n, 20),
      '>',
      'count.txt',
    );
    expect(started.status).toBe(0);
    const { id, rootPid, schedule } = started.json();
    expect(schedule).toEqual({ everyMs: 2000, keep: 2 });

    await until(() => checkpointerOf(id) !== undefined, 'the checkpointer to report in');
    const checkpointer = checkpointerOf(id)!;
    // Its own session and no terminal, stdin from /dev/null: nothing ties it to the job.
    const stat = readFileSync(`/proc/${checkpointer}/stat`, 'utf8');
    const [, ppid, , sid] = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    expect(sid).toBe(checkpointer);
    expect(ppid).not.toBe(rootPid);
    expect(readlinkSync(`/proc/${checkpointer}/fd/0`)).toBe('/dev/null');

    await until(() => (complete(id).at(-1) ?? 0) >= 3, 'three periodic checkpoints', 120_000);
    process.kill(rootPid, 'SIGKILL');
    await until(() => checkpointerOf(id) === undefined, 'the checkpointer to exit with the job');
    const kept = complete(id);
    expect(kept).toHaveLength(2);
    expect(kept[0]).toBeLessThan(kept[1]!);
    expect(cli('ps', '--json').json()[0].state).toBe('lost');

    const restored = cli('restore', id, '--json');
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.json().from).toBe(kept[1]);
    // The schedule comes back with the job.
    await until(() => checkpointerOf(id) !== undefined, 'the checkpointer to restart');

    const waited = cli('wait', id);
    expect(waited.status, waited.stderr).toBe(0);
    expect(readFileSync(join(dir, 'count.txt'), 'utf8')).toBe(expectedCount(n));
    await until(() => checkpointerOf(id) === undefined, 'the checkpointer to exit after the job');
    expect(complete(id)).toHaveLength(2);
    expect(complete(id)[1]).toBeGreaterThanOrEqual(kept[1]!);
  });

  it('refuses bad schedules before starting anything', () => {
    for (const [args, message] of [
      [['--checkpoint-every', '5'], /duration like 90s/],
      [['--checkpoint-every', '0s'], /at least 1s/],
      [['--keep', '2'], /--keep only applies with --checkpoint-every/],
      [['--checkpoint-every', '1m', '--keep', '0'], /--keep needs a whole number/],
      [['--staging-dir', '/dev/shm'], /--staging-dir only applies with --checkpoint-every/],
    ] as const) {
      const r = cli('run', ...args, '--', 'true');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(cli('ps', '--json').json()).toHaveLength(1); // only the job of the test above
  });
  it('schedule starts and stops checkpoints of a running job, which keeps running', async () => {
    const started = cli('run', '--json', '--', 'sleep', '600');
    const { id, rootPid } = started.json();
    const on = cli(
      'schedule',
      id,
      '--every',
      '1s',
      '--keep',
      '1',
      '--staging-dir',
      '/dev/shm',
      '--json',
    );
    expect(on.status, on.stderr).toBe(0);
    expect(on.json().schedule).toEqual({ everyMs: 1000, keep: 1, stagingDir: '/dev/shm' });
    await until(
      () => complete(id).length === 1 && complete(id)[0]! >= 2,
      'a second scheduled checkpoint, the first one removed',
      120_000,
    );
    const off = cli('schedule', id, '--off');
    expect(off.status, off.stderr).toBe(0);
    await until(() => checkpointerOf(id) === undefined, 'the checkpointer to stop');
    // Staged in memory, then moved into the store once the job ran again.
    const newest = join(home, 'jobs', id, 'checkpoints', String(complete(id)[0]));
    const meta = JSON.parse(readFileSync(join(newest, 'checkpoint.json'), 'utf8'));
    expect(meta).toMatchObject({ stagedIn: '/dev/shm', leaveRunning: true });
    expect(readdirSync('/dev/shm').filter((n) => n.startsWith(`cryopipe-${id}-`))).toEqual([]);
    const job = (cli('ps', '--json').json() as { id: string }[]).find((j) => j.id === id);
    expect(job).toMatchObject({ state: 'running' });
    expect(job).not.toHaveProperty('schedule');
    process.kill(rootPid, 'SIGKILL');
  });
});

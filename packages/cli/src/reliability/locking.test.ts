// Fault matrix rows 6 and 26: one operation on a job at a time, and no stale lock ever.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { acquireLock } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { until } from '../../test/cli-harness.ts';
import {
  jobDir,
  killQuietly,
  memoryHog,
  processesWith,
  useFaultCli,
} from '../../test/fault-harness.ts';

const packageDir = resolve(import.meta.dirname, '../..');
const holderScript = resolve(packageDir, 'test/lock-holder.ts');

/** A separate process taking the lock; resolves with its first line of output. */
function holder(
  lockPath: string,
  operation: string,
): { child: ChildProcess; said: Promise<string> } {
  // node itself (tsx as a loader, not its wrapper process), so the pid is the holder's.
  const child = spawn(process.execPath, ['--import', 'tsx', holderScript, lockPath, operation], {
    cwd: packageDir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const said = new Promise<string>((resolveLine) => {
    let text = '';
    child.stdout!.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolveLine(text.split('\n')[0]!);
    });
    child.on('close', () => resolveLine(text.split('\n')[0] ?? ''));
  });
  return { child, said };
}

describe('fault matrix: the job lock itself', () => {
  const { dir } = useFaultCli();

  it('lets exactly one of many racing processes in, and frees itself when the holder is SIGKILLed', async () => {
    const lockPath = join(dir, 'job', 'lock');
    mkdirSync(join(dir, 'job'), { recursive: true });
    const racers = Array.from({ length: 6 }, (_, i) => holder(lockPath, `racer-${i}`));
    try {
      const lines = await Promise.all(racers.map((r) => r.said));
      expect(lines.filter((l) => l === 'locked')).toHaveLength(1);
      const winner = racers[lines.indexOf('locked')]!;
      for (const l of lines.filter((x) => x !== 'locked'))
        expect(l).toMatch(/^busy 4: the job is busy: racer-\d by pid \d+ since /);
      expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(winner.child.pid);

      // The holder dies without releasing: the next caller gets the lock at once.
      winner.child.kill('SIGKILL');
      await new Promise((r) => winner.child.once('close', r));
      const release = await acquireLock(lockPath, 'after-crash');
      expect(JSON.parse(readFileSync(lockPath, 'utf8')).operation).toBe('after-crash');
      release();
      expect(existsSync(lockPath)).toBe(false);
    } finally {
      for (const r of racers) killQuietly(r.child.pid);
    }
  });

  it("26 races over a dead holder's socket: exactly one of six wins, the dead socket is swept", async () => {
    const lockPath = join(dir, 'job3', 'lock');
    mkdirSync(join(dir, 'job3'), { recursive: true, mode: 0o700 });
    const first = holder(lockPath, 'doomed');
    expect(await first.said).toBe('locked');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('close', r));
    const sockets = () =>
      readdirSync(join(dir, 'job3')).filter((n) => /^lock\.(live|held)-/.test(n));
    // Its socket files stay behind (a dead process can't unlink them) but refuse connections.
    expect(sockets().some((n) => n.startsWith(`lock.live-${first.child.pid}-`))).toBe(true);
    const racers = Array.from({ length: 6 }, (_, i) => holder(lockPath, `racer-${i}`));
    try {
      const lines = await Promise.all(racers.map((r) => r.said));
      expect(
        lines.filter((l) => l === 'locked'),
        lines.join('\n'),
      ).toHaveLength(1);
      const winner = racers[lines.indexOf('locked')]!;
      for (const l of lines.filter((x) => x !== 'locked'))
        expect(l).toMatch(/^busy 4: the job is busy: racer-\d by pid \d+ since /);
      expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid).toBe(winner.child.pid);
      expect(sockets().sort()).toEqual(
        [`lock.held-${winner.child.pid}-`, `lock.live-${winner.child.pid}-`]
          .map((prefix) => sockets().find((n) => n.startsWith(prefix))!)
          .sort(),
      );
    } finally {
      for (const r of racers) killQuietly(r.child.pid);
    }
  });

  it('waits for a busy lock when asked to, bounded', async () => {
    const lockPath = join(dir, 'job2', 'lock');
    mkdirSync(join(dir, 'job2'), { recursive: true });
    const first = await acquireLock(lockPath, 'first');
    const second = acquireLock(lockPath, 'second', { waitMs: 60_000 });
    setTimeout(first, 300);
    const release = await second;
    expect(JSON.parse(readFileSync(lockPath, 'utf8')).operation).toBe('second');
    release();
    const held = await acquireLock(lockPath, 'held');
    await expect(acquireLock(lockPath, 'late', { waitMs: 300 })).rejects.toThrow(
      /the job is busy: held by pid/,
    );
    held();
  });
});

describeWith([root, criu], 'fault matrix: concurrent operations on one job', () => {
  const { dir, home, cli, start } = useFaultCli();

  it('a second checkpoint while one runs fails with exit 4 naming the holder; so does one during a restore', async () => {
    const marker = `locked-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'locked',
      '--json',
      '--',
      ...memoryHog(300, marker),
      '>',
      'locked.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'locked.txt');
    await until(() => existsSync(out) && statSync(out).size > 10, 'the job to start counting');
    const lockPath = join(jobDir(home, started.json().id), 'lock');
    const heldBy = (operation: string) => () =>
      existsSync(lockPath) && readFileSync(lockPath, 'utf8').includes(`"${operation}"`);

    const first = start(['checkpoint', 'locked']);
    await until(heldBy('checkpoint'), 'the first checkpoint to take the lock');
    const second = cli('checkpoint', 'locked', '--leave-running');
    expect(second.status).toBe(4);
    expect(second.stderr).toMatch(
      new RegExp(`the job is busy: checkpoint by pid ${first.child.pid} since `),
    );
    const firstDone = await first.done;
    expect(firstDone.status, firstDone.stderr).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');

    const restoring = start(['restore', 'locked']);
    await until(heldBy('restore'), 'the restore to take the lock');
    const during = cli('checkpoint', 'locked');
    expect(during.status).toBe(4);
    expect(during.stderr).toMatch(
      new RegExp(`the job is busy: restore by pid ${restoring.child.pid}`),
    );
    const restored = await restoring.done;
    expect(restored.status, restored.stderr).toBe(0);
    expect(existsSync(lockPath)).toBe(false);

    // And once the restore is done, checkpointing works again.
    const after = cli('checkpoint', 'locked', '--leave-running', '--json');
    expect(after.status, after.stderr).toBe(0);
    expect(after.json().checkpoint).toBe(2);
  });
});

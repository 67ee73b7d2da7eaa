import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

/** The criu CLI's own answer, the witness for what `--pre-dump auto` should decide. */
const kernelTracksMemory = () =>
  spawnSync('criu', ['check', '--feature', 'mem_dirty_track'], { stdio: 'ignore' }).status === 0;

describeWith([root, criu], 'cryopipe checkpoint --staging-dir and --pre-dump', () => {
  const { cli, dir, home } = useCli();
  // A tmpfs, as a user would pick: images land in memory first.
  const staging = mkdtempSync('/dev/shm/cryopipe-test-');
  afterAll(() => rmSync(staging, { recursive: true, force: true }));
  const checkpointsOf = (id: string) =>
    readdirSync(join(home, 'jobs', id, 'checkpoints')).filter((n) => /^\d+$/.test(n));

  it('stages a live checkpoint in a fast directory, moves it after the job resumed, restores identically', async () => {
    const n = 400;
    const started = cli('run', '--json', '--', 'sh', '-c', slowCounter(n), '>', 'count.txt');
    expect(started.status, started.stderr).toBe(0);
    const { id, rootPid } = started.json();
    const out = join(dir, 'count.txt');
    await until(() => existsSync(out) && statSync(out).size > 300, 'some output');

    const cp = cli('checkpoint', id, '--leave-running', '--staging-dir', staging, '--json');
    expect(cp.status, cp.stderr).toBe(0);
    const record = cp.json();
    expect(record.stagedIn).toBe(staging);
    expect(record.moveMs).toBeGreaterThan(0);
    expect(record.frozenMs).toBeGreaterThan(0);
    expect(readdirSync(staging)).toEqual([]); // nothing left behind in the staging directory
    const images = join(home, 'jobs', id, 'checkpoints', '1');
    expect(readdirSync(images)).toEqual(expect.arrayContaining(['pstree.img', 'checkpoint.json']));
    expect(statSync(images).mode & 0o777).toBe(0o700);
    const human = cli('checkpoint', id, '--leave-running', '--staging-dir', staging);
    expect(human.stdout).toMatch(
      /frozen [\d.]+ m?s \(freezing .*, memdump .*, memwrite .*, cryopipe [\d.]+ m?s\)/,
    );
    expect(human.stdout).toMatch(/images moved from .* after the job resumed/);

    // Crash after the first checkpoint, come back from it: the staged images are complete.
    process.kill(rootPid, 'SIGKILL');
    await until(() => cli('ps', '--json').json()[0].state === 'lost', 'the job to be lost');
    expect(cli('restore', id, '--from', '1').status).toBe(0);
    expect(cli('wait', id).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
  });

  it('refuses staging for a stopping checkpoint and unknown pre-dump modes (exit 2), job untouched', async () => {
    const started = cli('run', '--json', '--', 'sleep', '600');
    const { id, rootPid } = started.json();
    const stopping = cli('checkpoint', id, '--staging-dir', staging);
    expect(stopping.status).toBe(2);
    expect(stopping.stderr).toMatch(/only works for live checkpoints \(--leave-running\)/);
    const bogus = cli('checkpoint', id, '--pre-dump', 'sometimes');
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toMatch(/--pre-dump takes auto, never or always, not 'sometimes'/);
    expect(checkpointsOf(id)).toEqual([]);
    expect(existsSync(`/proc/${rootPid}`)).toBe(true);
    expect(cli('kill', id, '-s', 'KILL').status).toBe(0);
  });

  it("pre-dumps exactly when criu says the kernel tracks dirty memory, and a forced pre-dump that can't work leaves the job running", async () => {
    const started = cli(
      'run',
      '--json',
      '--',
      'sh',
      '-c',
      slowCounter(100_000, 20),
      '>',
      'pre.txt',
    );
    const { id, rootPid } = started.json();
    await until(() => existsSync(join(dir, 'pre.txt')), 'the job to start');
    const tracks = kernelTracksMemory();

    const auto = cli('checkpoint', id, '--leave-running', '--json');
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.json().preDump.used).toBe(tracks);
    if (!tracks) expect(auto.json().preDump.why).toMatch(/CONFIG_MEM_SOFT_DIRTY/);
    expect(existsSync(join(home, 'jobs', id, 'checkpoints', '1', 'pre'))).toBe(tracks);

    const never = cli('checkpoint', id, '--leave-running', '--pre-dump', 'never', '--json');
    expect(never.json().preDump).toEqual({ used: false, why: 'turned off (--pre-dump never)' });

    const always = cli('checkpoint', id, '--leave-running', '--pre-dump', 'always', '--json');
    if (tracks) {
      expect(always.status, always.stderr).toBe(0);
      expect(readdirSync(join(home, 'jobs', id, 'checkpoints', '3'))).toContain('parent');
    } else {
      // criu refuses before touching the tree; the job runs on, no checkpoint 3.
      expect(always.status).toBe(1);
      expect(always.stderr).toMatch(/Tracking memory is not available/);
      expect(always.stderr).toMatch(/still running/);
      expect(checkpointsOf(id).sort()).toEqual(['1', '2']);
      const size = statSync(join(dir, 'pre.txt')).size;
      await until(() => statSync(join(dir, 'pre.txt')).size > size, 'the job to keep writing');
    }
    expect(existsSync(`/proc/${rootPid}`)).toBe(true);
    expect(cli('kill', id, '-s', 'KILL').status).toBe(0);
  });
});

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { cliPath, expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

describe('cryopipe without a job', () => {
  const { cli, home } = useCli();

  it('explains itself', () => {
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*checkpoint[\s\S]*Exit codes:/);
    const runHelp = cli('run', '--help');
    expect(runHelp.stdout).toMatch(/Usage: cryopipe run[\s\S]*Examples:/);
    expect(cli('--version').stdout).toMatch(/^cryopipe \d+\.\d+\.\d+/);
  });

  it('rejects bad usage with exit 2 and starts nothing', () => {
    const unknown = cli('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const empty = cli('run');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/no pipeline given/);
    const bad = cli('run', 'cat | | gzip');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/stage 2 has no command/);
    const opt = cli('ps', '--bogus');
    expect(opt.status).toBe(2);
    expect(existsSync(join(home, 'jobs')) ? readdirSync(join(home, 'jobs')) : []).toEqual([]);
  });

  it('says when a job does not exist (exit 3)', () => {
    const r = cli('wait', 'nosuchjob');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/no job 'nosuchjob'/);
    expect(cli('ps', '--json').json()).toEqual([]);
  });
});

describeWith([root, criu], 'cryopipe on real jobs', () => {
  const { cli, dir, home } = useCli();

  it('runs a pipeline, reports pipefail status, keeps logs', () => {
    const ok = cli(
      'run',
      '--wait',
      '--json',
      '--',
      'sh',
      '-c',
      'echo hello; echo oops >&2',
      '|',
      'tr',
      'a-z',
      'A-Z',
      '>',
      'up.txt',
    );
    expect(ok.status).toBe(0);
    expect(readFileSync(join(dir, 'up.txt'), 'utf8')).toBe('HELLO\n');
    const { id } = ok.json();
    expect(cli('logs', id, '--stage', '1').stdout).toBe('oops\n');

    const failed = cli('run', '--wait', 'sh -c "exit 3" | cat');
    expect(failed.status).toBe(3);
    const jobs = cli('ps', '--json').json() as { state: string; exitCode?: number }[];
    expect(jobs.map((j) => j.state).sort()).toEqual(['exited', 'failed']);
  });

  it('keeps stdout and stderr in one file with 2>&1', () => {
    const r = cli('run', '--wait', `sh -c 'echo a; echo b >&2; echo c' > both.txt 2>&1`);
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'both.txt'), 'utf8')).toBe('a\nb\nc\n');
  });

  it('checkpoints, stops and restores a job; output identical to an uninterrupted run', async () => {
    const n = 300;
    const started = cli(
      'run',
      '--name',
      'stop-restore',
      '--json',
      '--',
      'sh',
      '-c',
      slowCounter(n),
      '|',
      'cat',
      '>',
      'counted.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'counted.txt');
    await until(() => existsSync(out) && statSync(out).size > 200, 'some output');

    const diag = cli('diagnose', String(started.json().rootPid), '--json');
    expect(diag.status, diag.stdout).toBe(0);
    expect(diag.json().dumpable).toBe(true);

    const cp = cli('checkpoint', 'stop-restore', '--json');
    expect(cp.status, cp.stderr).toBe(0);
    const record = cp.json();
    expect(record.checkpoint).toBe(1);
    expect(record.imageBytes).toBeGreaterThan(0);
    expect(record.files.map((f: { path: string }) => f.path)).toContain(out);
    expect(
      (cli('ps', '--json').json() as { name: string; state: string }[]).find(
        (j) => j.name === 'stop-restore',
      )?.state,
    ).toBe('checkpointed');

    // Images are private: every directory 0700.
    const cpDir = join(home, 'jobs', started.json().id, 'checkpoints', '1');
    expect(statSync(cpDir).mode & 0o777).toBe(0o700);

    const rs = cli('restore', 'stop-restore', '--json');
    expect(rs.status, rs.stderr).toBe(0);
    expect(rs.json().rootPid).not.toBe(started.json().rootPid); // fresh PID thanks to the PID namespace
    const done = cli('wait', 'stop-restore');
    expect(done.status, done.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
  });

  it('after a live checkpoint and a crash, cuts the grown output back and restores identically', async () => {
    const n = 300;
    const started = cli(
      'run',
      '--name',
      'live',
      '--',
      'sh',
      '-c',
      slowCounter(n),
      '|',
      'cat',
      '>',
      'live.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'live.txt');
    await until(() => existsSync(out) && statSync(out).size > 200, 'some output');
    const cp = cli('checkpoint', 'live', '--leave-running', '--json');
    expect(cp.status, cp.stderr).toBe(0);
    const sizeAtCheckpoint = cp.json().files.find((f: { path: string }) => f.path === out).size;
    await until(() => statSync(out).size > sizeAtCheckpoint + 50, 'output past the checkpoint');
    expect(cli('kill', 'live', '-s', 'KILL').status).toBe(0);
    await until(
      () =>
        (cli('ps', '--json').json() as { name: string; state: string }[]).find(
          (j) => j.name === 'live',
        )?.state === 'lost',
      'the job to die',
    );

    const rs = cli('restore', 'live');
    expect(rs.status, rs.stderr).toBe(0);
    expect(rs.stderr).toMatch(/live\.txt: cut back from \d+ to \d+ bytes/);
    expect(cli('wait', 'live').status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
  });

  it('refuses unsafe images and changed outputs, leaving the images intact', async () => {
    const started = cli(
      'run',
      '--name',
      'guarded',
      '--json',
      '--',
      'sh',
      '-c',
      slowCounter(1000),
      '|',
      'cat',
      '>',
      'guarded.txt',
    );
    expect(started.status).toBe(0);
    const out = join(dir, 'guarded.txt');
    await until(() => existsSync(out) && statSync(out).size > 100, 'some output');
    const cp = cli('checkpoint', 'guarded');
    expect(cp.status, cp.stderr).toBe(0);
    const cpDir = join(home, 'jobs', started.json().id, 'checkpoints', '1');
    // The background sealer hashes the images: a chmod before it read them would leave them unsealed.
    expect(await waitForSealer(cpDir, 60_000)).toBe(true);
    const images = readdirSync(cpDir).sort();

    const img = join(cpDir, images.find((f) => f.startsWith('pages-'))!);
    chmodSync(img, 0o666);
    const unsafe = cli('restore', 'guarded');
    expect(unsafe.status).toBe(6);
    expect(unsafe.stderr).toMatch(/writable by group and others/);
    chmodSync(img, 0o600);

    truncateSync(out, 10);
    const shrunk = cli('restore', 'guarded');
    expect(shrunk.status).toBe(6);
    expect(shrunk.stderr).toMatch(/guarded\.txt: it shrank from \d+ to 10 bytes/);
    expect(readdirSync(cpDir).sort()).toEqual(images);
    expect(
      cli('ps', '--json')
        .json()
        .find((j: { name: string }) => j.name === 'guarded').state,
    ).toBe('checkpointed');
  });

  it('stages create files with the umask cryopipe was run with, as under a shell', () => {
    for (const [mask, mode] of [
      ['077', 0o600],
      ['022', 0o644],
    ] as const) {
      const file = join(dir, `umask-${mask}.txt`);
      const r = spawnSync(
        'sh',
        [
          '-c',
          `umask ${mask}; exec "$0" "$@"`,
          process.execPath,
          cliPath,
          'run',
          '--wait',
          '--json',
          `echo hi > ${file}`,
        ],
        { cwd: dir, encoding: 'utf8', env: { ...process.env, CRYOPIPE_HOME: home } },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(statSync(file).mode & 0o777, mask).toBe(mode);
      const job = JSON.parse(
        readFileSync(join(home, 'jobs', JSON.parse(r.stdout).id, 'job.json'), 'utf8'),
      );
      expect(job.umask).toBe(Number.parseInt(mask, 8));
    }
  });

  it('doctor says this machine can checkpoint', () => {
    const r = cli('doctor', '--json');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const report = r.json();
    expect(report.verdict).not.toBe('fail');
    expect(report.checks.find((c: { name: string }) => c.name === 'criu').detail).toMatch(
      /version 4\./,
    );
  });
});

// Fault matrix row 8: as a user other than root, a clear error before anything happens.
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcherPath } from '@cryopipe/spawn';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { slowCounter, until } from '../../test/cli-harness.ts';
import { untilFinished, useFaultCli } from '../../test/fault-harness.ts';

const NOBODY = 65534;

describeWith([root, criu, binary('setpriv')], 'fault matrix: not root', () => {
  const { dir, cli, run } = useFaultCli();
  // nobody's own directory: the CLI's work dir and job home when it runs as nobody.
  const mine = mkdtempSync(join(tmpdir(), 'cryopipe-nobody-'));
  chownSync(mine, NOBODY, NOBODY);
  afterAll(() => rmSync(mine, { recursive: true, force: true }));
  // The launcher's own executable check (access(2)) ignores capabilities for a
  // non-root uid, so nobody gets a copy it can reach, through the documented override.
  const bin = mkdtempSync(join(tmpdir(), 'cryopipe-nobody-bin-'));
  chmodSync(bin, 0o755);
  afterAll(() => rmSync(bin, { recursive: true, force: true }));
  const launcher = join(bin, 'cryopipe-launch');
  copyFileSync(launcherPath(), launcher);
  chmodSync(launcher, 0o755);
  const asNobody = (...args: string[]) =>
    run(args, {
      user: NOBODY,
      cwd: mine,
      home: join(mine, 'home'),
      env: { CRYOPIPE_LAUNCHER: launcher },
    });

  it('checkpoint and restore refuse at once (exit 5) and touch nothing', async () => {
    // A root job that nobody tries to checkpoint through root's home.
    const started = cli(
      'run',
      '--name',
      'rootjob',
      '--',
      'sh',
      '-c',
      slowCounter(2000),
      '>',
      'r.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    await until(() => existsSync(join(dir, 'r.txt')), 'the job to start');
    for (const op of ['checkpoint', 'restore']) {
      const r = run([op, 'rootjob'], { user: NOBODY, cwd: mine });
      expect(r.status, r.stderr).toBe(5);
      expect(r.stderr).toMatch(new RegExp(`^error: ${op} needs root .*you are uid ${NOBODY}`, 'm'));
      expect(r.stderr).toMatch(/hint: run cryopipe with sudo/);
    }
    const jobs = cli('ps', '--json').json() as {
      name: string;
      state: string;
      checkpoints: number;
    }[];
    expect(jobs.find((j) => j.name === 'rootjob')).toMatchObject({
      state: 'running',
      checkpoints: 0,
    });
    expect(readdirSync(mine)).toEqual([]); // no home, no lock, no temporary directory
  });

  it('run works without root in plain mode and says what that means', async () => {
    const r = asNobody('run', '--json', '--', 'sh', '-c', 'id -u', '>', 'uid.txt');
    expect(r.status, r.stderr).toBe(0);
    await untilFinished(join(mine, 'home'), r.json().id);
    expect(asNobody('wait', r.json().id).status).toBe(0);
    expect(r.stderr).toMatch(
      /warning: not root: the job runs without a PID namespace, and checkpoint and restore will need root/,
    );
    expect(readFileSync(join(mine, 'uid.txt'), 'utf8')).toBe(`${NOBODY}\n`);
    const job = JSON.parse(
      readFileSync(join(mine, 'home', 'jobs', r.json().id, 'job.json'), 'utf8'),
    );
    expect(job.pidNamespace).toBe(false);
    const cp = asNobody('checkpoint', r.json().id);
    expect(cp.status).toBe(5);
  });
});

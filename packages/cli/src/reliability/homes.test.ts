// Fault matrix rows 25–27: hostile or odd homes, locks other users can't take, unique names.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until } from '../../test/cli-harness.ts';
import {
  jobDir,
  killQuietly,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

const NOBODY = 65534;

/**
 * As nobody: what an unprivileged user can do against root's job directory.
 * It binds the abstract socket name cryopipe's lock used to have (computable
 * from the job's path), tries to plant a lock socket and a file in the job
 * directory, prints what happened as one JSON line and stays alive, holding
 * whatever it got.
 */
const SQUATTER = `
const net = require('node:net'), fs = require('node:fs'), crypto = require('node:crypto');
const dir = process.argv[1];
const out = { uid: process.getuid() };
const digest = crypto.createHash('sha256').update(dir).digest('hex').slice(0, 32);
try { fs.writeFileSync(dir + '/lock.live-1-000000000000', ''); out.plant = 'planted'; }
catch (e) { out.plant = e.code; }
const inDir = net.createServer();
inDir.on('error', (e) => { out.bindInDir = e.code; abstract(); });
inDir.listen(dir + '/lock.live-2-000000000000', () => { out.bindInDir = 'bound'; abstract(); });
function abstract() {
  const s = net.createServer();
  s.on('error', (e) => { out.abstract = e.code; say(); });
  s.listen('\\0cryopipe-lock-' + digest, () => { out.abstract = 'bound'; say(); });
}
function say() { process.stdout.write(JSON.stringify(out) + '\\n'); setInterval(() => {}, 1 << 30); }
`;

function squatter(dir: string): { child: ChildProcess; said: Promise<Record<string, unknown>> } {
  const child = spawn(
    'setpriv',
    [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      process.execPath,
      '-e',
      SQUATTER,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const said = new Promise<Record<string, unknown>>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(JSON.parse(text.split('\n')[0]!));
    });
    child.on('close', (code) => reject(new Error(`the squatter exited (${code}): ${text}`)));
  });
  return { child, said };
}

describeWith([root, criu, binary('setpriv')], 'fault matrix: hostile or odd homes', () => {
  const { dir, home, cli, run, killAfterAll } = useFaultCli();

  it('25 refuses a home or jobs/ directory another user owns or can write, before anything starts', () => {
    const cases: { name: string; prepare: (h: string) => void; says: RegExp }[] = [
      {
        name: 'owned-by-nobody',
        prepare: (h) => chownSync(h, NOBODY, NOBODY),
        says: /the cryopipe home .*: it is owned by uid 65534, not by you \(uid 0\) or root/,
      },
      {
        name: 'world-writable',
        prepare: (h) => chmodSync(h, 0o777),
        says: /the cryopipe home .*: it can be written by its group and others \(mode 777\)/,
      },
      {
        name: 'sticky-tmp-like',
        prepare: (h) => chmodSync(h, 0o1777),
        says: /the cryopipe home .*: it can be written by its group and others \(mode 1777\)/,
      },
      {
        name: 'jobs-group-writable',
        prepare: (h) => {
          mkdirSync(join(h, 'jobs'), { mode: 0o700 });
          chmodSync(join(h, 'jobs'), 0o770);
        },
        says: /the jobs directory .*\/jobs: it can be written by its group \(mode 770\)/,
      },
    ];
    for (const c of cases) {
      const h = join(dir, `hostile-${c.name}`);
      mkdirSync(h, { mode: 0o700 });
      c.prepare(h);
      const marker = `hostile-${c.name}-${process.pid}`;
      const r = run(['run', '--name', 'x', '--', 'sh', '-c', `sleep 60 # ${marker}`], { home: h });
      expect(r.status, `${c.name}: ${r.stderr}`).toBe(6);
      expect(r.stderr, c.name).toMatch(new RegExp(`^error: refusing to use ${c.says.source}`, 'm'));
      expect(r.stderr, c.name).toMatch(/^hint: make it yours and private/m);
      expect(processesWith(marker), c.name).toEqual([]);
      const jobs = join(h, 'jobs');
      expect(existsSync(jobs) ? readdirSync(jobs) : [], c.name).toEqual([]);
      expect(existsSync(join(h, 'names')), c.name).toBe(false);
      // doctor says so too, without creating anything.
      const doctor = run(['doctor', '--json'], { home: h });
      const check = (
        doctor.json().checks as { name: string; verdict: string; detail: string }[]
      ).find((x) => x.name === 'home');
      expect(check?.verdict, c.name).toBe('fail');
      expect(check?.detail, c.name).toMatch(/'run' refuses it/);
    }
  });

  it('25 a symlinked home and a symlinked jobs/ work: running, checkpointed, restored, finished', async () => {
    // link → real home, whose jobs/ is a symlink to a directory named otherwise.
    const realHome = join(dir, 'real-home');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(realHome, { mode: 0o700 });
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, join(realHome, 'jobs'));
    const linkHome = join(dir, 'link-home');
    symlinkSync(realHome, linkHome);
    const opts = { home: linkHome };
    const started = run(
      ['run', '--name', 'linked', '--json', '--', 'sh', '-c', slowCounter(300), '>', 'linked.txt'],
      opts,
    );
    expect(started.status, started.stderr).toBe(0);
    const id = started.json().id as string;
    killAfterAll(started.json().rootPid);
    expect(existsSync(join(elsewhere, id, 'job.json'))).toBe(true);
    const out = join(dir, 'linked.txt');
    await until(() => existsSync(out) && statSync(out).size > 50, 'some output');
    const state = () =>
      (run(['ps', '--json'], opts).json() as { id: string; state: string }[]).find(
        (j) => j.id === id,
      )?.state;
    expect(state()).toBe('running');
    const cp = run(['checkpoint', 'linked'], opts);
    expect(cp.status, cp.stderr).toBe(0);
    expect(state()).toBe('checkpointed');
    const restored = run(['restore', 'linked', '--json'], opts);
    expect(restored.status, restored.stderr).toBe(0);
    killAfterAll(restored.json().rootPid);
    expect(state()).toBe('running');
    await untilFinished(realHome, id);
    expect(run(['wait', 'linked'], opts).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(300));
  });

  it('26 nobody cannot take or block the lock of a root job; a job directory others can write is refused', async () => {
    const marker = `squatted-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'squatted',
      '--json',
      '--',
      'sh',
      '-c',
      `${slowCounter(3000)} # ${marker}`,
      '>',
      'squatted.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const id = started.json().id as string;
    const out = join(dir, 'squatted.txt');
    await until(() => existsSync(out) && statSync(out).size > 10, 'the job to start');
    const squat = squatter(jobDir(home, id));
    try {
      const said = await squat.said;
      // The old lock's abstract name is free for anyone to bind; it no longer matters.
      expect(said).toEqual({
        uid: NOBODY,
        plant: 'EACCES',
        bindInDir: 'EACCES',
        abstract: 'bound',
      });
      const cp = cli('checkpoint', 'squatted', '--leave-running', '--json');
      expect(cp.status, cp.stderr).toBe(0);
      expect(cp.json().checkpoint).toBe(1);
      expect(readdirSync(jobDir(home, id)).filter((n) => n.startsWith('lock'))).toEqual([]);

      // A job directory others could write: another user could plant or delete lock sockets.
      chmodSync(jobDir(home, id), 0o777);
      const refused = cli('checkpoint', 'squatted', '--leave-running');
      expect(refused.status, refused.stderr).toBe(6);
      expect(refused.stderr).toMatch(
        /^error: refusing to lock .*\/jobs\/[0-9a-f]+: it can be written by its group and others \(mode 777\), so another user could take or break its lock$/m,
      );
      chmodSync(jobDir(home, id), 0o700);
      expect(cli('checkpoint', 'squatted', '--leave-running').status).toBe(0);
    } finally {
      killQuietly(squat.child.pid);
    }
  });
});

describeWith([root], 'fault matrix: job names', () => {
  const { home, cli, start } = useFaultCli();

  it('27 six racing `run --name x` make exactly one job x; the rest fail with exit 2 and leave nothing', async () => {
    const marker = `named-${process.pid}`;
    const racers = Array.from({ length: 6 }, (_, i) =>
      start(['run', '--name', 'x', '--json', '--', 'sh', '-c', `sleep 120 # ${marker} ${i}`]),
    );
    const results = await Promise.all(racers.map((r) => r.done));
    const won = results.filter((r) => r.status === 0);
    expect(won, results.map((r) => r.stderr).join('\n')).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 0)) {
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe(
        "error: a job named 'x' already exists\nhint: remove it with 'cryopipe rm x' or pick another --name\n",
      );
    }
    const id = won[0]!.json().id as string;
    expect(readdirSync(join(home, 'jobs'))).toEqual([id]);
    expect(readdirSync(join(home, 'names'))).toEqual(['x']);
    expect(readdirSync(join(home, 'names', 'x'))).toEqual([id]);
    await until(() => processesWith(marker).length === 1, 'only the winner to run');

    // rm gives the name back; so does a job directory removed by hand (a stale claim).
    expect(cli('kill', 'x', '-s', 'KILL').status).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the job to end');
    expect(cli('rm', 'x').status).toBe(0);
    expect(readdirSync(join(home, 'names'))).toEqual([]);
    const again = cli('run', '--name', 'x', '--json', '--', 'true');
    expect(again.status, again.stderr).toBe(0);
    await untilFinished(home, again.json().id);
    rmSync(jobDir(home, again.json().id), { recursive: true });
    const third = cli('run', '--name', 'x', '--json', '--', 'true');
    expect(third.status, third.stderr).toBe(0);
    expect(readdirSync(join(home, 'names', 'x'))).toEqual([third.json().id]);
    expect(cli('ps', '--json').json()).toHaveLength(1);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  binary,
  criu,
  describeWith,
  type Host,
  root,
  type TwoHosts,
  twoHosts,
} from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliPath, until } from '../test/cli-harness.ts';

// `cryopipe migrate` between two "hosts" (network namespaces joined by a
// veth, one sshd each, a CRYOPIPE_HOME each; see tools/testkit/src/two-hosts.ts).
// Both share this file system, so outputs are relocated with --output-dir.

const FRAMES = 180;
/**
 * A real encode, deterministic (aomenc --passes=1 --threads=1), small enough
 * to be quick. ffmpeg -re paces it at 12 frames a second, so it runs ~15 s
 * however fast the machine is: long enough for two moves, cheap on CPU.
 */
const encode = (out: string) => [
  'ffmpeg',
  '-nostdin',
  '-loglevel',
  'error',
  '-re',
  '-f',
  'lavfi',
  '-i',
  'testsrc2=size=320x240:rate=12',
  '-frames:v',
  String(FRAMES),
  '-pix_fmt',
  'yuv420p',
  '-f',
  'yuv4mpegpipe',
  '-',
  '|',
  'aomenc',
  '--passes=1',
  '--threads=1',
  '--cpu-used=6',
  '--ivf',
  '-q',
  '-o',
  out,
  '-',
];

const remote = `${process.execPath} ${cliPath}`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read documents field by field
  json: () => any;
}

/** `cryopipe ARGS…` on `host`: inside its network namespace, with its CRYOPIPE_HOME. */
function on(host: Host, ...args: string[]): Run {
  const r = spawnSync(
    host.enter[0]!,
    [...host.enter.slice(1), process.execPath, cliPath, ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, ...host.env, NO_COLOR: '1' },
      timeout: 120_000,
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

/** `cryopipe migrate JOB DEST` arguments to reach `to`. */
function migrateArgs(to: Host, job: string, outputDir: string, extra: string[] = []): string[] {
  return [
    'migrate',
    job,
    to.dest,
    '--remote-cryopipe',
    remote,
    '--output-dir',
    outputDir,
    ...to.sshArgs, // -i KEY and -o OPT, as ssh takes them
    ...extra,
  ];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
const sizeOf = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

function jobsOn(host: Host): { id: string; name?: string; state: string; rootPid?: number }[] {
  const r = on(host, 'ps', '--json');
  expect(r.status, r.stderr).toBe(0);
  return r.json();
}

/** Nothing of a failed move is left on `host`: no job, no staging directory, no criu. */
function expectNothingOn(host: Host): void {
  expect(jobsOn(host)).toEqual([]);
  const jobsDir = join(host.home, 'jobs');
  let left: string[] = [];
  try {
    left = readdirSync(jobsDir);
  } catch {
    // Never made.
  }
  expect(left.filter((n) => !n.startsWith('.names') && n !== 'names')).toEqual([]);
}

const needs = [
  root,
  criu,
  binary('sshd'),
  binary('ssh'),
  binary('ip'),
  binary('aomenc'),
  binary('ffmpeg'),
];
describeWith(needs, 'cryopipe migrate between two hosts', () => {
  let hosts: TwoHosts;
  beforeAll(async () => {
    hosts = await twoHosts();
  }, 60_000);
  /** The same encode, uninterrupted (run alongside the migrated one, to save time). */
  function referenceEncode(): Promise<string> {
    const ref = join(hosts.dir, 'reference.ivf');
    const home = join(hosts.dir, 'home-reference');
    const child = spawn(process.execPath, [cliPath, 'run', '--wait', '--', ...encode(ref)], {
      env: { ...process.env, CRYOPIPE_HOME: home },
      stdio: 'ignore',
    });
    return new Promise((resolve, reject) =>
      child.once('exit', (code) =>
        code === 0 ? resolve(sha256(ref)) : reject(new Error(`reference encode: exit ${code}`)),
      ),
    );
  }
  afterAll(async () => {
    for (const h of [hosts?.a, hosts?.b]) {
      if (!h) continue;
      for (const j of jobsOn(h))
        if (j.rootPid && j.state === 'running') spawnSync('kill', ['-KILL', String(j.rootPid)]);
    }
    await hosts?.close();
  });

  it('moves a real encode A→B mid-way and back B→A; it finishes byte-identical', async () => {
    const outA = join(hosts.dir, 'out-a');
    const outB = join(hosts.dir, 'out-b');
    mkdirSync(outA);
    const reference = referenceEncode();
    const started = on(
      hosts.a,
      'run',
      '--name',
      'enc',
      '--json',
      '--',
      ...encode(join(outA, 'enc.ivf')),
    );
    expect(started.status, started.stderr).toBe(0);
    await until(() => sizeOf(join(outA, 'enc.ivf')) > 20_000, 'the encode to get going');

    const there = on(hosts.a, ...migrateArgs(hosts.b, 'enc', outB), '--json');
    expect(there.status, there.stderr).toBe(0);
    const moved = there.json();
    expect(moved.id).toBe(started.json().id);
    expect(moved.bytes.pages).toBeGreaterThan(1 << 20);
    expect(moved.downtime.totalMs).toBeGreaterThan(0);
    expect(moved.outputs).toEqual([{ from: join(outA, 'enc.ivf'), to: join(outB, 'enc.ivf') }]);
    expect(there.stderr).toContain('restoring on');
    console.log('A→B', moved.downtime, moved.bytes);
    // Here: migrated, not running; there: running.
    expect(jobsOn(hosts.a)).toMatchObject([{ name: 'enc', state: 'migrated' }]);
    expect(on(hosts.a, 'ps').stdout).toContain(`moved to ${hosts.b.dest}`);
    expect(jobsOn(hosts.b)).toMatchObject([{ name: 'enc', state: 'running' }]);

    const atMove = sizeOf(join(outB, 'enc.ivf'));
    await until(() => sizeOf(join(outB, 'enc.ivf')) > atMove + 20_000, 'the encode to go on at B');
    // And back: A still has the job's record (migrated), so it goes to another home's… no:
    // remove A's record first, as a user would once the job left.
    expect(on(hosts.a, 'rm', 'enc').status).toBe(0);
    const back = on(hosts.b, ...migrateArgs(hosts.a, 'enc', join(hosts.dir, 'out-a2')), '--json');
    expect(back.status, back.stderr).toBe(0);
    expect(jobsOn(hosts.b)).toMatchObject([{ name: 'enc', state: 'migrated' }]);
    console.log('B→A', back.json().downtime, back.json().bytes);

    const waited = on(hosts.a, 'wait', 'enc');
    expect(waited.status, waited.stderr).toBe(0);
    expect(sha256(join(hosts.dir, 'out-a2', 'enc.ivf'))).toBe(await reference);
  });
});

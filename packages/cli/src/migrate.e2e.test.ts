import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  binary,
  childrenOf,
  criu,
  describeWith,
  type Host,
  killJobRoot,
  root,
  type TwoHosts,
  twoHosts,
} from '@cryopipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aomenc } from '../../examples/src/encoders.ts';
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
const encode = (out: string) => aomenc.pipeline(out, FRAMES, { realTimeFps: 12 });

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

/** Whether a `cryopipe receive` of this test still runs (on either host). */
function receiverRuns(): boolean {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${cliPath}\0receive`)) return true;
    } catch {}
  }
  return false;
}

/**
 * A criu that says it is 4.1.1: it answers swrk's VERSION request on the
 * SEQPACKET socket it inherits, and fails every other request.
 */
const FAKE_CRIU = `#!/usr/bin/python3
import socket, sys
if sys.argv[1:2] == ['--version']:
    print('Version: 4.1.1'); sys.exit(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=int(sys.argv[2]))
while True:
    req = s.recv(1 << 16)
    if not req: break
    kind = req[1] if req[:1] == b'\\x08' else 0
    if kind == 10:
        version = bytes([0x08, 4, 0x10, 1, 0x20, 1])
        s.send(bytes([0x08, 10, 0x10, 1, 0x52, len(version)]) + version)
    else:
        msg = b'fake criu'
        s.send(bytes([0x08, kind, 0x10, 0, 0x4a, len(msg)]) + msg)
`;

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

/** Nothing of a failed move of `job` is left on `host`: no such job, no staging directory. */
function expectNothingOn(host: Host, job: string): void {
  expect(jobsOn(host).filter((j) => j.name === job)).toEqual([]);
  let left: string[] = [];
  try {
    left = readdirSync(join(host.home, 'jobs'));
  } catch {
    // Never made.
  }
  expect(left.filter((n) => n.startsWith('.'))).toEqual([]);
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
      for (const j of jobsOn(h)) killJobRoot(j.rootPid, j.id);
    }
    await hosts?.close();
  });

  it('moves a real encode A→B mid-way (page server) and back B→A (--via-archive); it finishes byte-identical', async () => {
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
    // And back: A's record of the job (migrated) is replaced by the one coming back.
    // Back the other way: as an export archive over the connection (--via-archive).
    const back = on(
      hosts.b,
      ...migrateArgs(hosts.a, 'enc', join(hosts.dir, 'out-a2')),
      '--via-archive',
      '--json',
    );
    expect(back.status, back.stderr).toBe(0);
    expect(jobsOn(hosts.b)).toMatchObject([{ name: 'enc', state: 'migrated' }]);
    console.log('B→A', back.json().downtime, back.json().bytes);

    const waited = on(hosts.a, 'wait', 'enc');
    expect(waited.status, waited.stderr).toBe(0);
    expect(sha256(join(hosts.dir, 'out-a2', 'enc.ivf'))).toBe(await reference);
    expect(on(hosts.b, 'rm', 'enc').status).toBe(0); // B's record of where it went
  });

  describe('a move that fails leaves the job running here and nothing there', () => {
    const out = () => join(hosts.dir, 'counter.txt');
    beforeAll(() => {
      // A job with 128 MiB of memory (so its pages take a moment to stream) that writes a line every 50 ms.
      const program = [
        'import time',
        'b = bytearray(128 << 20)',
        'for i in range(0, len(b), 4096): b[i] = 1',
        'i = 0',
        'while True:',
        '    print(i, flush=True); i += 1; time.sleep(0.05)',
      ].join('\n');
      const r = on(hosts.a, 'run', '--name', 'counter', '--', 'python3', '-c', program, '>', out());
      expect(r.status, r.stderr).toBe(0);
    });

    /** Still running on A, still writing; nothing of it on B (the receiver may take a moment to clean up). */
    async function expectStayed(): Promise<void> {
      expect(jobsOn(hosts.a).find((j) => j.name === 'counter')).toMatchObject({ state: 'running' });
      const before = sizeOf(out());
      await until(() => sizeOf(out()) > before, 'the job to write on', 10_000);
      await until(
        () => {
          let left: string[] = [];
          try {
            left = readdirSync(join(hosts.b.home, 'jobs'));
          } catch {}
          return left.filter((n) => n.startsWith('.migrate-')).length === 0 && !receiverRuns();
        },
        'the destination to clean up',
        40_000,
      );
      expectNothingOn(hosts.b, 'counter');
    }

    /** Starts `migrate counter` to B; resolves with its result; `onLine` sees its stderr lines. */
    function migrating(extra: string[], onLine: (line: string) => void = () => {}): Promise<Run> {
      const args = [
        ...hosts.a.enter,
        process.execPath,
        cliPath,
        ...migrateArgs(hosts.b, 'counter', join(hosts.dir, 'never'), extra),
      ];
      const child = spawn(args[0]!, args.slice(1), {
        env: { ...process.env, ...hosts.a.env, NO_COLOR: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => {
        stderr += c;
        for (const line of String(c).split('\n')) if (line) onLine(line);
      });
      return new Promise((resolve) =>
        child.once('close', (status) =>
          resolve({ status, stdout, stderr, json: () => JSON.parse(stdout) }),
        ),
      );
    }

    it('refuses a destination whose criu is another version', async () => {
      // A stand-in criu that answers VERSION (over swrk's SEQPACKET socket) with 4.1.1.
      const fake = join(hosts.dir, 'criu-4.1.1');
      writeFileSync(fake, FAKE_CRIU);
      chmodSync(fake, 0o755);
      const r = on(
        hosts.a,
        ...migrateArgs(hosts.b, 'counter', join(hosts.dir, 'never')).map((a) =>
          a === remote ? `CRIU_BIN=${fake} ${remote}` : a,
        ),
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/the destination has criu 4\.1\.1, the source criu 4\.2/);
      await expectStayed();
    });

    it('refuses a destination without the space for the job', async () => {
      const small = join(hosts.dir, 'small');
      mkdirSync(small);
      spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=700', 'tmpfs', small]);
      try {
        const r = on(
          hosts.a,
          ...migrateArgs(hosts.b, 'counter', join(hosts.dir, 'never')).map((a) =>
            a === remote ? `CRYOPIPE_HOME=${small} ${remote}` : a,
          ),
        );
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/the destination has \d+ bytes free .*needs about/);
        expect(
          readdirSync(join(small, 'jobs')).filter((n) => n !== 'names' && n !== '.names'),
        ).toEqual([]);
      } finally {
        spawnSync('umount', [small]);
      }
      await expectStayed();
    });

    it("survives the destination's sshd session being killed mid-transfer", async () => {
      let killed = false;
      const r = await migrating([], (line) => {
        if (killed || !line.includes('streaming its memory')) return;
        killed = true;
        // The per-connection sshd processes under B's listener: the receiver's connection.
        for (const pid of childrenOf(hosts.b.sshdPid)) process.kill(pid, 'SIGKILL');
      });
      expect(killed).toBe(true);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('The job still runs here');
      await expectStayed();
    });

    it('survives the link being cut mid-transfer', async () => {
      let cut = false;
      const r = await migrating([], (line) => {
        if (cut || !line.includes('streaming its memory')) return;
        cut = true;
        hosts.link(false);
      });
      hosts.link(true);
      expect(cut).toBe(true);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('The job still runs here');
      await expectStayed();
    });
  });
});

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { childrenOf, killJobRoot } from '@cryopipe/testkit';
import { afterAll, expect } from 'vitest';
import { type CliRun, cliPath, slowCounter, until } from './cli-harness.ts';

/** What a test needs to run the built CLI with its own home, as another user, or in the background. */
export interface CliOptions {
  home?: string;
  cwd?: string;
  /** Run as this uid/gid (via setpriv), e.g. 65534 for nobody. */
  user?: number;
  /** Extra environment for the CLI. */
  env?: Record<string, string>;
}

function command(args: string[], opts: CliOptions): { file: string; argv: string[] } {
  const node = [process.execPath, cliPath, ...args];
  if (opts.user === undefined) return { file: node[0]!, argv: node.slice(1) };
  // The checkout may sit under a directory only root can enter (a CI clone in a
  // 0700 temp dir): keep exactly one capability, to look up and read paths, so
  // the other user can reach node and cli.js. It stays a non-root uid without
  // CAP_SYS_ADMIN or CAP_SYS_PTRACE, which is what the tests are about.
  return {
    file: 'setpriv',
    argv: [
      `--reuid=${opts.user}`,
      `--regid=${opts.user}`,
      '--clear-groups',
      '--inh-caps=+dac_read_search',
      '--ambient-caps=+dac_read_search',
      ...node,
    ],
  };
}

/**
 * A private directory for one test file (work dir and CRYOPIPE_HOME inside
 * it) and ways to run the built `cryopipe` there, synchronously or in the
 * background. Jobs still running at the end are killed by their recorded
 * pids; mounts registered with `mountTmpfs` are unmounted.
 */
export function useFaultCli() {
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-fault-'));
  const home = join(dir, 'home');
  const mounts: string[] = [];
  const extraPids: number[] = [];
  afterAll(() => {
    for (const h of [home, ...mounts]) {
      const r = run(['ps', '--json'], { home: h });
      if (r.status !== 0) continue;
      for (const job of r.json() as { id: string; rootPid?: number }[])
        killJobRoot(job.rootPid, job.id);
    }
    for (const pid of extraPids) killQuietly(pid);
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  });

  function env(opts: CliOptions): NodeJS.ProcessEnv {
    return { ...process.env, CRYOPIPE_HOME: opts.home ?? home, NO_COLOR: '1', ...opts.env };
  }

  function run(args: string[], opts: CliOptions = {}): CliRun {
    const { file, argv } = command(args, opts);
    const r = spawnSync(file, argv, {
      cwd: opts.cwd ?? dir,
      encoding: 'utf8',
      env: env(opts),
      timeout: 170_000,
    });
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      json: () => JSON.parse(r.stdout),
    };
  }
  const cli = (...args: string[]) => run(args);

  /**
   * Starts `sh -c <slow counter> | cat > NAME.txt` as job NAME, waits for
   * some output, stops it in checkpoint 1 and waits until its processes are
   * gone. The marker in the command line finds its processes in /proc.
   */
  async function stoppedCountingJob(
    name: string,
    n: number,
    opts: { plain?: boolean; minBytes?: number } = {},
  ) {
    const marker = `${name}-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      name,
      '--json',
      ...(opts.plain ? ['--no-pid-namespace'] : []),
      '--',
      'sh',
      '-c',
      `${slowCounter(n)} # ${marker}`,
      '|',
      'cat',
      '>',
      `${name}.txt`,
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, `${name}.txt`);
    const minBytes = opts.minBytes ?? 100;
    await until(() => existsSync(out) && statSync(out).size > minBytes, 'some output');
    const cp = cli('checkpoint', name);
    expect(cp.status, cp.stderr).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');
    const id = started.json().id as string;
    const cpDir = join(jobDir(home, id), 'checkpoints', '1');
    // The content hashes come from the background sealer: tests that damage
    // images expect them recorded, and no sealer may outlive the test.
    expect(await waitForSealer(cpDir, 60_000), 'the sealer to finish').toBe(true);
    return { id, out, marker, cpDir, rootPid: started.json().rootPid as number };
  }

  /** Starts the CLI in the background; `done` resolves with what a synchronous run returns. */
  function start(
    args: string[],
    opts: CliOptions = {},
  ): { child: ChildProcess; done: Promise<CliRun> } {
    const { file, argv } = command(args, opts);
    const child = spawn(file, argv, { cwd: opts.cwd ?? dir, env: env(opts) });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const done = new Promise<CliRun>((resolve) =>
      child.on('close', (status) =>
        resolve({ status, stdout, stderr, json: () => JSON.parse(stdout) }),
      ),
    );
    return { child, done };
  }

  /** Mounts a tmpfs of `size` (e.g. '48m') at `path`, unmounted after the file's tests. */
  function mountTmpfs(path: string, size: string, readOnly = false): string {
    mkdirSync(path, { recursive: true });
    const r = spawnSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${size},mode=0700${readOnly ? ',ro' : ''}`,
      'tmpfs',
      path,
    ]);
    if (r.status !== 0) throw new Error(`mount tmpfs at ${path}: ${r.stderr}`);
    mounts.push(path);
    return path;
  }

  return {
    dir,
    home,
    cli,
    run,
    start,
    stoppedCountingJob,
    mountTmpfs,
    killAfterAll: (pid: number) => extraPids.push(pid),
  };
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {}
}

export function jobDir(home: string, id: string): string {
  return join(home, 'jobs', id);
}

export function checkpointsOf(home: string, id: string): string[] {
  return readdirSync(join(jobDir(home, id), 'checkpoints')).sort();
}

/** sha256 of every file under `dir` (relative path → digest): compares directories byte for byte. */
export function digestTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** Pids of live processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (!cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      found.push(Number(name));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** State letter (R, S, T, t, Z…) and tracer of a process, from /proc. */
export function processState(pid: number): { state: string; tracerPid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      state: /^State:\s+(\S)/m.exec(status)![1]!,
      tracerPid: Number(/^TracerPid:\s+(\d+)/m.exec(status)![1]),
    };
  } catch {
    return undefined;
  }
}

/**
 * Starts a `sleep` that holds exactly `pid`: sets the kernel's last pid to
 * pid-1 and forks, retrying when another process on this busy machine takes
 * the number first. The caller kills it (by its pid). With `acceptTaken`, a
 * pid some other process already holds is as good a collision: undefined.
 */
export async function occupyPid(
  pid: number,
  { attempts = 200, acceptTaken = false } = {},
): Promise<ChildProcess | undefined> {
  for (let i = 0; i < attempts; i++) {
    if (pidExists(pid)) {
      if (acceptTaken) return undefined;
      throw new Error(`pid ${pid} is already taken (by ${cmdlineOf(pid)})`);
    }
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    if (child.pid === pid) return child;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  throw new Error(`could not get pid ${pid} after ${attempts} attempts`);
}

export function pidExists(pid: number): boolean {
  try {
    statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The criu process doing a dump for the CLI process `cliPid` ("criu: dump …", a child of the CLI). */
export function criuDumpWorkerOf(cliPid: number): number | undefined {
  return childrenOf(cliPid).find((p) => {
    try {
      return /criu/.test(readlinkSync(`/proc/${p}/exe`)) && cmdlineOf(p).startsWith('criu: dump');
    } catch {
      return false;
    }
  });
}

/**
 * A python job holding `mib` MiB of touched memory (so a dump takes a while)
 * that prints a counter every 50 ms; once `grow.file` exists it touches
 * `grow.mib` MiB more and prints "grown". `marker` ends up in its command line.
 */
export function memoryHog(
  mib: number,
  marker: string,
  grow?: { file: string; mib: number },
): string[] {
  const lines = [
    'import os, time',
    `x = bytearray(b"\\x01") * (${mib} * 2**20)`,
    'extra = None',
    'i = 0',
    'while True:',
    grow
      ? `    if extra is None and os.path.exists(${JSON.stringify(grow.file)}):\n        extra = bytearray(b"\\x02") * (${grow.mib} * 2**20)\n        print("grown", flush=True)`
      : '    pass',
    '    print(i, flush=True)',
    '    i += 1',
    '    time.sleep(0.05)',
    `# ${marker}`,
  ];
  return ['/usr/bin/python3', '-c', lines.join('\n')];
}

/**
 * Resolves once the job's launcher has recorded its end in RUNDIR/status.
 * Tests call this before `cryopipe wait` so that wait judges a finished job:
 * a wait that is polling while the job ends can currently misreport it (see
 * RELIABILITY.md, "Not covered").
 */
export async function untilFinished(home: string, id: string, timeoutMs = 120_000): Promise<void> {
  const status = join(jobDir(home, id), 'run', 'status');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (JSON.parse(readFileSync(status, 'utf8')).state !== 'running') return;
    } catch {
      // Being replaced right now, or not written yet.
    }
    if (Date.now() > deadline) {
      const read = (f: string) => {
        try {
          return readFileSync(join(jobDir(home, id), f), 'utf8');
        } catch (err) {
          return String(err);
        }
      };
      throw new Error(
        `timed out waiting for job ${id} to finish\nstatus: ${read('run/status')}\nlauncher.log: ${read('run/launcher.log')}\njob.json: ${read('job.json')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

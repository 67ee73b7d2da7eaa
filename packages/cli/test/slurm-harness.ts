import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, criu, root, which } from '@cryopipe/testkit';
import { aomenc, type EncodeOptions } from '../../examples/src/encoders.ts';
import { cliPath } from './cli-harness.ts';

/**
 * A real one-node Slurm cluster for tests: Debian's slurm-wlm and munge,
 * every file in a private directory (config, munge key and socket, state,
 * spool, logs, pid files), the daemons started in the foreground as
 * children of the test and stopped by their pids. The node is this machine
 * under its own hostname; it claims 8 CPUs (config_overrides) so that
 * several test jobs run at once on a 2-core machine.
 */
export interface SlurmClusterOptions {
  /** SlurmctldParameters=preempt_send_user_signal: the job's --signal on preemption too. */
  preemptSendUserSignal: boolean;
  /** ProctrackType (default cgroup: this machine has cgroup v1 with the freezer). */
  proctrack?: 'cgroup' | 'linuxproc';
  /** GraceTime of the preemptable partition `low`, seconds. */
  graceTime?: number;
  /**
   * A second node, `node2-XXXXXX` (random, so concurrent test runs never
   * share its cgroups): another slurmd in a network namespace of its own
   * (a veth pair, link-local addresses) and a UTS namespace of its own (its
   * node name as hostname), sharing this machine's file system, so the job
   * store is shared storage for both. Partition `main` then spans both.
   */
  secondNode?: boolean;
}

/** The second node (option `secondNode`): its name, network namespace and address. */
export interface SecondNode {
  name: string;
  /** The network namespace, as `ip netns` names it (/run/netns/NAME). */
  netns: string;
  /** node2's address on the veth pair; the controller is at `hostAddr`. */
  addr: string;
  hostAddr: string;
  /** The host end of the veth pair (its peer lives in the namespace). */
  veth: string;
}

/** What every Slurm e2e test needs: root, criu, the Slurm and munge daemons, the encoders. */
export const SLURM_REQUIREMENTS = [
  root,
  criu,
  binary('slurmctld'),
  binary('slurmd'),
  binary('munged'),
  binary('ffmpeg'),
  binary('aomenc'),
];

/** A `bin` directory under `dir` holding `cryopipe` (this checkout's CLI), for the jobs' PATH. */
export function cryopipeBinDir(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(cliPath, join(bin, 'cryopipe'));
  return bin;
}

/** A job as `scontrol show job` describes it. */
export interface SlurmJobInfo {
  state: string;
  restarts: number;
  exitCode: string;
  reason: string;
}

/** A real, deterministic encode as `cryopipe` pipeline argv: ffmpeg testsrc2 → y4m → aomenc, small and fast. */
export const encode = (out: string, frames: number, options: EncodeOptions = {}) =>
  aomenc.pipeline(out, frames, { speed: 8, ...options });

/** An uninterrupted run of the same encode through a plain shell pipeline: its output. */
export function referenceEncode(
  dir: string,
  frames: number,
  options: EncodeOptions = {},
): Promise<Buffer> {
  const out = join(dir, `ref-${frames}-${options.realTimeFps ?? 'free'}.ivf`);
  const words = encode(out, frames, options).map((w) => (w === '|' ? '|' : `'${w}'`));
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', words.join(' ')], { stdio: 'ignore' });
    p.on('exit', (code) =>
      code === 0 ? resolve(readFileSync(out)) : reject(new Error(`reference encode exit ${code}`)),
    );
  });
}

/** Requeued jobs are eligible again after cred_expire + 1 s; Slurm's default is 120 s. */
const CRED_EXPIRE_S = 5;

export class SlurmCluster {
  private readonly daemons: { name: string; child: ChildProcess }[] = [];
  /** The second node, when the option asked for one and it was set up. */
  node2: SecondNode | undefined;
  private constructor(
    readonly dir: string,
    private readonly opts: SlurmClusterOptions,
    private readonly ports: [number, number],
  ) {}

  /** Environment for Slurm's client commands (and for the jobs, which inherit it). */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: join(this.dir, 'slurm.conf') };
  }

  /** The node's name: this machine's hostname, as slurmd finds it. */
  readonly node = hostname().split('.')[0]!;

  static async start(opts: SlurmClusterOptions): Promise<SlurmCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cryopipe-slurm-'));
    chmodSync(dir, 0o755); // munged wants every directory above its socket searchable
    const base = 20_000 + Math.floor(Math.random() * 4_000) * 2;
    const cluster = new SlurmCluster(dir, opts, [base, base + 1]);
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    if (this.opts.secondNode) this.makeSecondNodeNetwork();
    for (const sub of ['state', 'spool', 'munge']) mkdirSync(join(this.dir, sub), { mode: 0o700 });
    chmodSync(join(this.dir, 'munge'), 0o755);
    const key = join(this.dir, 'munge', 'munge.key');
    writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    this.daemon('munged', 'munged', [
      '-F',
      '-f',
      `--key-file=${key}`,
      `--socket=${this.mungeSocket}`,
      `--pid-file=${join(this.dir, 'munge', 'munged.pid')}`,
      `--log-file=${join(this.dir, 'munge', 'munged.log')}`,
      `--seed-file=${join(this.dir, 'munge', 'munged.seed')}`,
    ]);
    await this.until('munged', () => {
      execFileSync('munge', ['-S', this.mungeSocket, '-n'], { stdio: 'ignore' });
      return true;
    });
    this.writeConfig();
    this.daemon('slurmctld', 'slurmctld', ['-D', '-i']);
    await this.until('slurmctld', () => this.run('scontrol', ['ping']).includes('UP'));
    this.daemon('slurmd', 'slurmd', ['-D']);
    await this.until('slurmd', () =>
      /State=(IDLE|MIXED|ALLOCATED)/.test(this.run('scontrol', ['show', 'node', this.node])),
    );
    if (this.node2) await this.bootSecondNode(this.node2);
  }

  /**
   * node2's slurmd: nsenter joins the network namespace without a new mount
   * namespace (`ip netns exec` would remount /sys and hide the cgroup v1
   * hierarchies proctrack/cgroup needs); unshare gives it its own UTS
   * namespace; every step execs, so the child's pid is slurmd's.
   */
  private async bootSecondNode(n: SecondNode): Promise<void> {
    const slurmd = which('slurmd') ?? 'slurmd';
    this.daemon('slurmd-node2', 'nsenter', [
      `--net=/run/netns/${n.netns}`,
      '--',
      'unshare',
      '--uts',
      '--',
      'sh',
      '-c',
      `hostname ${n.name} && exec "$0" -D -N ${n.name}`,
      slurmd,
    ]);
    await this.until('slurmd-node2', () =>
      /State=(IDLE|MIXED|ALLOCATED)/.test(this.run('scontrol', ['show', 'node', n.name])),
    );
  }

  /** The network namespace and veth pair of node2: link-local 169.254.N.1 (host) and .2 (node2). */
  private makeSecondNodeNetwork(): SecondNode {
    const tag = randomBytes(3).toString('hex');
    const octet = 1 + (Number.parseInt(tag, 16) % 250);
    const n: SecondNode = {
      name: `node2-${tag}`,
      netns: `cryopipe-${tag}`,
      addr: `169.254.${octet}.2`,
      hostAddr: `169.254.${octet}.1`,
      veth: `cp2h${tag}`,
    };
    const peer = `cp2n${tag}`;
    this.node2 = n; // from here on, stop() removes what exists
    const ip = (...args: string[]) =>
      execFileSync(which('ip') ?? 'ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    ip('netns', 'add', n.netns);
    ip('link', 'add', n.veth, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', n.netns);
    ip('addr', 'add', `${n.hostAddr}/30`, 'dev', n.veth);
    ip('link', 'set', n.veth, 'up');
    ip('-n', n.netns, 'addr', 'add', `${n.addr}/30`, 'dev', peer);
    ip('-n', n.netns, 'link', 'set', peer, 'up');
    ip('-n', n.netns, 'link', 'set', 'lo', 'up');
    return n;
  }

  /** Removes node2's namespace and veth pair (deleting one end deletes both). */
  private removeSecondNodeNetwork(): void {
    const n = this.node2;
    if (!n) return;
    const ip = (...args: string[]) => {
      try {
        execFileSync(which('ip') ?? 'ip', args, { stdio: 'ignore' });
      } catch {}
    };
    ip('link', 'del', n.veth);
    ip('netns', 'del', n.netns);
  }

  private get mungeSocket(): string {
    return join(this.dir, 'munge', 'munge.socket');
  }

  /** Writes slurm.conf and cgroup.conf for this machine and the options. */
  private writeConfig(): void {
    const d = this.dir;
    const grace = this.opts.graceTime ?? 20;
    const n2 = this.node2;
    // With a second node, the controller listens where node2 can reach it (the veth's host end).
    const ctlAddr = n2 ? n2.hostAddr : '127.0.0.1';
    const conf = [
      `ClusterName=cryotest${this.ports[0]}`,
      `SlurmctldHost=${this.node}(${ctlAddr})`,
      `SlurmctldPort=${this.ports[0]}`,
      `SlurmdPort=${this.ports[1]}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${this.mungeSocket},cred_expire=${CRED_EXPIRE_S}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `StateSaveLocation=${join(d, 'state')}`,
      // Two slurmds on one file system: one spool directory and pid file each (%n: the node name).
      `SlurmdSpoolDir=${join(d, 'spool')}${n2 ? '/%n' : ''}`,
      `SlurmctldPidFile=${join(d, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(d, n2 ? 'slurmd-%n.pid' : 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(d, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(d, n2 ? 'slurmd-%n.log' : 'slurmd.log')}`,
      `ProctrackType=proctrack/${this.opts.proctrack ?? 'cgroup'}`,
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SlurmdParameters=config_overrides',
      'SchedulerParameters=sched_interval=2,bf_interval=2',
      'PreemptType=preempt/partition_prio',
      'PreemptMode=REQUEUE',
      ...(this.opts.preemptSendUserSignal ? ['SlurmctldParameters=preempt_send_user_signal'] : []),
      'KillWait=30',
      'MinJobAge=3600',
      'ReturnToService=2',
      'MailProg=/bin/true',
      `NodeName=${this.node} NodeAddr=127.0.0.1 CPUs=8 RealMemory=4000 State=UNKNOWN`,
      ...(n2
        ? [`NodeName=${n2.name} NodeAddr=${n2.addr} CPUs=8 RealMemory=4000 State=UNKNOWN`]
        : []),
      `PartitionName=main Nodes=${this.node}${n2 ? `,${n2.name}` : ''} Default=YES MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF`,
      `PartitionName=low Nodes=${this.node} MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=${grace}`,
      `PartitionName=high Nodes=${this.node} MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF`,
      '',
    ];
    writeFileSync(join(d, 'slurm.conf'), conf.join('\n'));
    writeFileSync(
      join(d, 'cgroup.conf'),
      'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\n',
    );
  }

  /** Rewrites the configuration with other options and has slurmctld and slurmd reread it. */
  reconfigure(change: Partial<SlurmClusterOptions>): void {
    Object.assign(this.opts, change);
    this.writeConfig();
    this.run('scontrol', ['reconfigure']);
  }

  private daemon(name: string, cmd: string, args: string[]): void {
    const log = openSync(join(this.dir, `${name}.out`), 'a');
    try {
      // Daemons live in /usr/sbin, which a non-login PATH may lack.
      const child = spawn(which(cmd) ?? cmd, args, {
        env: this.env,
        stdio: ['ignore', log, log],
      });
      child.on('error', () => {}); // reported by `until` below, with the daemon's output
      this.daemons.push({ name, child });
    } finally {
      closeSync(log);
    }
  }

  private async until(name: string, ready: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (ready()) return;
      } catch {}
      const d = this.daemons.find((x) => x.name === name);
      if (Date.now() > deadline || d?.child.exitCode != null) {
        throw new Error(
          `${name} did not come up:\n${this.tail(`${name}.out`)}\n${this.tail(`${name}.log`)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The last lines of one of the cluster's logs, for failure messages. */
  tail(file: string, lines = 30): string {
    for (const path of [join(this.dir, file), join(this.dir, 'munge', file)]) {
      try {
        return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {}
    }
    return `(no ${file})`;
  }

  /** Runs a Slurm client command against this cluster; its stdout. */
  run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
    return execFileSync(which(cmd) ?? cmd, args, {
      env: { ...this.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  }

  /** Submits a batch script; the job id. */
  sbatch(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return this.run('sbatch', ['--parsable', ...args], env)
      .trim()
      .split(';')[0]!;
  }

  /** The job's state, restart count and exit code. */
  job(id: string): SlurmJobInfo {
    const text = this.run('scontrol', ['show', 'job', id]);
    const get = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(text)?.[1] ?? '';
    return {
      state: get('JobState'),
      restarts: Number(get('Restarts')),
      exitCode: get('ExitCode'),
      reason: get('Reason'),
    };
  }

  /** Waits until `ok(job)`; fails with the job's state and the cluster's logs after `timeoutMs`. */
  async waitForJob(
    id: string,
    ok: (j: SlurmJobInfo) => boolean,
    what: string,
    timeoutMs = 240_000,
  ): Promise<SlurmJobInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = this.job(id);
      if (ok(j)) return j;
      if (Date.now() > deadline) {
        throw new Error(
          `job ${id}: no ${what} after ${timeoutMs / 1000} s (now ${JSON.stringify(j)})\n${this.tail('slurmctld.log', 15)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Cancels every job, then stops slurmd, slurmctld and munged by pid; kills what the jobs left. */
  async stop(): Promise<void> {
    try {
      this.run('scancel', ['--full', '--signal=KILL', '--state=RUNNING', '--user=root']);
      this.run('scancel', ['--user=root']);
    } catch {}
    await new Promise((r) => setTimeout(r, 1000));
    for (const { child } of [...this.daemons].reverse()) await stopChild(child);
    this.killJobCgroups();
    if (this.node2) removeCgroupTree(`/sys/fs/cgroup/freezer/slurm_${this.node2.name}`);
    this.removeSecondNodeNetwork();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * SIGKILL to every process of the job but Slurm's own slurmstepd, as the
   * OOM killer or a crashing node would: no warning, no TERM. Returns how
   * many were killed. (`scancel --signal=KILL` is no such thing: Slurm
   * turns it into a cancel, TERM first.)
   */
  killJobProcesses(id: string): number {
    const pids = cgroupPids(`/sys/fs/cgroup/freezer/slurm_${this.node}/uid_0/job_${id}`).filter(
      (pid) => comm(pid) !== 'slurmstepd',
    );
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    return pids.length;
  }

  /** Processes still in this node's job cgroups (slurmstepd, leftover stages) are the tests'. */
  private killJobCgroups(): void {
    for (const node of [this.node, ...(this.node2 ? [this.node2.name] : [])]) {
      for (const pid of cgroupPids(`/sys/fs/cgroup/freezer/slurm_${node}`)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }
}

/** Every process (cgroup.procs: not tasks, which lists threads) in a cgroup v1 directory and below. */
function cgroupPids(dir: string): number[] {
  let pids: number[] = [];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) pids = pids.concat(cgroupPids(join(dir, e.name)));
  } catch {}
  return pids;
}

/** Removes an emptied cgroup v1 directory and its children, deepest first (rmdir: only empty ones go). */
function removeCgroupTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
    rmdirSync(dir);
  } catch {}
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf } from './proc.ts';

/**
 * Two "hosts" on one machine for tests that move jobs between machines:
 * two network namespaces joined by a veth pair, with ULA addresses only
 * (fd00::/8, a random /64 per harness), one sshd per namespace (its own
 * host key, config, port and pid file, started and stopped by pid), a
 * client key both accept, and a CRYOPIPE_HOME per host. Processes enter a
 * host's network namespace with nsenter (not `ip netns exec`, which would
 * also give each command a mount namespace of its own, and criu can't dump
 * a tree from another mount namespace than its own without help).
 */
export interface TwoHosts {
  a: Host;
  b: Host;
  /** Where the harness keeps keys, configs and homes. */
  dir: string;
  /** Takes the link down (or up again) on both ends. */
  link(up: boolean): void;
  /** Stops both sshds and removes the namespaces and files. */
  close(): Promise<void>;
}

export interface Host {
  /** 'a' or 'b'. */
  name: string;
  /** The network namespace (under /run/netns). */
  netns: string;
  /** This host's address on the veth (ULA). */
  address: string;
  /** Its sshd's port. */
  port: number;
  /** Its sshd's pid. */
  sshdPid: number;
  /** Its CRYOPIPE_HOME. */
  home: string;
  /** `user@host` for ssh, e.g. `root@[fd00:…]` is not needed: ssh takes the bare address with -o Port. */
  dest: string;
  /** ssh arguments that reach this host (identity, known_hosts, port, quick dead-peer detection). */
  sshArgs: string[];
  /** argv prefix that runs a command inside this host's network namespace. */
  enter: string[];
  /** Environment this host's processes get (its CRYOPIPE_HOME). */
  env: NodeJS.ProcessEnv;
}

export interface TwoHostsOptions {
  /** Extra lines of sshd_config per host, e.g. `SetEnv PATH=…` for a different criu on b. */
  sshdConfig?: { a?: string[]; b?: string[] };
  /** Environment variables sessions on each host get (sshd SetEnv), beyond CRYOPIPE_HOME. */
  sessionEnv?: Record<string, string>;
}

const SSHD = '/usr/sbin/sshd';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Makes the two hosts; `close()` undoes everything. */
export async function twoHosts(options: TwoHostsOptions = {}): Promise<TwoHosts> {
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-hosts-'));
  const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const prefix = `fd00:${(Math.floor(Math.random() * 0xffff) || 1).toString(16)}:${(process.pid & 0xffff).toString(16)}`;
  const sshds: ChildProcess[] = [];
  const names = { a: `cpa-${tag}`, b: `cpb-${tag}` };
  const cleanup = async () => {
    for (const child of sshds) await stop(child);
    for (const ns of Object.values(names)) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // Not made, or gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('ip', ['netns', 'add', names.a]);
    run('ip', ['netns', 'add', names.b]);
    const va = `va${tag}`.slice(0, 15);
    const vb = `vb${tag}`.slice(0, 15);
    run('ip', [
      'link',
      'add',
      va,
      'netns',
      names.a,
      'type',
      'veth',
      'peer',
      'name',
      vb,
      'netns',
      names.b,
    ]);
    const addr = { a: `${prefix}::1`, b: `${prefix}::2` };
    for (const [h, dev] of [
      ['a', va],
      ['b', vb],
    ] as const) {
      const ns = names[h];
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${addr[h]}/64`, 'dev', dev, 'nodad']);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
    run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'cryopipe-test',
      '-f',
      join(dir, 'client'),
    ]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')), {
      mode: 0o600,
    });
    const knownHosts = join(dir, 'known_hosts');
    const hosts: Record<'a' | 'b', Host> = {} as Record<'a' | 'b', Host>;
    for (const h of ['a', 'b'] as const) {
      const home = join(dir, `home-${h}`);
      mkdirSync(home, { mode: 0o700 });
      const key = join(dir, `host-${h}`);
      run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const port = 2200 + Math.floor(Math.random() * 7000);
      const env = { CRYOPIPE_HOME: home, ...options.sessionEnv };
      const config = [
        `Port ${port}`,
        `ListenAddress ${addr[h]}`,
        `HostKey ${key}`,
        `PidFile ${join(dir, `sshd-${h}.pid`)}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowTcpForwarding local',
        'X11Forwarding no',
        'PrintMotd no',
        `SetEnv ${Object.entries(env)
          .map(([k, v]) => `"${k}=${v}"`)
          .join(' ')}`,
        ...(options.sshdConfig?.[h] ?? []),
      ];
      writeFileSync(join(dir, `sshd-${h}.conf`), `${config.join('\n')}\n`);
      const enter = ['nsenter', `--net=/run/netns/${names[h]}`];
      const child = spawn(
        enter[0]!,
        [...enter.slice(1), SSHD, '-D', '-e', '-f', join(dir, `sshd-${h}.conf`)],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      sshds.push(child);
      let log = '';
      child.stderr!.on('data', (c: Buffer) => {
        log += c.toString();
      });
      await listening(names[h], addr[h], port, child, () => log);
      writeFileSync(
        knownHosts,
        `[${addr[h]}]:${port} ${readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
        { flag: 'a' },
      );
      hosts[h] = {
        name: h,
        netns: names[h],
        address: addr[h],
        port,
        sshdPid: child.pid!,
        home,
        dest: `root@${addr[h]}`,
        sshArgs: [
          '-i',
          join(dir, 'client'),
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          `Port=${port}`,
          '-o',
          'ServerAliveInterval=1',
          '-o',
          'ServerAliveCountMax=3',
        ],
        enter,
        env: { CRYOPIPE_HOME: home },
      };
    }
    return {
      a: hosts.a,
      b: hosts.b,
      dir,
      link(up) {
        for (const [ns, dev] of [
          [names.a, va],
          [names.b, vb],
        ] as const)
          run('ip', ['-n', ns, 'link', 'set', dev, up ? 'up' : 'down']);
      },
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Waits until sshd accepts connections on its address (from inside its namespace). */
async function listening(
  netns: string,
  address: string,
  port: number,
  child: ChildProcess,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd in ${netns} exited: ${log()}`);
    let ok = false;
    try {
      const out = execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'ss', '-Hltn'], {
        encoding: 'utf8',
      });
      ok = out.includes(`[${address}]:${port}`);
    } catch {
      // ss failed: try again.
    }
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`sshd in ${netns} did not listen on ${address}:${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Its sessions first (`sshd: root@notty` and what runs under them): sshd
  // leaves them running when it stops, re-parented to PID 1.
  const descendants = (pid: number): number[] =>
    childrenOf(pid).flatMap((c) => [c, ...descendants(c)]);
  for (const pid of child.pid ? descendants(child.pid) : []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

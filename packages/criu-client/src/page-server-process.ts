// Finding and stopping the daemon a PAGE_SERVER request leaves behind.
//
// criu 4.2.x answers PAGE_SERVER with `pid: 0`: the daemon is forked by
// cr_daemon() two levels below the criu that replies, and that criu only sees
// the return value 0 of the intermediate process. The daemon is the only
// process holding the listening TCP socket on the reported port (the
// intermediate closes its copy before exiting), so the kernel tells us who it
// is: /proc/net/tcp{,6} maps the port to a socket inode, and /proc/PID/fd
// maps the inode to its owner.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** Inodes of the TCP sockets listening on `port` (IPv4 and IPv6), from `procRoot`/net/tcp{,6}. */
export function listeningSocketInodes(port: number, procRoot = '/proc'): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['net/tcp', 'net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${table}`, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = cols[1] ?? '';
      const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (localPort === port && cols[3] === TCP_LISTEN && cols[9] !== '0') inodes.add(cols[9]!);
    }
  }
  return inodes;
}

/** PIDs of the processes holding any of the socket `inodes` open. */
export function socketOwners(inodes: Set<string>, procRoot = '/proc'): number[] {
  if (inodes.size === 0) return [];
  const owners: number[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${name}/fd`);
    } catch {
      continue; // exited, or a kernel thread
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${procRoot}/${name}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        owners.push(Number(name));
        break;
      }
    }
  }
  return owners;
}

/**
 * criu titles the daemon `criu: page-server --rpc --address A --port P`,
 * before it binds: P is the requested port, 0 when criu picked one.
 */
function isPageServer(pid: number, port: number, procRoot: string): boolean {
  try {
    const cmdline = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    const titled = /--port (\d+)/.exec(cmdline)?.[1];
    return (
      cmdline.includes('page-server') &&
      (titled === undefined || titled === '0' || titled === String(port))
    );
  } catch {
    return false;
  }
}

/**
 * The pid of the page server daemon listening on `port`, or undefined when
 * no such process holds a listening socket on it (it already accepted its
 * one connection and closed the listener, or it died).
 */
export function findPageServerPid(
  port: number,
  procRoot = '/proc',
  /** Listening sockets to ignore: those that were there before a request. */
  except: ReadonlySet<string> = new Set(),
): number | undefined {
  const inodes = new Set([...listeningSocketInodes(port, procRoot)].filter((i) => !except.has(i)));
  const owners = socketOwners(inodes, procRoot);
  return owners.find((pid) => isPageServer(pid, port, procRoot));
}

/** Start time (clock ticks after boot) of `pid`, to tell it from a later process with a reused pid. */
export function startTime(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // Fields after the comm, which runs to the last ')'; starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Now, in the unit of /proc/PID/stat's starttime (clock ticks since boot,
 * USER_HZ = 100 on Linux), rounded down so a process started from now on
 * compares >=.
 */
export function uptimeTicks(procRoot = '/proc'): number {
  const seconds = Number.parseFloat(
    readFileSync(`${procRoot}/uptime`, 'utf8').split(' ')[0] ?? '0',
  );
  return Math.floor(seconds * 100) - 1;
}

/** True while `pid` exists and is not a zombie (PID 1 may reap a dead daemon lazily). */
export function isRunning(pid: number, procRoot = '/proc'): boolean {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Stops the daemon `pid` if it is still the process that started at
 * `started` (so a reused pid is never signalled), then waits until it has
 * died. Resolves true if it had to be killed, false if it was already gone.
 */
export async function stopProcess(
  pid: number,
  started: string | undefined,
  timeoutMs = 5_000,
): Promise<boolean> {
  if (!isRunning(pid) || startTime(pid) !== started) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return false;
  }
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`page server ${pid} survived SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

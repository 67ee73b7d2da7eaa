import { readdirSync, readFileSync } from 'node:fs';
import type { Snapshot } from '@cryopipe/procfs';
import type { Finding } from './diagnosis.ts';

/** One lock as /proc/locks and the `lock:` lines of /proc/PID/fdinfo/FD print it. */
export interface FileLock {
  /** FLOCK, POSIX, OFDLCK, LEASE, DELEG… */
  kind: string;
  /** ADVISORY or MANDATORY (or BREAKING/ACTIVE for leases). */
  mode: string;
  /** READ or WRITE. */
  access: string;
  /** The process that took it; -1 for open-file-description locks. */
  pid: number;
  /** `major:minor:inode` in hex:hex:decimal, as the kernel prints it. */
  file: string;
}

/** A lock held through one descriptor of a process of the tree. */
export interface HeldLock extends FileLock {
  holderPid: number;
  fd: number;
  path: string;
}

/** What diagnosis needs to know about locks: those the tree holds, and every lock on the machine. */
export interface LockFacts {
  held: HeldLock[];
  all: FileLock[];
}

// "1: FLOCK  ADVISORY  WRITE 1234 08:01:1234567 0 EOF"; waiters have "->" before the kind.
const LINE = /^\s*\d+:\s+(->\s+)?(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s/i;

/** Parses /proc/locks, or the `lock:` lines of an fdinfo file; waiting requests are left out. */
export function parseLocks(text: string): FileLock[] {
  const out: FileLock[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^lock:\s*/, '');
    const m = LINE.exec(line);
    if (!m || m[1]) continue;
    out.push({ kind: m[2]!, mode: m[3]!, access: m[4]!, pid: Number(m[5]), file: m[6]! });
  }
  return out;
}

/** Reads the locks held through the tree's descriptors (fdinfo), and /proc/locks. */
export function readLockFacts(snap: Snapshot, procRoot = '/proc'): LockFacts {
  const held: HeldLock[] = [];
  for (const proc of snap.processes.values()) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${proc.pid}/fdinfo`);
    } catch {
      continue; // exited meanwhile
    }
    for (const name of fds) {
      let text: string;
      try {
        text = readFileSync(`${procRoot}/${proc.pid}/fdinfo/${name}`, 'utf8');
      } catch {
        continue;
      }
      if (!text.includes('lock:')) continue;
      const fd = Number(name);
      const path = proc.fds.find((d) => d.fd === fd)?.target ?? `fd ${fd}`;
      for (const lock of parseLocks(text)) held.push({ ...lock, holderPid: proc.pid, fd, path });
    }
  }
  let all: FileLock[] = [];
  try {
    all = parseLocks(readFileSync(`${procRoot}/locks`, 'utf8'));
  } catch {
    // No /proc/locks (a kernel without it): the tree's own fdinfo still tells.
  }
  return { held, all };
}

/**
 * Findings about file locks (pure). Locks the tree holds are dumped and
 * restored by criu when asked (`--file-locks`, which cryopipe's checkpoint
 * passes when it finds them): info. A locked file that a process outside the
 * tree also holds a lock on can't be restored faithfully (the outside holder
 * keeps it while the restored tree takes it again): a blocker.
 */
export function fileLockFindings(snap: Snapshot, facts: LockFacts): Finding[] {
  if (facts.held.length === 0) return [];
  const files = new Set(facts.held.map((l) => l.file));
  const outside = facts.all.filter(
    (l) => files.has(l.file) && l.pid > 0 && !snap.processes.has(l.pid),
  );
  const comm = (pid: number) =>
    snap.processes.get(pid)?.stat.comm ?? snap.outside?.stats.get(pid)?.comm;
  const evidence = facts.held.map((l) => ({
    pid: l.holderPid,
    ...(comm(l.holderPid) ? { comm: comm(l.holderPid) } : {}),
    fd: l.fd,
    target: `${l.path} (${l.kind} ${l.access})`,
  }));
  const paths = [...new Set(facts.held.map((l) => l.path))].join(', ');
  if (outside.length > 0) {
    const who = [...new Set(outside.map((l) => `${comm(l.pid) ?? 'pid'} ${l.pid}`))].join(', ');
    return [
      {
        id: 'file-locks-outside',
        severity: 'blocker',
        message: `the tree holds locks on ${paths} that processes outside it hold too (${who})`,
        criuSays:
          'Some file locks are hold by dumping tasks! You can try --file-locks to dump them.',
        evidence,
        fix: 'let the process that takes the lock be part of the job (e.g. run flock as a stage), or checkpoint from that process down',
      },
    ];
  }
  // One flock shows on every descriptor that shares its open file (flock, sh, sleep…).
  const locks = new Set(facts.held.map((l) => `${l.kind} ${l.pid} ${l.file}`)).size;
  const fds = facts.held.length;
  return [
    {
      id: 'file-locks',
      severity: 'info',
      message: `the tree holds ${locks} file lock${locks > 1 ? 's' : ''} (${paths}${fds > locks ? `, through ${fds} descriptors` : ''}); cryopipe checkpoint saves and restores them (criu's file-locks option)`,
      criuSays: 'Some file locks are hold by dumping tasks! You can try --file-locks to dump them.',
      evidence,
      fix: 'nothing to do; with raw criu, pass --file-locks to both dump and restore',
    },
  ];
}

import {
  type Descriptor,
  Procfs,
  pipePeers,
  type Snapshot,
  socketUses,
  terminalFacts,
  writableFiles,
} from '@cryopipe/procfs';
import { fileLockFindings, readLockFacts } from './file-locks.ts';

/**
 * Why a process tree can or can't be dumped by CRIU, as findings a user can
 * act on: what is wrong, the evidence in /proc, CRIU's own words for it, and
 * the fix. A `blocker` makes a plain dump fail; a `warning` may; `info` is
 * what cryopipe will take care of.
 */
export type Severity = 'blocker' | 'warning' | 'info';

/** A process (and descriptor) a finding is about. */
export interface Evidence {
  /** The process. */
  pid: number;
  /** Its command name; undefined when unknown. */
  comm?: string;
  /** The descriptor concerned; undefined when the finding is about the process itself. */
  fd?: number;
  /** The descriptor's link target, e.g. pipe:[1234]; undefined without a descriptor. */
  target?: string;
}

/** One thing in a process tree that a checkpoint cannot handle, or handles with care. */
export interface Finding {
  /** Stable identifier for scripts, e.g. `controlling-terminal`. */
  id: string;
  /** How bad it is: whether it blocks a checkpoint. */
  severity: Severity;
  /** What was found, one sentence. */
  message: string;
  /** What CRIU says when it hits this, to match against its log. */
  criuSays?: string;
  /** The processes and descriptors concerned. */
  evidence: Evidence[];
  /** What to do about it, one sentence. */
  fix: string;
}

const SHELLS = new Set([
  'bash',
  'sh',
  'dash',
  'zsh',
  'fish',
  'ksh',
  'tmux: server',
  'screen',
  'sshd',
  'login',
]);
/** Descriptor kinds CRIU can't checkpoint at all. */
const UNDUMPABLE_ANON = new Set([
  'io_uring',
  'perf_event',
  'bpf-map',
  'bpf-prog',
  'bpf-link',
  'userfaultfd',
]);

/** Snapshots the tree under `rootPid` in /proc and lists what would stop or hurt a CRIU checkpoint of it. */
export async function diagnoseTree(rootPid: number, procfs = new Procfs()): Promise<Finding[]> {
  const snap = await procfs.snapshot(rootPid);
  return [...diagnoseSnapshot(snap), ...fileLockFindings(snap, readLockFacts(snap, procfs.root))];
}

/** Pure: findings from a snapshot (testable on fixtures). */
export function diagnoseSnapshot(snap: Snapshot): Finding[] {
  const findings: Finding[] = [];
  const comm = (pid: number) =>
    snap.processes.get(pid)?.stat.comm ?? snap.outside?.stats.get(pid)?.comm;
  const ev = (pid: number, d?: Descriptor): Evidence => ({
    pid,
    ...(comm(pid) !== undefined ? { comm: comm(pid) } : {}),
    ...(d ? { fd: d.fd, target: d.target } : {}),
  });
  const root = snap.processes.get(snap.rootPid)!;
  const term = terminalFacts(snap);

  if (term.controlling.length > 0) {
    findings.push({
      id: 'controlling-terminal',
      severity: 'blocker',
      message: `the tree has a controlling terminal (${term.controlling.map((c) => c.device.path).join(', ')})${term.sharedWithOutside ? ', shared with processes outside it (the shell)' : ''}`,
      criuSays:
        'Task attached to shell terminal. Consider using --shell-job option / tty: Found dangling tty with sid …',
      evidence: term.controlling.flatMap((c) => c.pids.map((p) => ev(p))),
      fix: "start the job detached from the terminal: 'cryopipe run' does it (setsid, stdin from /dev/null, output to files). A --shell-job dump can only be restored from a process that owns a terminal, so 'cryopipe adopt' is the way for a job already running in a terminal.",
    });
  }
  const ttyFds = term.descriptors;
  if (ttyFds.length > 0) {
    findings.push({
      id: 'terminal-descriptors',
      severity: 'blocker',
      message: `${ttyFds.length} descriptor${ttyFds.length > 1 ? 's point' : ' points'} at a terminal (${[...new Set(ttyFds.map((t) => t.path))].join(', ')})`,
      criuSays: 'tty: Found slave peer index N without correspond master peer',
      evidence: ttyFds.map((t) => ({
        pid: t.pid,
        ...(comm(t.pid) ? { comm: comm(t.pid) } : {}),
        fd: t.fd,
        target: t.path,
      })),
      fix: 'redirect stdin from /dev/null and stdout/stderr to files; with cryopipe run that is the default',
    });
  }
  if (!term.root.isSessionLeader) {
    findings.push({
      id: 'root-not-session-leader',
      severity: 'blocker',
      message: `the root ${snap.rootPid} is not a session leader (its session ${term.root.session} is led by ${comm(term.root.session) ?? 'a process'} ${term.root.session})`,
      criuSays: `The root process ${snap.rootPid} is not a session leader. Consider using --shell-job option`,
      evidence: [ev(snap.rootPid)],
      fix: 'start the pipeline under setsid (cryopipe run does, as PID 1 of a fresh PID namespace)',
    });
  }
  const ledOutside = term.sessionsLedOutside.filter(
    (s) => s !== term.root.session || term.root.isSessionLeader,
  );
  if (ledOutside.length > 0) {
    findings.push({
      id: 'session-leader-outside',
      severity: 'blocker',
      message: `processes of the tree belong to session${ledOutside.length > 1 ? 's' : ''} ${ledOutside.join(', ')} whose leader is outside the tree`,
      criuSays: 'A session leader of N is outside of its pid namespace / No task found with sid N',
      evidence: ledOutside.map((s) => ev(s)),
      fix: 'dump from the session leader down, or start the job so that its root leads its own session',
    });
  }

  // A child forked while the snapshot was being read (a shell's `sleep`) shows up
  // as "outside" although it belongs to the tree: it descends from a tree process.
  const bornInside = (pid: number): boolean => {
    const seen = new Set<number>();
    for (let p = pid; p > 1 && !seen.has(p); p = snap.outside?.stats.get(p)?.ppid ?? 0) {
      if (snap.processes.has(p)) return true;
      seen.add(p);
    }
    return false;
  };

  for (const conn of pipePeers(snap)) {
    if (conn.contained) continue;
    const outsideEnds = [...conn.readers, ...conn.writers].filter(
      (h) => !h.inside && !bornInside(h.pid),
    );
    if (outsideEnds.length === 0) continue;
    findings.push({
      id: conn.kind === 'fifo' ? 'fifo-outside' : 'pipe-outside',
      severity: 'blocker',
      message: `${conn.kind === 'fifo' ? `FIFO ${conn.path}` : `pipe ${conn.inode}`} connects the tree with processes outside it (${outsideEnds.map((h) => `${h.comm} ${h.pid}`).join(', ')})`,
      criuSays: 'External pipe … Consider using --inherit-fd / --external',
      evidence: [...conn.readers, ...conn.writers].map((h) => ({
        pid: h.pid,
        comm: h.comm,
        fd: h.fd,
        target: `${conn.kind}:[${conn.inode}]`,
      })),
      fix: 'let one parent create every pipe of the pipeline (cryopipe run does); nothing outside the tree may hold a pipe end',
    });
  }

  for (const use of socketUses(snap)) {
    const s = use.descriptor.socket;
    const shared = use.outsideHolders.some((h) => !bornInside(h.pid));
    const listening = s && 'state' in s && /listen/i.test(String(s.state));
    if (!shared && (s?.family === 'netlink' || listening)) continue;
    findings.push({
      id: 'socket',
      severity:
        shared || s?.family === 'unix' || s?.family?.startsWith('tcp') ? 'blocker' : 'warning',
      ...describeSocket(s, use.inode, shared),
      evidence: use.holders.map((h) => ({
        pid: h.pid,
        ...(comm(h.pid) ? { comm: comm(h.pid) } : {}),
        fd: h.fd,
        target: `socket:[${use.inode}]`,
      })),
    });
  }

  for (const proc of snap.processes.values()) {
    for (const d of proc.fds) {
      if (d.kind === 'anon' && UNDUMPABLE_ANON.has(d.anonKind)) {
        findings.push({
          id: 'undumpable-descriptor',
          severity: 'blocker',
          message: `${proc.stat.comm} ${proc.pid} holds an ${d.anonKind} descriptor, which CRIU can't checkpoint`,
          evidence: [ev(proc.pid, d)],
          fix: `configure the program not to use ${d.anonKind} (e.g. disable io_uring), or checkpoint at a point where it is closed`,
        });
      }
      if (d.kind === 'file' && d.deleted) {
        findings.push({
          id: 'deleted-file',
          severity: 'warning',
          message: `${proc.stat.comm} ${proc.pid} holds the deleted file ${d.path}; CRIU saves its content in the images (ghost file), up to its ghost limit`,
          evidence: [ev(proc.pid, d)],
          fix: 'keep files the job uses in place until it ends',
        });
      }
    }
  }

  // Descriptors beyond stdio on the root that nobody in the tree created: inherited from whoever started it.
  const inheritedOnRoot = root.fds.filter(
    (d) => d.fd > 2 && d.kind !== 'pipe' && d.kind !== 'file',
  );
  if (inheritedOnRoot.length > 0) {
    findings.push({
      id: 'stray-descriptors',
      severity: 'warning',
      message: `the root holds ${inheritedOnRoot.length} descriptor${inheritedOnRoot.length > 1 ? 's' : ''} beyond stdin/stdout/stderr that it probably inherited`,
      evidence: inheritedOnRoot.map((d) => ev(root.pid, d)),
      fix: 'start the job from a parent that closes everything else (cryopipe run does)',
    });
  }

  const files = writableFiles(snap).filter((f) => !f.deleted);
  if (files.length > 0) {
    findings.push({
      id: 'writable-files',
      severity: 'info',
      message: `${new Set(files.map((f) => f.path)).size} file(s) open for writing must keep their size between checkpoint and restore (CRIU checks it); cryopipe records them and cuts a file that grew back to its checkpointed size`,
      criuSays: 'File … has bad size N (expect M)',
      evidence: files.map((f) => ({ pid: f.pid, fd: f.fd, target: f.path })),
      fix: "don't modify the output files between checkpoint and restore",
    });
  }

  const parent = root.stat.ppid;
  const parentComm = comm(parent);
  if (parentComm && SHELLS.has(parentComm)) {
    findings.push({
      id: 'started-from-shell',
      severity: 'info',
      message: `the root's parent is ${parentComm} ${parent}: the job was started from a shell`,
      evidence: [ev(parent)],
      fix: 'start long jobs with cryopipe run',
    });
  }
  const nsPids = root.status.nsPid;
  if (!nsPids || nsPids.length < 2) {
    findings.push({
      id: 'host-pid-namespace',
      severity: 'info',
      message: 'the tree runs in the host PID namespace: a restore needs its old PIDs to be free',
      evidence: [ev(root.pid)],
      fix: 'cryopipe run starts jobs as PID 1 of a fresh PID namespace, so restores get fresh PIDs',
    });
  }
  return findings;
}

/** The findings with severity 'blocker': those that make a checkpoint fail. */
export function blockingFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'blocker');
}

/** Findings as indented text for a terminal, evidence and fix included. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const ev = f.evidence
        .slice(0, 6)
        .map(
          (e) =>
            `      ${e.comm ?? ''} pid ${e.pid}${e.fd !== undefined ? ` fd ${e.fd}` : ''}${e.target ? ` -> ${e.target}` : ''}`,
        )
        .join('\n');
      const more = f.evidence.length > 6 ? `\n      … and ${f.evidence.length - 6} more` : '';
      return `  [${f.severity}] ${f.message}${f.criuSays ? `\n    criu: "${f.criuSays}"` : ''}\n${ev}${more}\n    fix: ${f.fix}`;
    })
    .join('\n');
}

type SocketFacts = NonNullable<Extract<Descriptor, { kind: 'socket' }>['socket']>;

/** The message, criu's words and the fix for a socket, by its kind: criu says different things. */
function describeSocket(
  s: SocketFacts | undefined,
  inode: number,
  shared: boolean,
): Pick<Finding, 'message' | 'criuSays' | 'fix'> {
  const where = shared ? 'is shared with processes outside the tree' : 'may lead outside the tree';
  const keepOut =
    'keep sockets out of the job (no inherited sockets; no connections to daemons); cryopipe run closes every inherited descriptor';
  if (s?.family === 'tcp' || s?.family === 'tcp6') {
    const ends = `${s.local.address}:${s.local.port} -> ${s.remote.address}:${s.remote.port}`;
    return {
      message: `a TCP connection (${ends}, ${s.state}, inode ${inode}) ${where}: a checkpoint would cut it, and the peer can't be restored with the job`,
      criuSays: 'Connected TCP socket, consider using --tcp-established option.',
      fix: 'close network connections before checkpointing (let the job read and write files, and move data over the network outside it); cryopipe does not checkpoint TCP connections',
    };
  }
  if (s?.family === 'udp' || s?.family === 'udp6') {
    return {
      message: `a UDP socket (${s.local.address}:${s.local.port}, inode ${inode}) ${where}`,
      fix: keepOut,
    };
  }
  if (s?.family === 'unix') {
    return {
      message: `a unix socket (inode ${inode}${s.path ? `, ${s.path}` : ''}) ${where}`,
      criuSays: 'unix: External socket is used. Consider using --ext-unix-sk option.',
      fix: keepOut,
    };
  }
  return {
    message: `a ${s?.family ?? 'socket'} socket (inode ${inode}) ${where}`,
    fix: keepOut,
  };
}

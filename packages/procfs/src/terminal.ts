import type { Snapshot } from './snapshot.ts';
import { decodeTtyNr, type TerminalDevice } from './tty.ts';

/** A controlling terminal of processes in the tree. */
export interface ControllingTerminal {
  /** Which terminal, decoded from stat's tty_nr. */
  device: TerminalDevice;
  /** The raw tty_nr of /proc/PID/stat (a device number). */
  ttyNr: number;
  /** Processes of the tree with this controlling terminal. */
  pids: number[];
  /** Sessions those processes belong to. */
  sessions: number[];
  /** The terminal's foreground process group (tpgid) as the tree sees it. */
  foregroundPgid: number;
  /** Processes outside the tree with the same controlling terminal (e.g. the shell); undefined when not scanned. */
  outsidePids?: number[] | undefined;
}

/** A descriptor of the tree that refers to a terminal or a pty master. */
export interface TerminalHandle {
  /** The process holding the descriptor. */
  pid: number;
  /** The descriptor number. */
  fd: number;
  /** The link target, e.g. /dev/pts/3 or /dev/ptmx. */
  path: string;
  /** A terminal (slave side) or a pty master. */
  kind: 'terminal' | 'pty-master';
  /** Which terminal; undefined when the device number could not be read. */
  device?: TerminalDevice | undefined;
}

/** What stands between a tree and a plain CRIU dump, terminal-wise. */
export interface TerminalFacts {
  /** Session and process-group facts of the tree's root. */
  root: {
    /** The root's pid. */
    pid: number;
    /** The root's session id. */
    session: number;
    /** The root's process group id. */
    pgrp: number;
    /** CRIU without --shell-job wants the root to lead its own session. */
    isSessionLeader: boolean;
    /** The root leads its own process group. */
    isGroupLeader: boolean;
  };
  /** Controlling terminals of processes of the tree. */
  controlling: ControllingTerminal[];
  /** Descriptors of the tree open on terminals or pty masters. */
  descriptors: TerminalHandle[];
  /** Sessions of the tree whose leader is outside it (CRIU cannot restore such a session). */
  sessionsLedOutside: number[];
  /** Some controlling terminal is also controlling processes outside the tree; undefined when not scanned. */
  sharedWithOutside?: boolean | undefined;
}

/** Terminal, session and group facts for a snapshot. */
export function terminalFacts(snapshot: Snapshot): TerminalFacts {
  const rootProc = snapshot.processes.get(snapshot.rootPid);
  if (!rootProc) throw new Error(`snapshot has no root process ${snapshot.rootPid}`);
  const rootStat = rootProc.stat;
  const byTty = new Map<number, ControllingTerminal>();
  const descriptors: TerminalHandle[] = [];
  const sessions = new Set<number>();
  for (const proc of snapshot.processes.values()) {
    const { stat } = proc;
    sessions.add(stat.session);
    const device = decodeTtyNr(stat.ttyNr);
    if (device) {
      let ct = byTty.get(stat.ttyNr);
      if (!ct) {
        ct = { device, ttyNr: stat.ttyNr, pids: [], sessions: [], foregroundPgid: stat.tpgid };
        byTty.set(stat.ttyNr, ct);
      }
      ct.pids.push(proc.pid);
      if (!ct.sessions.includes(stat.session)) ct.sessions.push(stat.session);
    }
    for (const d of proc.fds) {
      if (d.kind === 'terminal')
        descriptors.push({ pid: proc.pid, fd: d.fd, path: d.path, kind: d.kind, device: d.device });
      if (d.kind === 'pty-master')
        descriptors.push({ pid: proc.pid, fd: d.fd, path: d.path, kind: d.kind });
    }
  }
  const outside = snapshot.outside;
  if (outside) {
    for (const s of outside.stats.values()) {
      const ct = byTty.get(s.ttyNr);
      if (!ct || s.ttyNr === 0) continue;
      ct.outsidePids ??= [];
      ct.outsidePids.push(s.pid);
    }
    for (const ct of byTty.values()) ct.outsidePids ??= [];
  }
  const sessionsLedOutside = [...sessions].filter((sid) => !snapshot.tree.pids.includes(sid));
  return {
    root: {
      pid: rootStat.pid,
      session: rootStat.session,
      pgrp: rootStat.pgrp,
      isSessionLeader: rootStat.session === rootStat.pid,
      isGroupLeader: rootStat.pgrp === rootStat.pid,
    },
    controlling: [...byTty.values()],
    descriptors,
    sessionsLedOutside,
    sharedWithOutside: outside
      ? [...byTty.values()].some((ct) => (ct.outsidePids?.length ?? 0) > 0)
      : undefined,
  };
}

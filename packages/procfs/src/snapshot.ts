import type { Descriptor } from './descriptor.ts';
import type { AccessMode } from './fdinfo.ts';
import type { ProcessStat } from './stat.ts';
import type { ProcessStatus } from './status.ts';
import type { ProcessTree } from './tree.ts';

/** One process of a snapshot. */
export interface ProcessSnapshot {
  /** The process id (in the namespace of the procfs read). */
  pid: number;
  /** Parsed /proc/PID/stat. */
  stat: ProcessStat;
  /** Parsed /proc/PID/status. */
  status: ProcessStatus;
  /** argv from /proc/PID/cmdline; empty for kernel threads and zombies. */
  cmdline: string[];
  /** Empty for processes whose descriptors were not readable (kernel threads, zombies). */
  fds: Descriptor[];
  /** Inode of the process's network namespace (sockets are resolved per namespace). */
  netNamespace?: number | undefined;
}

/** A process outside the tree holding the same pipe, FIFO, socket or terminal as a process inside it. */
export interface OutsideHolder {
  /** The outside process. */
  pid: number;
  /** Its descriptor that refers to the shared object. */
  fd: number;
  /** Its command name (stat comm), for messages. */
  comm: string;
  /** How its descriptor was opened; undefined when unknown. */
  access?: AccessMode | undefined;
}

/** What the rest of the system holds that matters to the tree. */
export interface OutsideView {
  /** stat of every process not in the tree (for shared controlling terminals and sessions). */
  stats: Map<number, ProcessStat>;
  /** Holders outside the tree, keyed by pipe inode. */
  pipes: Map<number, OutsideHolder[]>;
  /** Keyed by socket inode. */
  sockets: Map<number, OutsideHolder[]>;
  /**
   * Keyed by the FIFO's identity, fileIdentity(device, inode) ("DEV:INO"), not by path: a path can
   * name another FIFO by now, and one FIFO can have several paths.
   */
  fifos: Map<string, OutsideHolder[]>;
  /** Keyed by terminal path (e.g. /dev/pts/3), descriptors only (controlling terminals are in stats). */
  terminals: Map<string, OutsideHolder[]>;
  /** Processes whose descriptors the kernel refused to show (non-dumpable processes, even to root). */
  unreadable: number[];
}

/** A consistent-enough picture of a process tree: everything a "can this be dumped?" check needs. */
export interface Snapshot {
  /** The pid the snapshot was taken from. */
  rootPid: number;
  /** When the snapshot was taken, in milliseconds since the epoch. */
  takenAtMs: number;
  /** The process tree under `rootPid` at that moment. */
  tree: ProcessTree;
  /** Processes of the tree that were read; the root is always present. */
  processes: Map<number, ProcessSnapshot>;
  /** Pids of the tree that exited while the snapshot was taken. */
  vanished: number[];
  /** Undefined when the snapshot was taken with `{ outside: false }`. */
  outside?: OutsideView | undefined;
}

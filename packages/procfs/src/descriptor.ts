import type { AccessMode, FdInfo } from './fdinfo.ts';
import type { Namespace } from './ns.ts';
import type { SocketInfo, SocketTable } from './socket.ts';
import { isTerminalMajor, splitDeviceNumber, type TerminalDevice, terminalDevice } from './tty.ts';

/** Anonymous-inode kinds named by the kernel in the fd link ("anon_inode:[eventfd]"). */
export type AnonInodeKind =
  | 'eventfd'
  | 'eventpoll'
  | 'signalfd'
  | 'timerfd'
  | 'inotify'
  | 'fanotify'
  | 'io_uring'
  | 'bpf-map'
  | 'bpf-prog'
  | 'bpf-link'
  | 'perf_event'
  | 'pidfd'
  | 'userfaultfd'
  | 'other';

interface DescriptorBase {
  /** The descriptor number in the owning process. */
  fd: number;
  /** The raw link target of /proc/PID/fd/FD. */
  target: string;
  /**
   * How the descriptor was opened: from fdinfo flags (files, pty masters), the link's permission bits
   * (pipes, FIFOs, terminals), or by definition (sockets: read-write; directories: read).
   * Undefined for anon inodes and non-terminal devices when read by ProcessHandle.fds(): use fdInfo(fd).
   */
  access?: AccessMode | undefined;
}

/** How the path of a file or directory relates to the open file, beyond the path itself. */
interface PathFacts {
  /**
   * The file has no links left (st_nlink 0, from stat through the fd link): it was unlinked while
   * open, and CRIU must save its contents in the images (a "ghost file"). Decided from the link
   * count, never from the " (deleted)" text the kernel appends to the link, which a real name may
   * contain. When only the link target is known (no stat), falls back to that suffix.
   */
  deleted: boolean;
  /**
   * The name the file was opened by was removed, but the file lives on under another hard link
   * (st_nlink > 0 and the kernel marks the link " (deleted)"); `path` is that removed name.
   * CRIU restores such a file through a temporary link ("link remap").
   */
  pathRemoved?: boolean | undefined;
  /** st_dev of the open file (kernel encoding, see splitDeviceNumber); with `inode`, identifies it. */
  device?: number | undefined;
  /** st_nlink: hard links of the open file. */
  links?: number | undefined;
}

/** A regular file (or a file on a special filesystem) opened by path. */
export interface FileDescriptor extends DescriptorBase, PathFacts {
  /** Discriminant: a regular file. */
  kind: 'file';
  /** The file's path as the fd link shows it, without the " (deleted)" mark. */
  path: string;
  /** Current size of the file in bytes; CRIU refuses to restore a writable file whose size changed. */
  size?: number | undefined;
  /** st_ino (or fdinfo ino, Linux 5.14+, when stat was not read). */
  inode?: number | undefined;
  /** File offset in bytes (fdinfo pos). */
  pos?: number | undefined;
  /** open(2) flags from fdinfo, e.g. 0o100001 = O_LARGEFILE|O_WRONLY. */
  flags?: number | undefined;
  /** O_APPEND: every write goes to the end, whatever `pos` says. */
  append?: boolean | undefined;
  /** Mount id of the file's mount, matching mountinfo's first field (fdinfo mnt_id, Linux 3.15+). */
  mntId?: number | undefined;
}
/** A directory held open (opendir, O_PATH, a cwd-like handle). */
export interface DirectoryDescriptor extends DescriptorBase, PathFacts {
  /** Discriminant: a directory. */
  kind: 'directory';
  /** The directory's path as the fd link shows it. */
  path: string;
  /** st_ino. */
  inode?: number | undefined;
}
/**
 * An anonymous pipe. Its inode alone identifies it: every pipe lives in the kernel's one internal
 * pipefs, so all pipes share one device.
 */
export interface PipeDescriptor extends DescriptorBase {
  /** Discriminant: an anonymous pipe end. */
  kind: 'pipe';
  /** The pipefs inode, from the link "pipe:[INODE]"; both ends of one pipe share it. */
  inode: number;
}
/**
 * A named pipe. It is identified by (`device`, `inode`), never by path: after `rm f; mkfifo f` two
 * different FIFOs had the same path, and one FIFO can be reached by several paths (bind mounts,
 * other mount namespaces). `path` is where the link says it is, for messages.
 */
export interface FifoDescriptor extends DescriptorBase, PathFacts {
  /** Discriminant: a named pipe. */
  kind: 'fifo';
  /** Where the fd link says the FIFO is (for messages only; not an identity). */
  path: string;
  /** st_dev of the filesystem holding the FIFO. */
  device: number;
  /** st_ino of the FIFO; with `device`, identifies it. */
  inode: number;
}

/** The identity of a FIFO (or any file): "DEVICE:INODE", the key of OutsideView.fifos. */
export function fileIdentity(device: number, inode: number): string {
  return `${device}:${inode}`;
}
/** A socket, identified by its sockfs inode. */
export interface SocketDescriptor extends DescriptorBase {
  /** Discriminant: a socket. */
  kind: 'socket';
  /** The sockfs inode, from the link "socket:[INODE]"; the key of the net tables. */
  inode: number;
  /** From the process's own /proc/PID/net tables; undefined for families not listed there (packet, raw, vsock, ...). */
  socket?: SocketInfo | undefined;
}
/** A terminal: a pts slave, a virtual console or a serial line. */
export interface TerminalDescriptor extends DescriptorBase {
  /** Discriminant: a terminal. */
  kind: 'terminal';
  /** e.g. /dev/pts/3 or /dev/tty1. */
  path: string;
  /** Which terminal, decoded from st_rdev. */
  device: TerminalDevice;
}
/** The master side of a pseudo-terminal (/dev/ptmx). */
export interface PtyMasterDescriptor extends DescriptorBase {
  /** Discriminant: a pty master. */
  kind: 'pty-master';
  /** The link target, normally /dev/ptmx or /dev/pts/ptmx. */
  path: string;
  /** The pts index of the slave (fdinfo "tty-index", Linux 4.19+). */
  ptyIndex?: number | undefined;
}
/** A character or block device that is not a terminal (e.g. /dev/null). */
export interface DeviceDescriptor extends DescriptorBase {
  /** Discriminant: a character or a block device. */
  kind: 'char-device' | 'block-device';
  /** The device file's path, e.g. /dev/null. */
  path: string;
  /** Device major and minor numbers, from st_rdev. */
  major: number;
  /** Device minor number, from st_rdev. */
  minor: number;
}
/** An anonymous inode (eventfd, epoll, signalfd, timerfd, inotify, pidfd, ...). */
export interface AnonDescriptor extends DescriptorBase {
  /** Discriminant: an anonymous inode. */
  kind: 'anon';
  /** Which anonymous inode; 'other' for names this package does not know. */
  anonKind: AnonInodeKind;
  /** The kernel's name, e.g. "[eventfd]" or "inotify". */
  name: string;
}
/** A memfd_create(2) file. */
export interface MemfdDescriptor extends DescriptorBase {
  /** Discriminant: a memfd. */
  kind: 'memfd';
  /** The name given to memfd_create(2) (the link reads "/memfd:NAME (deleted)"). */
  name: string;
  /** Size in bytes. */
  size?: number | undefined;
  /** st_ino. */
  inode?: number | undefined;
}
/** A namespace file held open (e.g. from /proc/PID/ns or setns). */
export interface NamespaceDescriptor extends DescriptorBase {
  /** Discriminant: a namespace. */
  kind: 'namespace';
  /** Which namespace: its type and inode. */
  namespace: Namespace;
}
/** A descriptor whose link target this package cannot classify; see `target`. */
export interface UnknownDescriptor extends DescriptorBase {
  /** Discriminant: not classified. */
  kind: 'unknown';
}

/** An open file descriptor, classified. Switch on `kind`. */
export type Descriptor =
  | FileDescriptor
  | DirectoryDescriptor
  | PipeDescriptor
  | FifoDescriptor
  | SocketDescriptor
  | TerminalDescriptor
  | PtyMasterDescriptor
  | DeviceDescriptor
  | AnonDescriptor
  | MemfdDescriptor
  | NamespaceDescriptor
  | UnknownDescriptor;

/** What stat(2) through the fd link says about the open file itself. */
export interface OpenFileStat {
  /** st_mode: file type and permission bits. */
  mode: number;
  /** st_size in bytes. */
  size: number;
  /** st_ino. */
  ino: number;
  /** st_dev: the device of the filesystem holding the file. */
  dev: number;
  /** st_rdev: the device a device file stands for (0 otherwise). */
  rdev: number;
  /** st_nlink: hard links; 0 once the open file has been unlinked. */
  nlink: number;
}

/** Everything gathered about one descriptor; only fd and target are required. */
export interface DescriptorFacts {
  /** The descriptor number. */
  fd: number;
  /** The raw link target of /proc/PID/fd/FD. */
  target: string;
  /** st_mode of the link itself (lstat): its owner r/w bits mirror the open mode. */
  linkMode?: number | undefined;
  /** stat of the open file (following the link). */
  stat?: OpenFileStat | undefined;
  /** The parsed /proc/PID/fdinfo/FD, when it was read. */
  fdInfo?: FdInfo | undefined;
  /**
   * Only when the target ends with " (deleted)" and the file still has links: whether the target,
   * suffix included, names this very file (same device and inode), i.e. the suffix is part of a
   * real name. Undefined when not checked; then the suffix is taken as the kernel's mark.
   */
  suffixIsName?: boolean | undefined;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const DELETED = ' (deleted)';

const ANON_KINDS: Record<string, AnonInodeKind> = {
  eventfd: 'eventfd',
  eventpoll: 'eventpoll',
  signalfd: 'signalfd',
  timerfd: 'timerfd',
  inotify: 'inotify',
  fanotify: 'fanotify',
  io_uring: 'io_uring',
  'bpf-map': 'bpf-map',
  'bpf-prog': 'bpf-prog',
  bpf_link: 'bpf-link',
  'bpf-link': 'bpf-link',
  perf_event: 'perf_event',
  pidfd: 'pidfd',
  userfaultfd: 'userfaultfd',
};

/** What a link target with an inode in brackets ("pipe:[123]") names, or undefined. */
export function bracketInode(target: string, prefix: string): number | undefined {
  if (!target.startsWith(prefix) || !target.endsWith(']')) return undefined;
  const n = Number(target.slice(prefix.length, -1));
  return Number.isInteger(n) ? n : undefined;
}

/** The access mode mirrored in the owner bits of a /proc/PID/fd/N link (lstat), undefined if neither. */
export function accessModeOfLinkMode(linkMode: number): AccessMode | undefined {
  const r = (linkMode & 0o400) !== 0;
  const w = (linkMode & 0o200) !== 0;
  return r && w ? 'read-write' : w ? 'write' : r ? 'read' : undefined;
}

function accessOf(facts: DescriptorFacts): AccessMode | undefined {
  if (facts.fdInfo) return facts.fdInfo.accessMode;
  // socket(2), socketpair(2) and accept(2) always give read-write descriptors; open(2) refuses to write a directory.
  if (facts.target.startsWith('socket:[')) return 'read-write';
  if (facts.stat && (facts.stat.mode & S_IFMT) === S_IFDIR) return 'read';
  return facts.linkMode === undefined ? undefined : accessModeOfLinkMode(facts.linkMode);
}

/** True when a target needs stat + fdinfo to be classified (it names a path), false for pipe:/socket:/anon. */
export function targetNamesPath(target: string): boolean {
  return target.startsWith('/');
}

/**
 * The path a descriptor names and whether its file is deleted. The kernel appends " (deleted)" to
 * the link of an unlinked name, and a real name may end with that very text, so the link count
 * decides: nlink 0 is deleted (one suffix is the kernel's mark); nlink > 0 with the suffix is either
 * a real name (`suffixIsName`) or a removed name of a file linked elsewhere (`pathRemoved`).
 */
function pathOf(facts: DescriptorFacts): PathFacts & { path: string } {
  const { target, stat } = facts;
  const marked = target.endsWith(DELETED);
  const stripped = marked ? target.slice(0, -DELETED.length) : target;
  if (stat === undefined) return { path: stripped, deleted: marked };
  const known = { device: stat.dev, links: stat.nlink };
  if (stat.nlink === 0) return { path: stripped, deleted: true, ...known };
  if (!marked || facts.suffixIsName === true) return { path: target, deleted: false, ...known };
  return { path: stripped, deleted: false, pathRemoved: true, ...known };
}

/** Classifies one descriptor from its link target and whatever else was gathered; pure. */
export function classifyDescriptor(facts: DescriptorFacts, sockets?: SocketTable): Descriptor {
  const { fd, target } = facts;
  const access = accessOf(facts);
  const base = { fd, target, access };
  const pipe = bracketInode(target, 'pipe:[');
  if (pipe !== undefined) return { ...base, kind: 'pipe', inode: pipe };
  const socket = bracketInode(target, 'socket:[');
  if (socket !== undefined)
    return { ...base, kind: 'socket', inode: socket, socket: sockets?.get(socket) };
  if (target.startsWith('anon_inode:')) {
    const name = target.slice('anon_inode:'.length);
    const bare = name.replace(/^\[|\]$/g, '');
    return { ...base, kind: 'anon', anonKind: ANON_KINDS[bare] ?? 'other', name };
  }
  if (bracketInode(target, 'pidfd:[') !== undefined)
    return { ...base, kind: 'anon', anonKind: 'pidfd', name: target };
  const ns = /^([a-z_]+):\[(\d+)\]$/.exec(target);
  if (ns) return { ...base, kind: 'namespace', namespace: { type: ns[1]!, inode: Number(ns[2]) } };
  if (!targetNamesPath(target)) return { ...base, kind: 'unknown' };

  const st = facts.stat;
  const { path, ...pathFacts } = pathOf(facts);
  if (path.startsWith('/memfd:')) {
    return {
      ...base,
      kind: 'memfd',
      name: path.slice('/memfd:'.length),
      size: st?.size,
      inode: st?.ino,
    };
  }
  const type = st === undefined ? undefined : st.mode & S_IFMT;
  if (type === S_IFDIR) return { ...base, kind: 'directory', path, inode: st!.ino, ...pathFacts };
  if (type === S_IFIFO)
    return { ...base, kind: 'fifo', path, ...pathFacts, device: st!.dev, inode: st!.ino };
  if (type === S_IFCHR || type === S_IFBLK) {
    const { major, minor } = splitDeviceNumber(st!.rdev);
    if (type === S_IFCHR && isTerminalMajor(major)) {
      const device = terminalDevice(major, minor);
      if (device.kind === 'ptmx') {
        const index = facts.fdInfo?.extra.find(([k]) => k === 'tty-index')?.[1];
        return {
          ...base,
          kind: 'pty-master',
          path,
          ptyIndex: index === undefined ? undefined : Number(index),
        };
      }
      return { ...base, kind: 'terminal', path, device };
    }
    return { ...base, kind: type === S_IFCHR ? 'char-device' : 'block-device', path, major, minor };
  }
  const info = facts.fdInfo;
  if (type === S_IFREG || type === undefined) {
    return {
      ...base,
      kind: 'file',
      path,
      ...pathFacts,
      size: st?.size,
      inode: st?.ino ?? info?.ino,
      pos: info?.pos,
      flags: info?.flags,
      append: info?.append,
      mntId: info?.mntId,
    };
  }
  return { ...base, kind: 'unknown' };
}

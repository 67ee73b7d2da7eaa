import { type Descriptor, fileIdentity } from './descriptor.ts';
import type { AccessMode } from './fdinfo.ts';
import type { OutsideHolder, Snapshot } from './snapshot.ts';

/** A process holding one end of a pipe or FIFO. */
export interface PipeEndHolder {
  /** The holding process. */
  pid: number;
  /** The descriptor number in that process. */
  fd: number;
  /** The holder's command name (stat comm). */
  comm: string;
  /** True when the process belongs to the snapshot's tree. */
  inside: boolean;
}

/**
 * Where the holders of one end are:
 * 'inside' only in the tree; 'outside' only elsewhere; 'both'; 'none' nobody holds it (closed);
 * 'unknown' nobody in the tree holds it and the snapshot did not look outside.
 */
export type EndLocation = 'inside' | 'outside' | 'both' | 'none' | 'unknown';

/** One pipe or FIFO that a process of the tree holds, with both ends located. */
export interface PipeConnection {
  /** Whether this is an anonymous pipe or a named pipe (FIFO). */
  kind: 'pipe' | 'fifo';
  /** Pipe inode (pipefs) or the FIFO's inode on its filesystem. */
  inode: number;
  /** The FIFO's st_dev: with `inode`, what identifies it. Undefined for pipes (all in one pipefs). */
  device?: number | undefined;
  /** FIFO path as the first holder's link shows it; undefined for anonymous pipes. */
  path?: string | undefined;
  /** The FIFO has been removed from the file system (link count 0); undefined for pipes. */
  deleted?: boolean | undefined;
  /** Holders of the read end (descriptors open for reading or read-write). */
  readers: PipeEndHolder[];
  /** Holders of the write end (descriptors open for writing or read-write). */
  writers: PipeEndHolder[];
  /** Where the readers are. */
  readEnd: EndLocation;
  /** Where the writers are. */
  writeEnd: EndLocation;
  /** Both ends are held, and only by processes of the tree: CRIU can dump this pipe as is. */
  contained: boolean;
}

function locate(holders: PipeEndHolder[], lookedOutside: boolean): EndLocation {
  const inside = holders.some((h) => h.inside);
  const outside = holders.some((h) => !h.inside);
  if (inside && outside) return 'both';
  if (inside) return 'inside';
  if (outside) return 'outside';
  return lookedOutside ? 'none' : 'unknown';
}

function addByAccess(
  conn: PipeConnection,
  holder: PipeEndHolder,
  access: AccessMode | undefined,
): void {
  if (access === 'read' || access === 'read-write') conn.readers.push(holder);
  if (access === 'write' || access === 'read-write') conn.writers.push(holder);
}

/** Locates the ends of every pipe and FIFO held by the tree, including holders outside it (when scanned). */
export function pipePeers(snapshot: Snapshot): PipeConnection[] {
  const byKey = new Map<string, PipeConnection>();
  for (const proc of snapshot.processes.values()) {
    for (const d of proc.fds) {
      if (d.kind !== 'pipe' && d.kind !== 'fifo') continue;
      // Identity, never path: after `rm f; mkfifo f` two FIFOs share a path. Pipes all live in the
      // kernel's one pipefs, so their inode alone identifies them.
      const key = d.kind === 'pipe' ? `pipe:${d.inode}` : `fifo:${fileIdentity(d.device, d.inode)}`;
      let conn = byKey.get(key);
      if (!conn) {
        conn = {
          kind: d.kind,
          inode: d.inode,
          device: d.kind === 'fifo' ? d.device : undefined,
          path: d.kind === 'fifo' ? d.path : undefined,
          deleted: d.kind === 'fifo' ? d.deleted : undefined,
          readers: [],
          writers: [],
          readEnd: 'unknown',
          writeEnd: 'unknown',
          contained: false,
        };
        byKey.set(key, conn);
      }
      addByAccess(conn, { pid: proc.pid, fd: d.fd, comm: proc.stat.comm, inside: true }, d.access);
    }
  }
  const outside = snapshot.outside;
  for (const conn of byKey.values()) {
    const holders: OutsideHolder[] | undefined =
      conn.kind === 'pipe'
        ? outside?.pipes.get(conn.inode)
        : outside?.fifos.get(fileIdentity(conn.device ?? 0, conn.inode));
    for (const h of holders ?? [])
      addByAccess(conn, { pid: h.pid, fd: h.fd, comm: h.comm, inside: false }, h.access);
    conn.readEnd = locate(conn.readers, outside !== undefined);
    conn.writeEnd = locate(conn.writers, outside !== undefined);
    conn.contained = conn.readEnd === 'inside' && conn.writeEnd === 'inside';
  }
  return [...byKey.values()];
}

/** A socket held by the tree, with any holders of the same socket outside it. */
export interface SocketUse {
  /** The sockfs inode shared by every holder. */
  inode: number;
  /** The descriptor of the first holder inside (with `socket` resolved when the tables list it). */
  descriptor: Extract<Descriptor, { kind: 'socket' }>;
  /** Every descriptor of the tree that refers to this socket. */
  holders: Array<{
    /** The holding process. */
    pid: number;
    /** The descriptor number in that process. */
    fd: number;
  }>;
  /** Processes outside the tree sharing this very socket (inherited descriptor); [] when none or not scanned. */
  outsideHolders: OutsideHolder[];
}

/**
 * Sockets held by the tree. /proc does not name the peer of a connected unix socket
 * (that needs sock_diag netlink); a unix socket with state 'connected' may lead anywhere.
 */
export function socketUses(snapshot: Snapshot): SocketUse[] {
  const byInode = new Map<number, SocketUse>();
  for (const proc of snapshot.processes.values()) {
    for (const d of proc.fds) {
      if (d.kind !== 'socket') continue;
      let use = byInode.get(d.inode);
      if (!use) {
        use = {
          inode: d.inode,
          descriptor: d,
          holders: [],
          outsideHolders: snapshot.outside?.sockets.get(d.inode) ?? [],
        };
        byInode.set(d.inode, use);
      }
      use.holders.push({ pid: proc.pid, fd: d.fd });
    }
  }
  return [...byInode.values()];
}

/** A regular file open for writing in the tree: CRIU records its size and refuses to restore if it changed. */
export interface WritableFile {
  /** The holding process. */
  pid: number;
  /** The descriptor number in that process. */
  fd: number;
  /** Where the link says the file is (the kernel's " (deleted)" mark removed when it is one). */
  path: string;
  /** No links left: CRIU saves its contents (ghost file). See FileDescriptor.deleted. */
  deleted: boolean;
  /** The name it was opened by was removed; the file lives on under another link. */
  pathRemoved?: boolean | undefined;
  /** Size in bytes now; CRIU records it and refuses to restore when it changed. */
  size?: number | undefined;
  /** File offset in bytes. */
  pos?: number | undefined;
  /** How the file was opened: 'write' or 'read-write'. */
  access: AccessMode;
  /** Opened with O_APPEND. */
  append: boolean;
}

/** Regular files opened for writing by processes of the tree. */
export function writableFiles(snapshot: Snapshot): WritableFile[] {
  const out: WritableFile[] = [];
  for (const proc of snapshot.processes.values()) {
    for (const d of proc.fds) {
      if (d.kind !== 'file' || (d.access !== 'write' && d.access !== 'read-write')) continue;
      out.push({
        pid: proc.pid,
        fd: d.fd,
        path: d.path,
        deleted: d.deleted,
        pathRemoved: d.pathRemoved,
        size: d.size,
        pos: d.pos,
        access: d.access,
        append: d.append ?? false,
      });
    }
  }
  return out;
}

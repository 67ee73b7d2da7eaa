// A checkpoint directory as a typed, JSON-serialisable summary: the process
// tree, each process's descriptors and memory, the pipes between processes
// with the bytes in flight, and the files a restore needs.

import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isFieldSet } from '@bufbuild/protobuf';
import type {
  core_entry,
  fdinfo_entry,
  file_entry,
  memfd_inode_entry,
  mm_entry,
  pagemap_entry,
  pipe_data_entry,
  pstree_entry,
  reg_file_entry,
  task_kobj_ids_entry,
  tty_info_entry,
} from '../gen/images_pb.ts';
import { fd_types, reg_file_entrySchema, TtyType } from '../gen/images_pb.ts';
import type { stats_entry } from '../gen/stats_pb.ts';
import { type AnyImage, classifyImage, type DecodedImage, type DecodedMagic } from './decode.ts';
import { ImageError } from './framing.ts';

/** Bytes per page in the images (x86-64, arm64 with 4 KiB pages). */
export const PAGE_SIZE = 4096;

/** Memory of one process by kind, in bytes. */
export interface MemoryBytes {
  /** Anonymous private memory: heap, stacks, anonymous mmaps. */
  private: number;
  /** Shared memory: MAP_SHARED anonymous memory and shmem. */
  shared: number;
  /** File mappings (private copies of file pages and MAP_SHARED files). */
  file: number;
}

/** One thread of a dumped process, from its core image. */
export interface ThreadSummary {
  /** Thread id at dump time. */
  tid: number;
  /** The thread's name (its comm), when CRIU recorded one. */
  comm?: string | undefined;
  /** Instruction and stack pointer as 0x… hex (x86-64 only). */
  ip?: string | undefined;
  /** Stack pointer at dump time, as text; undefined when the core image has none. */
  sp?: string | undefined;
  /** The system call the thread was in (orig_ax), or -1 when none. */
  syscall?: number | undefined;
}

/** What a dumped process was doing: running, a zombie, stopped, or not recorded. */
export type ProcessState = 'alive' | 'zombie' | 'stopped' | 'unknown';

/** A descriptor of a process, resolved through files.img; `type` says which kind. */
export type DescriptorSummary =
  | {
      /** The descriptor number. */
      fd: number;
      /** An end of an anonymous pipe. */
      type: 'pipe';
      /** The pipe's inode number at dump time (shared by both ends). */
      pipeId: number;
      /** Which end this descriptor holds. */
      end: 'read' | 'write';
      /** open(2) flags (O_NONBLOCK 0x800 …). */
      flags: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** An end of a named pipe. */
      type: 'fifo';
      /** The FIFO's inode number at dump time. */
      pipeId: number;
      /** The FIFO's path, when files.img has it. */
      path?: string | undefined;
      /** open(2) flags, when files.img has them. */
      flags?: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** A regular file, directory or device opened by path. */
      type: 'file';
      /** The file's path at dump time. */
      path: string;
      /** File offset at dump time. */
      pos: number;
      /** open(2) flags (O_WRONLY 1, O_RDWR 2, O_APPEND 0x400 …). */
      flags: number;
      /** Size recorded for regular files (restore refuses another size). */
      size?: number | undefined;
      /** st_mode (type and permission bits). */
      mode?: number | undefined;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** A unix-domain socket. */
      type: 'unix-socket';
      /** The socket's inode number. */
      ino: number;
      /** Inode of the connected peer socket, if any. */
      peer?: number | undefined;
      /** Bound name; abstract names start with "@". */
      name?: string | undefined;
      /** SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5. */
      socketType: number;
      /** The kernel's socket state (TCP_* numbering: 1 established, 10 listening, 7 closed). */
      state: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** A TCP or UDP socket. */
      type: 'inet-socket';
      /** The socket's inode number. */
      ino: number;
      /** Address family: 'ipv4', 'ipv6', or the raw AF_* number of another. */
      family: 'ipv4' | 'ipv6' | number;
      /** IP protocol number (6 TCP, 17 UDP). */
      proto: number;
      /** TCP state (TCP_* numbering: 1 established, 10 listening). */
      state: number;
      /** Local address: dotted IPv4, or IPv6 as eight hex groups (not shortened). */
      src: string;
      /** Local port. */
      srcPort: number;
      /** Remote address, written as `src` is (all zeros when unconnected). */
      dst: string;
      /** Remote port (0 when unconnected). */
      dstPort: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** A terminal. */
      type: 'tty';
      /** CRIU's tty kind: PTY, CONSOLE, VT, CTTY, EXT_TTY, SERIAL, UNKNOWN. */
      ttyType?: string | undefined;
      /** /dev/pts index of a pty. */
      index?: number | undefined;
      /** open(2) flags. */
      flags: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** A memfd, or anonymous shared memory. */
      type: 'memfd';
      /** memfd name ("/dev/zero" for anonymous shared memory). */
      name?: string | undefined;
      /** The memfd's size in bytes, when recorded. */
      size?: number | undefined;
      /** File offset at dump time. */
      pos: number;
    }
  | {
      /** The descriptor number. */
      fd: number;
      /** Any other kind (eventfd, epoll, signalfd, inotify, …). */
      type: 'other';
      /** CRIU's name for the kind, e.g. `EVENTFD`. */
      kind: string;
      /** Its id in files.img. */
      fileId: number;
    };

/** One process of a checkpoint, from pstree, core and fdinfo images. */
export interface ProcessSummary {
  /** Pid at dump time. */
  pid: number;
  /** Parent pid at dump time. */
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** Session id. */
  sid: number;
  /** comm of the process (from its core image). */
  command: string;
  /** Path of the executable, from mm's exe_file_id. */
  exe?: string | undefined;
  /** The process's state at dump time. */
  state: ProcessState;
  /** Exit code recorded in the core image (meaningful for zombies). */
  exitCode: number;
  /** Its threads, main thread first. */
  threads: ThreadSummary[];
  /**
   * Bytes of memory saved in the images, by kind. `shared` counts each shmem
   * segment the process maps in full, so a segment two processes share is
   * counted for both.
   */
  memory: MemoryBytes;
  /** Bytes of address space mapped, by kind (saved or not). */
  mapped: MemoryBytes;
  /** Pages CRIU saved in this process's own pagemap (private and file; not shmem). */
  pages: number;
  /** Its open descriptors. */
  descriptors: DescriptorSummary[];
}

/** One descriptor holding an end of a pipe or FIFO. */
export interface PipeEnd {
  /** The holding process. */
  pid: number;
  /** Its descriptor number. */
  fd: number;
  /** Which end it holds. */
  end: 'read' | 'write';
}

/** A pipe or FIFO of a checkpoint, with every end held in it. */
export interface PipeSummary {
  /** The pipe's inode number at dump time. */
  pipeId: number;
  /** Anonymous pipe or named pipe (FIFO). */
  kind: 'pipe' | 'fifo';
  /** Bytes that were in the pipe's buffer (saved in pipes-data.img / fifo-data.img). */
  bufferedBytes: number;
  /** Capacity when it was not the default, from F_GETPIPE_SZ. */
  capacity?: number | undefined;
  /** Every descriptor holding one of its ends. */
  ends: PipeEnd[];
}

/** One way a dumped process used a file. */
export interface FileUse {
  /** The process. */
  pid: number;
  /** Descriptor number; absent for a mapping or the executable. */
  fd?: number | undefined;
  /** File offset in bytes, for a descriptor; undefined otherwise. */
  pos?: number | undefined;
  /** open(2) flags, for a descriptor; undefined otherwise. */
  flags?: number | undefined;
  /** As an open descriptor, a memory mapping, or the executable. */
  use: 'fd' | 'mapping' | 'exe';
}

/** A regular file the restore opens, with what CRIU recorded of it. */
export interface FileSummary {
  /** The file's path as recorded in the images. */
  path: string;
  /** Size at dump time: a restore refuses a file whose size differs. */
  size?: number | undefined;
  /** st_mode recorded for the file; undefined when not recorded. */
  mode?: number | undefined;
  /** True when some process holds it open for writing. */
  writable: boolean;
  /** Every use of the file by the dumped processes. */
  uses: FileUse[];
}

/** One image file of a checkpoint directory. */
export interface ImageSummary {
  /** File name inside the checkpoint directory, e.g. core-1234.img. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** decoded: entries read; unknown: a CRIU image kind not decoded here; raw: no CRIU framing (pages, logs). */
  kind: AnyImage['kind'];
  /** The image's magic name, e.g. CORE; undefined for files that are not framed images. */
  magic?: string | undefined;
  /** Number of entries decoded; undefined when the image was not decoded. */
  entries?: number | undefined;
}

/** Everything `readCheckpoint()` learns from a checkpoint directory. */
export interface CheckpointSummary {
  /** The checkpoint directory read. */
  dir: string;
  /** Image format version, from inventory.img. */
  imgVersion: number;
  /** criu's run id of the dump, when recorded. */
  criuRunId?: string | undefined;
  /** The root process (first pstree entry). */
  rootPid: number;
  /** The dumped processes, root first. */
  processes: ProcessSummary[];
  /** Pipes and FIFOs held by the dumped processes. */
  pipes: PipeSummary[];
  /** Files used by the dumped processes. */
  files: FileSummary[];
  /** criu's dump statistics (stats-dump), times in µs. */
  stats?: Record<string, number> | undefined;
  /** Every file of the directory. */
  images: ImageSummary[];
}

/** Files never decoded, only listed: page data and criu's logs. */
const RAW_BY_NAME = /^pages-\d+\.img$|\.log$/;

/** Reads one image file: only the head of raw or unknown ones. */
async function loadImage(path: string, name: string): Promise<AnyImage> {
  const { size } = await stat(path);
  if (RAW_BY_NAME.test(name)) return { kind: 'raw', name, size };
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    const first = classifyImage(head.subarray(0, bytesRead), name);
    if (first.kind === 'raw') return { kind: 'raw', name, size };
  } catch (err) {
    if (!ImageError.is(err)) throw err;
    // A head that cannot stand alone (e.g. 8 bytes of a longer image): read it all below.
  } finally {
    await handle.close();
  }
  const image = classifyImage(await readFile(path), name);
  return image.kind === 'unknown' ? { ...image, size } : image;
}

/** Reads and decodes every image of a checkpoint directory (raw pages are only listed). */
export async function readImages(dir: string): Promise<AnyImage[]> {
  const names = (await readdir(dir)).sort();
  const out: AnyImage[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (!(await stat(path)).isFile()) continue;
      out.push(await loadImage(path, name));
    } catch (err) {
      // A file that went away after readdir was not one of criu's images
      // (criu is done with a directory before anyone reads it): a tool's
      // pid or temporary file, such as a background sealer's.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
  }
  return out;
}

type Decoded<M extends DecodedMagic> = DecodedImage<M>;

class ImageSet {
  readonly #byName = new Map<string, AnyImage>();
  constructor(images: AnyImage[]) {
    for (const image of images) this.#byName.set(image.name, image);
  }
  names(): string[] {
    return [...this.#byName.keys()];
  }
  get<M extends DecodedMagic>(name: string, magic: M): Decoded<M> | undefined {
    const image = this.#byName.get(name);
    if (image?.kind !== 'decoded') return undefined;
    if (image.magic !== magic) {
      throw new ImageError(`expected a ${magic} image, found ${image.magic}`, {
        code: 'BAD_MAGIC',
        offset: 4,
        image: name,
      });
    }
    return image as unknown as Decoded<M>;
  }
  messages<M extends DecodedMagic>(
    name: string,
    magic: M,
  ): Decoded<M>['entries'][number]['message'][] {
    return (this.get(name, magic)?.entries ?? []).map((e) => e.message);
  }
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;

function stateOf(taskState: number | undefined): ProcessState {
  switch (taskState) {
    case 1:
      return 'alive';
    case 3:
      return 'zombie';
    case 6:
      return 'stopped';
    default:
      return 'unknown';
  }
}

/** Which MemoryBytes bucket a mapping belongs to, from CRIU's VMA status bits. */
function memoryKind(status: number): keyof MemoryBytes | undefined {
  // VMA_ANON_SHARED, VMA_AREA_MEMFD (anonymous MAP_SHARED on current
  // kernels, and memfds), VMA_AREA_SYSVIPC: shmem, whatever the file bits say.
  if (status & (0x100 | 0x4000 | 0x400)) return 'shared';
  if (status & (0x40 | 0x80)) return 'file'; // VMA_FILE_PRIVATE, VMA_FILE_SHARED
  if (status & 0x200) return 'private'; // VMA_ANON_PRIVATE
  return undefined; // vdso, vvar, vsyscall: the kernel's, not saved
}

/**
 * Memory of one process. Private and file pages come from its own pagemap;
 * shared memory (shmem) is saved once per segment in
 * pagemap-shmem-<shmid>.img and counted for every process that maps it.
 */
function memoryOf(
  mm: mm_entry | undefined,
  pagemap: pagemap_entry[],
  segmentOf: (vma: mm_entry['vmas'][number]) => number | undefined,
  shmemBytes: Map<number, number>,
) {
  const mapped: MemoryBytes = { private: 0, shared: 0, file: 0 };
  const memory: MemoryBytes = { private: 0, shared: 0, file: 0 };
  const vmas = (mm?.vmas ?? []).map((v) => ({
    start: v.start,
    end: v.end,
    kind: memoryKind(v.status),
    segment: memoryKind(v.status) === 'shared' ? segmentOf(v) : undefined,
  }));
  for (const v of vmas) if (v.kind) mapped[v.kind] += Number(v.end - v.start);
  let pages = 0;
  for (const entry of pagemap) {
    const n = entry.nrPages ? Number(entry.nrPages) : entry.compatNrPages;
    pages += n;
    // A run of pages lies inside one VMA (CRIU splits runs at VMA borders).
    const vma = vmas.find((v) => entry.vaddr >= v.start && entry.vaddr < v.end);
    memory[vma?.kind ?? 'private'] += n * PAGE_SIZE;
  }
  const segments = new Set(
    vmas.map((v) => v.segment).filter((id): id is number => id !== undefined),
  );
  for (const id of segments) memory.shared += shmemBytes.get(id) ?? 0;
  return { mapped, memory, pages };
}

/** The size CRIU recorded (only for regular files), undefined when it recorded none. */
function recordedSize(reg: reg_file_entry): number | undefined {
  return isFieldSet(reg, reg_file_entrySchema.field.size) ? Number(reg.size) : undefined;
}

function ipString(words: number[]): string {
  // Words are in network byte order as stored by the kernel on a
  // little-endian machine: the first address byte is the low byte.
  const bytes = words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
  if (words.length === 1) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

function unixName(name: Uint8Array): string | undefined {
  if (name.length === 0) return undefined;
  if (name[0] === 0) return `@${Buffer.from(name.subarray(1)).toString('utf8')}`;
  return Buffer.from(name).toString('utf8');
}

function describe(
  fd: fdinfo_entry,
  file: file_entry | undefined,
  files: Map<number, file_entry>,
  ttys: Map<number, tty_info_entry>,
  memfdInodes: Map<string, memfd_inode_entry>,
): DescriptorSummary {
  const kind = fd_types[fd.type] ?? String(fd.type);
  if (!file) return { fd: fd.fd, type: 'other', kind, fileId: fd.id };
  if (file.pipe) {
    return {
      fd: fd.fd,
      type: 'pipe',
      pipeId: file.pipe.pipeId,
      end: (file.pipe.flags & O_ACCMODE) === 0 ? 'read' : 'write',
      flags: file.pipe.flags,
    };
  }
  if (file.fifo) {
    const reg = file.fifo.regfId !== undefined ? files.get(file.fifo.regfId)?.reg : undefined;
    return {
      fd: fd.fd,
      type: 'fifo',
      pipeId: file.fifo.pipeId,
      path: reg?.name,
      ...(reg && { flags: reg.flags }),
    };
  }
  if (file.reg) {
    return {
      fd: fd.fd,
      type: 'file',
      path: file.reg.name,
      pos: Number(file.reg.pos),
      flags: file.reg.flags,
      size: recordedSize(file.reg),
      mode: file.reg.mode,
    };
  }
  if (file.usk) {
    return {
      fd: fd.fd,
      type: 'unix-socket',
      ino: file.usk.ino,
      peer: file.usk.peer || undefined,
      name: unixName(file.usk.name),
      socketType: file.usk.type,
      state: file.usk.state,
    };
  }
  if (file.isk) {
    const s = file.isk;
    return {
      fd: fd.fd,
      type: 'inet-socket',
      ino: s.ino,
      family: s.family === 2 ? 'ipv4' : s.family === 10 ? 'ipv6' : s.family,
      proto: s.proto,
      state: s.state,
      src: ipString(s.srcAddr),
      srcPort: s.srcPort,
      dst: ipString(s.dstAddr),
      dstPort: s.dstPort,
    };
  }
  if (file.memfd) {
    const inode = memfdInodes.get(String(file.memfd.inodeId));
    return {
      fd: fd.fd,
      type: 'memfd',
      name: inode?.name,
      size: inode ? Number(inode.size) : undefined,
      pos: Number(file.memfd.pos),
    };
  }
  if (file.tty) {
    const info = ttys.get(file.tty.ttyInfoId);
    return {
      fd: fd.fd,
      type: 'tty',
      ttyType: info ? TtyType[info.type] : undefined,
      index: info?.pty?.index,
      flags: file.tty.flags,
    };
  }
  return { fd: fd.fd, type: 'other', kind, fileId: fd.id };
}

function statsOf(entries: stats_entry[]): Record<string, number> | undefined {
  const dump = entries[0]?.dump;
  if (!dump) return undefined;
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(dump)) {
    if (typeof value === 'number' || typeof value === 'bigint') out[key] = Number(value);
  }
  return out;
}

/** The cross-process tables every process's summary looks things up in. */
interface Tables {
  set: ImageSet;
  files: Map<number, file_entry>;
  ttys: Map<number, tty_info_entry>;
  /** `pipe:<id>` / `fifo:<id>` -> what was buffered. */
  pipeData: Map<string, pipe_data_entry>;
  /** memfd inode_id -> its inode (memfd.img). */
  memfdInodes: Map<string, memfd_inode_entry>;
  /** shmem segment id -> bytes saved in pagemap-shmem-<id>.img. */
  shmemBytes: Map<number, number>;
}

function tablesOf(set: ImageSet): Tables {
  const files = new Map<number, file_entry>();
  for (const f of set.messages('files.img', 'FILES') as file_entry[]) files.set(f.id, f);
  const ttys = new Map<number, tty_info_entry>();
  for (const t of set.messages('tty-info.img', 'TTY_INFO') as tty_info_entry[]) ttys.set(t.id, t);
  const pipeData = new Map<string, pipe_data_entry>();
  for (const d of set.messages('pipes-data.img', 'PIPES_DATA') as pipe_data_entry[])
    pipeData.set(`pipe:${d.pipeId}`, d);
  for (const d of set.messages('fifo-data.img', 'FIFO_DATA') as pipe_data_entry[])
    pipeData.set(`fifo:${d.pipeId}`, d);
  const memfdInodes = new Map<string, memfd_inode_entry>();
  for (const m of set.messages('memfd.img', 'MEMFD_INODE') as memfd_inode_entry[])
    memfdInodes.set(String(m.inodeId), m);
  const shmemBytes = new Map<number, number>();
  for (const name of set.names()) {
    const id = /^pagemap-shmem-(\d+)\.img$/.exec(name)?.[1];
    if (id === undefined) continue;
    const entries = (set.messages(name, 'PAGEMAP') as pagemap_entry[]).slice(1);
    const pages = entries.reduce(
      (n, e) => n + (e.nrPages ? Number(e.nrPages) : e.compatNrPages),
      0,
    );
    shmemBytes.set(Number(id), pages * PAGE_SIZE);
  }
  return { set, files, ttys, pipeData, memfdInodes, shmemBytes };
}

/** The shmem segment a shared mapping shows: its shmid, or through a memfd's inode. */
function segmentResolver(t: Tables) {
  return (vma: mm_entry['vmas'][number]): number | undefined => {
    if (vma.status & 0x100) return Number(vma.shmid); // VMA_ANON_SHARED: shmid is the segment
    const memfd = t.files.get(Number(vma.shmid))?.memfd; // VMA_AREA_MEMFD: shmid is a file id
    return memfd ? t.memfdInodes.get(String(memfd.inodeId))?.shmid : undefined;
  };
}

function threadsOf(set: ImageSet, p: pstree_entry, core: core_entry | undefined): ThreadSummary[] {
  return (p.threads.length ? p.threads : [p.pid]).map((tid): ThreadSummary => {
    const tcore =
      tid === p.pid ? core : (set.messages(`core-${tid}.img`, 'CORE')[0] as core_entry | undefined);
    const regs = tcore?.threadInfo?.gpregs;
    return {
      tid,
      comm: tcore?.threadCore?.comm || undefined,
      ip: regs ? hex(regs.ip) : undefined,
      sp: regs ? hex(regs.sp) : undefined,
      syscall: regs ? Number(BigInt.asIntN(64, regs.origAx)) : undefined,
    };
  });
}

/** One process: its core, ids, memory and descriptors (fdinfo -> files.img). */
function processOf(
  t: Tables,
  p: pstree_entry,
): { summary: ProcessSummary; fdinfo: fdinfo_entry[]; mm?: mm_entry } {
  const { set, files, ttys } = t;
  const core = set.messages(`core-${p.pid}.img`, 'CORE')[0] as core_entry | undefined;
  const ids =
    (set.messages(`ids-${p.pid}.img`, 'IDS')[0] as task_kobj_ids_entry | undefined) ?? core?.ids;
  const threads = threadsOf(set, p, core);
  const mm = set.messages(`mm-${p.pid}.img`, 'MM')[0] as mm_entry | undefined;
  const pagemap = (set.messages(`pagemap-${p.pid}.img`, 'PAGEMAP') as pagemap_entry[]).slice(1);
  const { memory, mapped, pages } = memoryOf(mm, pagemap, segmentResolver(t), t.shmemBytes);
  // Since fdinfo_per_id, descriptor tables are shared by files_id; older images are per pid.
  const fdinfo = set.messages(
    `fdinfo-${ids ? ids.filesId : p.pid}.img`,
    'FDINFO',
  ) as fdinfo_entry[];
  const descriptors = fdinfo
    .map((fd) => describe(fd, files.get(fd.id), files, ttys, t.memfdInodes))
    .sort((a, b) => a.fd - b.fd);
  const summary: ProcessSummary = {
    pid: p.pid,
    ppid: p.ppid,
    pgid: p.pgid,
    sid: p.sid,
    command: core?.tc?.comm ?? threads[0]?.comm ?? '',
    exe: mm ? files.get(mm.exeFileId)?.reg?.name : undefined,
    state: stateOf(core?.tc?.taskState),
    exitCode: core?.tc?.exitCode ?? 0,
    threads,
    memory,
    mapped,
    pages,
    descriptors,
  };
  return { summary, fdinfo, ...(mm && { mm }) };
}

/** Pipes and FIFOs, each with every process end and its buffered bytes. */
function pipesOf(t: Tables, processes: ProcessSummary[]): PipeSummary[] {
  const pipes = new Map<string, PipeSummary>();
  for (const p of processes) {
    for (const d of p.descriptors) {
      if (d.type !== 'pipe' && d.type !== 'fifo') continue;
      const key = `${d.type}:${d.pipeId}`;
      const data = t.pipeData.get(key);
      const pipe = pipes.get(key) ?? {
        pipeId: d.pipeId,
        kind: d.type,
        bufferedBytes: data?.bytes ?? 0,
        capacity: data?.size,
        ends: [],
      };
      const end = d.type === 'pipe' ? d.end : ((d.flags ?? 0) & O_ACCMODE) === 0 ? 'read' : 'write';
      pipe.ends.push({ pid: p.pid, fd: d.fd, end });
      pipes.set(key, pipe);
    }
  }
  return [...pipes.values()].sort((a, b) => a.pipeId - b.pipeId);
}

/** Regular files (not devices, directories or FIFOs) the tree uses, one per path. */
function filesOf(t: Tables, uses: Map<number, FileUse[]>): FileSummary[] {
  const byPath = new Map<string, FileSummary>();
  for (const [id, list] of uses) {
    const reg = t.files.get(id)?.reg;
    if (!reg || (reg.mode !== undefined && (reg.mode & S_IFMT) !== S_IFREG)) continue;
    const summary = byPath.get(reg.name) ?? {
      path: reg.name,
      size: recordedSize(reg),
      mode: reg.mode,
      writable: false,
      uses: [],
    };
    for (const use of list) {
      // A library is mapped several times per process: one use is enough.
      const repeat = summary.uses.some((u) => u.pid === use.pid && u.use === use.use);
      if (use.use === 'fd' || !repeat) summary.uses.push(use);
    }
    if (list.some((u) => u.use === 'fd') && (reg.flags & O_ACCMODE) !== 0) summary.writable = true;
    byPath.set(reg.name, summary);
  }
  return [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** file id -> who uses it: descriptors, the executable, file mappings. */
function fileUsesOf(
  t: Tables,
  perProcess: { summary: ProcessSummary; fdinfo: fdinfo_entry[]; mm?: mm_entry }[],
): Map<number, FileUse[]> {
  const uses = new Map<number, FileUse[]>();
  const add = (fileId: number, use: FileUse) =>
    uses.set(fileId, [...(uses.get(fileId) ?? []), use]);
  for (const { summary, fdinfo, mm } of perProcess) {
    const pid = summary.pid;
    for (const fd of fdinfo) {
      const reg = t.files.get(fd.id)?.reg;
      if (reg) add(fd.id, { pid, fd: fd.fd, pos: Number(reg.pos), flags: reg.flags, use: 'fd' });
    }
    if (!mm) continue;
    add(mm.exeFileId, { pid, use: 'exe' });
    // For file mappings CRIU keeps the files.img id in shmid.
    for (const v of mm.vmas)
      if (v.status & (0x40 | 0x80)) add(Number(v.shmid), { pid, use: 'mapping' });
  }
  return uses;
}

/** Builds the summary from already decoded images (see readImages). */
export function summarizeCheckpoint(dir: string, images: AnyImage[]): CheckpointSummary {
  const set = new ImageSet(images);
  const inventory = set.messages('inventory.img', 'INVENTORY')[0];
  if (!inventory) {
    throw new ImageError('no inventory.img: not a CRIU checkpoint directory', {
      code: 'MISSING_IMAGE',
      offset: 0,
      image: join(dir, 'inventory.img'),
    });
  }
  const tables = tablesOf(set);
  const tree = set.messages('pstree.img', 'PSTREE') as pstree_entry[];
  const perProcess = tree.map((p) => processOf(tables, p));
  const processes = perProcess.map((p) => p.summary);
  return {
    dir,
    imgVersion: inventory.imgVersion,
    criuRunId: inventory.dumpCriuRunId || undefined,
    rootPid: tree[0]?.pid ?? 0,
    processes,
    pipes: pipesOf(tables, processes),
    files: filesOf(tables, fileUsesOf(tables, perProcess)),
    stats: statsOf(set.messages('stats-dump', 'STATS') as stats_entry[]),
    images: images.map((image) => ({
      name: image.name,
      size: image.size,
      kind: image.kind,
      magic: image.kind === 'raw' ? undefined : image.magic,
      entries: image.kind === 'decoded' ? image.entries.length : undefined,
    })),
  };
}

/**
 * Reads a checkpoint directory (criu's images) into a JSON-serialisable
 * summary: processes with their command, state, memory and descriptors; the
 * pipes between them with the bytes in flight; the regular files a restore
 * needs with their recorded sizes. Throws ImageError for a malformed image.
 */
export async function readCheckpoint(dir: string): Promise<CheckpointSummary> {
  return summarizeCheckpoint(dir, await readImages(dir));
}

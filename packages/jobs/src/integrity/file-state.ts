import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  type Stats,
} from 'node:fs';
import { JobError } from '../errors.ts';

/** How much of a file's end a checkpoint fingerprints on its own (older records have only this). */
export const TAIL_BYTES = 64 * 1024;
/** Outputs are fingerprinted in pieces of this size, so a checkpoint hashes only what is new. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * What a checkpoint remembers of a file the tree has open for writing. CRIU
 * records only the size and refuses to restore when it changed ("File … has
 * bad size"); the hashes let a restore prove that a file which merely grew
 * since still holds every checkpointed byte, so cutting it back is safe.
 */
export interface FileRecord {
  /** Absolute path of the file. */
  path: string;
  /** Size in bytes at the checkpoint. */
  size: number;
  /** sha256 (hex) of the TAIL_BYTES ending at `size` (or of the whole file if smaller). */
  tailSha256: string;
  /**
   * sha256 (hex) of each CHUNK_BYTES piece of [0, size), the last one
   * partial: any byte changed below `size` is found (absent in records of
   * older cryopipe versions, which only know the tail).
   */
  chunks?: string[];
  /**
   * Inode number at the checkpoint: an output replaced by another file (a
   * hard link to something else, a copy) is refused. The device is not
   * recorded: its number can change across reboots (btrfs, LVM), inodes don't.
   */
  ino?: number;
  /**
   * How the tree had it open, one entry per distinct offset/mode (absent in
   * checkpoints of older cryopipe versions): what a restore needs to hand criu the file
   * at another path (see relocation.ts).
   */
  opens?: FileOpen[];
}

/** One way a dumped process had a file open. */
export interface FileOpen {
  /** The descriptor's file offset at the checkpoint, in bytes. */
  pos: number;
  /** How the descriptor was opened. */
  access: 'write' | 'read-write';
  /** The descriptor had O_APPEND. */
  append: boolean;
}

/**
 * A file the tree only reads (a `< input`): CRIU reopens it by path and
 * seeks, so one that changed would feed the job other bytes than before.
 * Any write changes mtime and ctime; identity catches replacements.
 */
export interface InputRecord {
  path: string;
  size: number;
  ino: number;
  mtimeNs: string;
  ctimeNs: string;
  /** sha256 of the first and the last CHUNK_BYTES: what is compared on another machine. */
  edgesSha256: string;
}

/** Opens without following a symlink: an output swapped for one must not redirect a truncate. */
const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;
const WRITE_NOFOLLOW = constants.O_WRONLY | constants.O_NOFOLLOW;

function hashRange(fd: number, start: number, end: number): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(end - start, 1)));
  let at = start;
  while (at < end) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    at += n;
  }
  return hash.digest('hex');
}

const tailHash = (fd: number, size: number) => hashRange(fd, Math.max(0, size - TAIL_BYTES), size);

/** sha256 of the first and the last chunk (one read each, whatever the input's size). */
function edgesHash(fd: number, size: number): string {
  const head = hashRange(fd, 0, Math.min(size, CHUNK_BYTES));
  const tail = hashRange(fd, Math.max(0, size - CHUNK_BYTES), size);
  return createHash('sha256').update(head).update(tail).digest('hex');
}

/**
 * Hashes of the chunks of [0, size). Chunks wholly below the previous
 * checkpoint's size are taken from `previous` when it is the same file,
 * except the first, which muxers rewrite in place (headers): a checkpoint
 * costs the new bytes plus one chunk, not the whole output.
 */
function chunkHashes(fd: number, st: Stats, size: number, previous?: FileRecord): string[] {
  const reusable =
    previous?.chunks && previous.ino === st.ino ? Math.floor(previous.size / CHUNK_BYTES) : 0;
  const chunks: string[] = [];
  for (let i = 0; i * CHUNK_BYTES < size; i++) {
    const reuse = i > 0 && i < reusable ? previous!.chunks![i] : undefined;
    chunks.push(reuse ?? hashRange(fd, i * CHUNK_BYTES, Math.min(size, (i + 1) * CHUNK_BYTES)));
  }
  return chunks;
}

/** Records a written file; call it with the tree frozen so the size is exact. */
export function recordFile(path: string, opens?: FileOpen[], previous?: FileRecord): FileRecord {
  const fd = openSync(path, READ_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    const size = st.size;
    return {
      path,
      size,
      tailSha256: tailHash(fd, size),
      chunks: chunkHashes(fd, st, size, previous),
      ino: st.ino,
      ...(opens ? { opens } : {}),
    };
  } finally {
    closeSync(fd);
  }
}

/** Records a file the tree reads. */
export function recordInput(path: string): InputRecord {
  const fd = openSync(path, READ_NOFOLLOW);
  try {
    const st = fstatSync(fd, { bigint: true });
    const size = Number(st.size);
    return {
      path,
      size,
      ino: Number(st.ino),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      edgesSha256: edgesHash(fd, size),
    };
  } finally {
    closeSync(fd);
  }
}

/** What a restore must do about one recorded file, decided by comparing it with the checkpoint. */
export type FileCheck =
  | {
      /** The file. */
      path: string;
      /** It is as the checkpoint left it. */
      action: 'unchanged';
    }
  | {
      /** The file. */
      path: string;
      /** It grew since the checkpoint: cut it back to the recorded size. */
      action: 'truncate';
      /** Its size now, in bytes. */
      from: number;
      /** The size recorded at the checkpoint, in bytes. */
      to: number;
      /** Its inode, to cut the very file that was checked. */
      ino: number;
    }
  | {
      /** The file. */
      path: string;
      /** It changed in a way a restore cannot undo. */
      action: 'refuse';
      /** What changed, one phrase. */
      reason: string;
    };

/** Why `open` failed, in words; ELOOP is O_NOFOLLOW meeting a symlink. */
function openProblem(code: string | undefined, size: number): string {
  if (code === 'ENOENT') return `it no longer exists (it had ${size} bytes at the checkpoint)`;
  if (code === 'ELOOP')
    return 'it is a symbolic link now; cryopipe never follows one it did not record';
  return `it can't be read (${code})`;
}

/** The first chunk whose bytes differ from the record, as a byte range, or undefined. */
function changedChunk(fd: number, record: FileRecord): string | undefined {
  const chunks = record.chunks ?? [];
  for (const [i, expected] of chunks.entries()) {
    const start = i * CHUNK_BYTES;
    const end = Math.min(record.size, start + CHUNK_BYTES);
    if (hashRange(fd, start, end) !== expected) return `bytes ${start}–${end - 1}`;
  }
  return undefined;
}

/**
 * Compares a file with its record, reading it through a descriptor opened
 * without following symlinks. `sameFile`: the file must still be the one
 * that was checkpointed (same inode) — false where it was legitimately
 * recreated (a copy's relocated outputs, an imported job's).
 */
export function checkFile(record: FileRecord, opts: { sameFile?: boolean } = {}): FileCheck {
  const refuse = (reason: string): FileCheck => ({ path: record.path, action: 'refuse', reason });
  let fd: number;
  try {
    fd = openSync(record.path, READ_NOFOLLOW);
  } catch (err) {
    return refuse(openProblem((err as NodeJS.ErrnoException).code, record.size));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return refuse('it is no longer a regular file');
    if (opts.sameFile && record.ino !== undefined && st.ino !== record.ino)
      return refuse(
        `it was replaced by another file (inode ${st.ino}, was ${record.ino}) since the checkpoint`,
      );
    if (st.size < record.size)
      return refuse(
        `it shrank from ${record.size} to ${st.size} bytes since the checkpoint, so the checkpointed output is gone`,
      );
    if (tailHash(fd, record.size) !== record.tailSha256)
      return refuse(
        `its content up to byte ${record.size} changed since the checkpoint (it was rewritten)`,
      );
    const changed = changedChunk(fd, record);
    if (changed)
      return refuse(`its content (${changed}) changed since the checkpoint (it was rewritten)`);
    return st.size === record.size
      ? { path: record.path, action: 'unchanged' }
      : { path: record.path, action: 'truncate', from: st.size, to: record.size, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/**
 * Compares an input with its record. On the machine that took the
 * checkpoint any change at all is refused (identity, size, times); where the
 * file was copied to (an import), its size and first and last chunk.
 */
export function checkInput(
  record: InputRecord,
  opts: { sameFile?: boolean } = {},
): string | undefined {
  let now: InputRecord;
  try {
    now = recordInput(record.path);
  } catch (err) {
    return openProblem((err as NodeJS.ErrnoException).code, record.size);
  }
  if (now.size !== record.size)
    return `its size changed from ${record.size} to ${now.size} bytes since the checkpoint`;
  if (now.edgesSha256 !== record.edgesSha256) return 'its content changed since the checkpoint';
  if (opts.sameFile === false) return undefined;
  if (now.ino !== record.ino) return 'it was replaced by another file since the checkpoint';
  if (now.mtimeNs !== record.mtimeNs || now.ctimeNs !== record.ctimeNs)
    return 'it was modified since the checkpoint';
  return undefined;
}

/** Cuts a checked file back, through a no-follow descriptor on the very inode that was checked. */
function truncateChecked(check: Extract<FileCheck, { action: 'truncate' }>): void {
  const fd = openSync(check.path, WRITE_NOFOLLOW);
  try {
    if (fstatSync(fd).ino !== check.ino)
      throw new JobError(`${check.path} was replaced while it was being restored`, 'REFUSED');
    ftruncateSync(fd, check.to);
  } finally {
    closeSync(fd);
  }
}

/**
 * Brings every recorded file back to its checkpointed size, or refuses
 * without touching any file if one of them (or an input) can't be brought
 * back safely.
 */
export function reconcileFiles(
  records: readonly FileRecord[],
  opts: {
    /** Whether the file at `path` must be the very inode that was checkpointed (default: yes). */
    sameFile?: (path: string) => boolean;
    inputs?: readonly InputRecord[];
  } = {},
): FileCheck[] {
  const checks = records.map((r) => checkFile(r, { sameFile: opts.sameFile?.(r.path) ?? true }));
  const lines = checks
    .filter((c): c is Extract<FileCheck, { action: 'refuse' }> => c.action === 'refuse')
    .map((c) => `  ${c.path}: ${c.reason}`);
  for (const input of opts.inputs ?? []) {
    const problem = checkInput(input, { sameFile: opts.sameFile?.(input.path) ?? true });
    if (problem) lines.push(`  ${input.path} (an input the job reads): ${problem}`);
  }
  if (lines.length > 0) {
    throw new JobError(
      `can't restore: ${lines.length === 1 ? 'a file' : `${lines.length} files`} the job uses changed in a way that can't be undone:\n${lines.join('\n')}`,
      'REFUSED',
      'put the files back as they were at the checkpoint, or restore an older checkpoint with --from N',
    );
  }
  for (const c of checks) if (c.action === 'truncate') truncateChecked(c);
  return checks;
}

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { JobError } from '../errors.ts';

/** How much of a file's end a checkpoint fingerprints. */
export const TAIL_BYTES = 64 * 1024;

/**
 * What a checkpoint remembers of a file the tree has open for writing. CRIU
 * records only the size and refuses to restore when it changed ("File … has
 * bad size"); the tail hash lets a restore prove that a file which merely
 * grew since still holds the checkpointed bytes, so cutting it back is safe.
 */
export interface FileRecord {
  path: string;
  size: number;
  /** sha256 (hex) of the TAIL_BYTES ending at `size` (or of the whole file if smaller). */
  tailSha256: string;
  /**
   * How the tree had it open, one entry per distinct offset/mode (absent in
   * checkpoints of older cryopipe versions): what a restore needs to hand criu the file
   * at another path (see relocation.ts).
   */
  opens?: FileOpen[];
}

/** One way a dumped process had a file open. */
export interface FileOpen {
  pos: number;
  access: 'write' | 'read-write';
  append: boolean;
}

function hashRange(fd: number, end: number): string {
  const start = Math.max(0, end - TAIL_BYTES);
  const buf = Buffer.alloc(end - start);
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, start + done);
    if (n === 0) break;
    done += n;
  }
  return createHash('sha256').update(buf.subarray(0, done)).digest('hex');
}

export function recordFile(path: string, opens?: FileOpen[]): FileRecord {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    return { path, size, tailSha256: hashRange(fd, size), ...(opens ? { opens } : {}) };
  } finally {
    closeSync(fd);
  }
}

export type FileCheck =
  | { path: string; action: 'unchanged' }
  | { path: string; action: 'truncate'; from: number; to: number }
  | { path: string; action: 'refuse'; reason: string };

/** Compares a file with its record; pure apart from reading the file. */
export function checkFile(record: FileRecord): FileCheck {
  let fd: number;
  try {
    fd = openSync(record.path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      path: record.path,
      action: 'refuse',
      reason:
        code === 'ENOENT'
          ? `it no longer exists (it had ${record.size} bytes at the checkpoint)`
          : `it can't be read (${code})`,
    };
  }
  try {
    const size = fstatSync(fd).size;
    if (size < record.size) {
      return {
        path: record.path,
        action: 'refuse',
        reason: `it shrank from ${record.size} to ${size} bytes since the checkpoint, so the checkpointed output is gone`,
      };
    }
    if (hashRange(fd, record.size) !== record.tailSha256) {
      return {
        path: record.path,
        action: 'refuse',
        reason: `its content up to byte ${record.size} changed since the checkpoint (it was rewritten)`,
      };
    }
    return size === record.size
      ? { path: record.path, action: 'unchanged' }
      : { path: record.path, action: 'truncate', from: size, to: record.size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Brings every recorded file back to its checkpointed size, or refuses
 * without touching any file if one of them can't be brought back safely.
 */
export function reconcileFiles(records: readonly FileRecord[]): FileCheck[] {
  const checks = records.map(checkFile);
  const refused = checks.filter((c) => c.action === 'refuse');
  if (refused.length > 0) {
    const lines = refused.map((c) => `  ${c.path}: ${(c as { reason: string }).reason}`);
    throw new JobError(
      `can't restore: ${refused.length === 1 ? 'a file' : `${refused.length} files`} the job writes changed in a way that can't be undone:\n${lines.join('\n')}`,
      'REFUSED',
      'put the files back as they were at the checkpoint, or restore an older checkpoint with --from N',
    );
  }
  for (const c of checks) if (c.action === 'truncate') truncateSync(c.path, c.to);
  return checks;
}

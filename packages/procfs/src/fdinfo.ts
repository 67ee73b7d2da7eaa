import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** How a descriptor was opened (the O_ACCMODE bits of its flags). */
export type AccessMode = 'read' | 'write' | 'read-write';

/** /proc/PID/fdinfo/FD. */
export interface FdInfo {
  /** File offset. */
  pos: number;
  /** open(2) flags, e.g. 0o100001 = O_LARGEFILE|O_WRONLY. */
  flags: number;
  /** How the descriptor was opened, from the O_ACCMODE bits of `flags`. */
  accessMode: AccessMode;
  /** O_APPEND (0o2000): writes go to the end whatever pos says. */
  append: boolean;
  /** mount_id of the file (Linux 3.15+). */
  mntId?: number | undefined;
  /** Inode number (Linux 5.14+). */
  ino?: number | undefined;
  /** Kind-specific lines (eventfd-count, tfd, inotify wd, ...), in order, as "key: value" pairs. */
  extra: Array<[string, string]>;
}

const WHAT = 'fdinfo';
const O_APPEND = 0o2000;

/** The access mode encoded in open(2) flags (their O_ACCMODE bits). */
export function accessModeOfFlags(flags: number): AccessMode {
  const acc = flags & 3;
  return acc === 0 ? 'read' : acc === 1 ? 'write' : 'read-write';
}

/** Parses the text of /proc/PID/fdinfo/FD. */
export function parseFdInfo(text: string, path?: string): FdInfo {
  let pos: number | undefined;
  let flags: number | undefined;
  let mntId: number | undefined;
  let ino: number | undefined;
  const extra: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (key === 'pos') pos = int(value, WHAT, 'pos', path);
    else if (key === 'flags') {
      if (!/^[0-7]+$/.test(value))
        throw parseError(WHAT, `flags is ${JSON.stringify(value)}, expected octal`, path);
      flags = Number.parseInt(value, 8);
    } else if (key === 'mnt_id') mntId = int(value, WHAT, 'mnt_id', path);
    else if (key === 'ino') ino = int(value, WHAT, 'ino', path);
    else extra.push([key, value]);
  }
  if (pos === undefined || flags === undefined)
    throw parseError(WHAT, 'no "pos:" or "flags:" line (truncated?)', path);
  return {
    pos,
    flags,
    accessMode: accessModeOfFlags(flags),
    append: (flags & O_APPEND) !== 0,
    mntId,
    ino,
    extra,
  };
}

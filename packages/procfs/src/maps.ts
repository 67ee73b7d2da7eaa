import { parseError } from './errors.ts';

/** One line of /proc/PID/maps. Addresses are bigints: user space reaches past 2^53. */
export interface MemoryMapping {
  /** Start address (inclusive). */
  start: bigint;
  /** End address (exclusive). */
  end: bigint;
  /** The mapping is readable ('r'). */
  read: boolean;
  /** The mapping is writable ('w'). */
  write: boolean;
  /** The mapping is executable ('x'). */
  execute: boolean;
  /** 'p' private (copy-on-write) or 's' shared. */
  shared: boolean;
  /** Offset in bytes into the mapped file (0 for anonymous mappings). */
  offset: bigint;
  /** "major:minor" in hex, as printed. */
  device: string;
  /** Inode of the mapped file; 0 for anonymous mappings. */
  inode: number;
  /** File path, or a pseudo name like [heap], [stack], [vdso]; '' for anonymous memory. */
  pathname: string;
  /** The file was unlinked (" (deleted)" suffix, removed from pathname). */
  deleted: boolean;
}

const LINE =
  /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)(?: +(.*))?$/;

/** Parses the text of /proc/PID/maps. */
export function parseMaps(text: string, path?: string): MemoryMapping[] {
  const out: MemoryMapping[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw parseError('maps', `unexpected line ${JSON.stringify(line)}`, path);
    let pathname = m[10] ?? '';
    const deleted = pathname.endsWith(' (deleted)');
    if (deleted) pathname = pathname.slice(0, -' (deleted)'.length);
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      read: m[3] === 'r',
      write: m[4] === 'w',
      execute: m[5] === 'x',
      shared: m[6] === 's',
      offset: BigInt(`0x${m[7]}`),
      device: m[8]!,
      inode: Number(m[9]),
      pathname,
      deleted,
    });
  }
  return out;
}

import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** One socket of /proc/PID/net/unix (all unix sockets of that process's network namespace). */
export interface UnixSocketEntry {
  /** The sockfs inode, matching a descriptor's "socket:[INODE]". */
  inode: number;
  /** 'stream' | 'dgram' | 'seqpacket' (or the raw type number as text). */
  type: string;
  /** 'unconnected' | 'connecting' | 'connected' | 'disconnecting' (SS_* states), or the raw number. */
  state: string;
  /** Listening socket (__SO_ACCEPTCON flag). */
  listening: boolean;
  /** Bound path; abstract names start with '@'; undefined for unbound sockets (e.g. socketpair ends). */
  path?: string | undefined;
}

const TYPES: Record<string, string> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };
const STATES: Record<string, string> = {
  '01': 'unconnected',
  '02': 'connecting',
  '03': 'connected',
  '04': 'disconnecting',
};
const ACCEPTCON = 0x10000;

/** Parses the text of /proc/PID/net/unix. */
export function parseNetUnix(text: string, path?: string): UnixSocketEntry[] {
  const lines = text.split('\n');
  if (!lines[0]?.startsWith('Num'))
    throw parseError('net/unix', 'no "Num RefCount ..." header', path);
  const out: UnixSocketEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    // Num: RefCount Protocol Flags Type St Inode [Path]; the path may contain spaces.
    const m =
      /^\s*[0-9a-fA-F]+: [0-9a-fA-F]+ [0-9a-fA-F]+ ([0-9a-fA-F]+) ([0-9a-fA-F]+) ([0-9a-fA-F]+) +(\d+)(?: (.*))?$/.exec(
        line,
      );
    if (!m) throw parseError('net/unix', `unexpected line ${JSON.stringify(line)}`, path);
    const p = m[5];
    out.push({
      inode: int(m[4], 'net/unix', 'inode', path),
      type: TYPES[m[2]!] ?? m[2]!,
      state: STATES[m[3]!] ?? m[3]!,
      listening: (Number.parseInt(m[1]!, 16) & ACCEPTCON) !== 0,
      path: p === undefined || p === '' ? undefined : p,
    });
  }
  return out;
}

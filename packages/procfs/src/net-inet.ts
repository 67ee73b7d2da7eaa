import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** An IP endpoint as printed in /proc/net/tcp*: address in the usual text form. */
export interface InetEndpoint {
  /** IP address in text form (dotted IPv4, or IPv6). */
  address: string;
  /** Port number (0 when unbound). */
  port: number;
}

/** One socket of /proc/PID/net/{tcp,tcp6,udp,udp6}. */
export interface InetSocketEntry {
  /** The local address and port. */
  local: InetEndpoint;
  /** The remote address and port (all zeros when not connected). */
  remote: InetEndpoint;
  /** TCP state name ('ESTABLISHED', 'LISTEN', ...); for UDP, 'ESTABLISHED' means connected and 'CLOSE' unconnected. */
  state: string;
  /** Effective uid of the socket's owner. */
  uid: number;
  /** The sockfs inode, matching a descriptor's "socket:[INODE]". */
  inode: number;
}

const TCP_STATES = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];

/** Each 32-bit word is printed as a host-order (little-endian here) hex number. */
function word(hex: string): number[] {
  const v = Number.parseInt(hex, 16);
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function decodeAddress(hex: string, path?: string): string {
  if (hex.length === 8) return word(hex).join('.');
  if (hex.length === 32) {
    const bytes = [0, 8, 16, 24].flatMap((i) => word(hex.slice(i, i + 8)));
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    // Compress the longest run of zero groups, as inet_ntop does.
    const text = groups.join(':');
    const runs = text.match(/(?:^|:)0(?::0)+(?::|$)/g);
    if (!runs) return text;
    const longest = runs.reduce((a, b) => (b.length > a.length ? b : a));
    return text.replace(longest, '::');
  }
  throw parseError('net/tcp', `address ${JSON.stringify(hex)} is neither IPv4 nor IPv6`, path);
}

function endpoint(text: string, path?: string): InetEndpoint {
  const [addr, port] = text.split(':');
  if (addr === undefined || port === undefined)
    throw parseError('net/tcp', `endpoint ${JSON.stringify(text)}`, path);
  return { address: decodeAddress(addr, path), port: Number.parseInt(port, 16) };
}

/** Parses the text of /proc/PID/net/tcp, tcp6, udp or udp6 (same layout). */
export function parseNetInet(text: string, path?: string): InetSocketEntry[] {
  const lines = text.split('\n');
  if (!/^\s*sl\s/.test(lines[0] ?? ''))
    throw parseError('net/tcp', 'no "sl local_address ..." header', path);
  const out: InetSocketEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length === 1 && f[0] === '') continue;
    if (f.length < 10)
      throw parseError('net/tcp', `line ${i + 1} has ${f.length} fields (truncated?)`, path);
    const st = Number.parseInt(f[3]!, 16);
    out.push({
      local: endpoint(f[1]!, path),
      remote: endpoint(f[2]!, path),
      state: TCP_STATES[st] ?? `0x${f[3]}`,
      uid: int(f[7], 'net/tcp', 'uid', path),
      inode: int(f[9], 'net/tcp', 'inode', path),
    });
  }
  return out;
}

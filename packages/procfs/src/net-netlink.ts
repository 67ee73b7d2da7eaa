import { parseError } from './errors.ts';
import { int } from './numbers.ts';

/** One socket of /proc/PID/net/netlink. */
export interface NetlinkSocketEntry {
  /** Netlink protocol number (0 route, 4 sock_diag, 9 audit, 15 kobject_uevent, 16 generic, ...). */
  protocol: number;
  /** Port id (often the owner's pid). */
  portId: number;
  /** The sockfs inode, matching a descriptor's "socket:[INODE]". */
  inode: number;
}

/** Parses the text of /proc/PID/net/netlink. */
export function parseNetNetlink(text: string, path?: string): NetlinkSocketEntry[] {
  const lines = text.split('\n');
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  const inodeAt = header.indexOf('Inode');
  if (header[0] !== 'sk' || inodeAt < 0)
    throw parseError('net/netlink', 'no "sk Eth Pid ... Inode" header', path);
  const out: NetlinkSocketEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length === 1 && f[0] === '') continue;
    if (f.length <= inodeAt) throw parseError('net/netlink', `line ${i + 1} is truncated`, path);
    out.push({
      protocol: int(f[1], 'net/netlink', 'Eth', path),
      portId: int(f[2], 'net/netlink', 'Pid', path),
      inode: int(f[inodeAt], 'net/netlink', 'Inode', path),
    });
  }
  return out;
}

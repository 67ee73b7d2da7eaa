import type { InetSocketEntry } from './net-inet.ts';
import type { NetlinkSocketEntry } from './net-netlink.ts';
import type { UnixSocketEntry } from './net-unix.ts';

/** What a network namespace's tables say about one socket inode. */
export type SocketInfo =
  | ({
      /** A unix-domain socket, from /proc/PID/net/unix. */
      family: 'unix';
    } & UnixSocketEntry)
  | ({
      /** An IPv4 or IPv6 TCP/UDP socket, from the table of that name. */
      family: 'tcp' | 'tcp6' | 'udp' | 'udp6';
    } & InetSocketEntry)
  | ({
      /** A netlink socket, from /proc/PID/net/netlink. */
      family: 'netlink';
    } & NetlinkSocketEntry);

/** Socket inode -> what the tables of one network namespace say about it. */
export type SocketTable = Map<number, SocketInfo>;

/** The /proc/PID/net files a SocketTable is built from, in the order they are read. */
export const SOCKET_TABLE_FILES = ['unix', 'tcp', 'tcp6', 'udp', 'udp6', 'netlink'] as const;

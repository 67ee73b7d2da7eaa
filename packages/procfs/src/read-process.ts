import { parseChildren } from './children.ts';
import type { ParseContext } from './context.ts';
import {
  classifyDescriptor,
  type Descriptor,
  type DescriptorFacts,
  targetNamesPath,
} from './descriptor.ts';
import { ProcfsError } from './errors.ts';
import { parseFdInfo } from './fdinfo.ts';
import { lstatPath, optional, readDir, readLink, readText, statPath } from './io.ts';
import { parseNetInet } from './net-inet.ts';
import { parseNetNetlink } from './net-netlink.ts';
import { parseNetUnix } from './net-unix.ts';
import type { SocketTable } from './socket.ts';
import { type ProcessStat, parseStat } from './stat.ts';
import { isTerminalMajor, splitDeviceNumber } from './tty.ts';

// Synchronous building blocks shared by ProcessHandle and snapshot(); `dir` is e.g. "/proc/1234".

export function readStatAt(dir: string, ctx: ParseContext): ProcessStat {
  const path = `${dir}/stat`;
  return parseStat(readText(path), ctx, path);
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const PTMX_DEV = (5 << 8) | 2;

/** Gathers the facts for one descriptor with as few system calls as its kind needs. */
export function readDescriptorFacts(dir: string, fd: number): DescriptorFacts {
  const link = `${dir}/fd/${fd}`;
  const target = readLink(link);
  if (!targetNamesPath(target)) {
    // Only a pipe's direction matters and costs an lstat: the link's permission bits carry the access
    // mode. Sockets are always read-write; anon inodes are left without one (fdInfo() has it).
    return target.startsWith('pipe:')
      ? { fd, target, linkMode: lstatPath(link).mode }
      : { fd, target };
  }
  const st = statPath(link);
  const stat = {
    mode: st.mode,
    size: st.size,
    ino: st.ino,
    dev: st.dev,
    rdev: st.rdev,
    nlink: st.nlink,
  };
  const suffixIsName = deletedSuffixIsName(dir, target, stat);
  const type = st.mode & S_IFMT;
  // Regular files need pos and flags (O_APPEND); a pty master's fdinfo names its pts index.
  if (type === S_IFREG || (type === S_IFCHR && st.rdev === PTMX_DEV)) {
    const infoPath = `${dir}/fdinfo/${fd}`;
    return { fd, target, stat, fdInfo: parseFdInfo(readText(infoPath), infoPath), suffixIsName };
  }
  // FIFOs and terminals: the direction matters. Directories are always read-only; other devices skip it.
  const rdev = type === S_IFCHR ? splitDeviceNumber(st.rdev) : undefined;
  if (type === S_IFIFO || (rdev && isTerminalMajor(rdev.major)))
    return { fd, target, stat, linkMode: lstatPath(link).mode, suffixIsName };
  return { fd, target, stat, suffixIsName };
}

/**
 * For a target ending with " (deleted)" whose file still has links: does the target, suffix
 * included, name this very file as the process sees the file system (through `dir`/root)? Then the
 * suffix is part of a real name. Undefined when there is nothing to check (the common case: one
 * string comparison, no system call) or the process's root can't be entered.
 */
function deletedSuffixIsName(
  dir: string,
  target: string,
  stat: { dev: number; ino: number; nlink: number },
): boolean | undefined {
  if (stat.nlink === 0 || !target.endsWith(' (deleted)')) return undefined;
  let named: { dev: number; ino: number };
  try {
    named = statPath(`${dir}/root${target}`);
  } catch (err) {
    // No such name: the suffix is the kernel's mark. Refused (a root we may not enter): unknown.
    if (ProcfsError.is(err, 'NOT_FOUND')) return false;
    if (ProcfsError.is(err)) return undefined;
    throw err;
  }
  return named.dev === stat.dev && named.ino === stat.ino;
}

/** The descriptor numbers open in a process, ascending. */
export function readFdNumbers(dir: string): number[] {
  return readDir(`${dir}/fd`)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Classifies every open descriptor. A descriptor closed while we read it is skipped;
 * the process itself vanishing is NOT_FOUND from the directory listing.
 */
export function readDescriptorsAt(dir: string, sockets?: () => SocketTable): Descriptor[] {
  const out: Descriptor[] = [];
  let table: SocketTable | undefined;
  for (const fd of readFdNumbers(dir)) {
    let facts: DescriptorFacts;
    try {
      facts = readDescriptorFacts(dir, fd);
    } catch (err) {
      if (ProcfsError.is(err, 'NOT_FOUND')) continue;
      throw err;
    }
    if (sockets && table === undefined && facts.target.startsWith('socket:')) table = sockets();
    out.push(classifyDescriptor(facts, table));
  }
  return out;
}

/** Reads the socket tables of the network namespace `dir` lives in; absent files (no IPv6) are skipped. */
export function readSocketTableAt(dir: string): SocketTable {
  const table: SocketTable = new Map();
  const read = (name: string) => {
    const path = `${dir}/net/${name}`;
    return { text: optional(() => readText(path)), path };
  };
  const unix = read('unix');
  if (unix.text !== undefined) {
    for (const s of parseNetUnix(unix.text, unix.path))
      table.set(s.inode, { family: 'unix', ...s });
  }
  for (const family of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const f = read(family);
    if (f.text === undefined) continue;
    for (const s of parseNetInet(f.text, f.path))
      if (s.inode !== 0) table.set(s.inode, { family, ...s });
  }
  const netlink = read('netlink');
  if (netlink.text !== undefined) {
    for (const s of parseNetNetlink(netlink.text, netlink.path))
      table.set(s.inode, { family: 'netlink', ...s });
  }
  return table;
}

/** Union of task/TID/children over all threads (a child belongs to the thread that forked it). */
export function readChildrenAt(dir: string): number[] | undefined {
  const tasks = readDir(`${dir}/task`);
  const all = new Set<number>();
  for (const tid of tasks) {
    const path = `${dir}/task/${tid}/children`;
    const text = optional(() => readText(path));
    if (text === undefined) {
      // The main thread lacking the file means CONFIG_PROC_CHILDREN is off; a vanished thread is fine.
      if (tid === dir.slice(dir.lastIndexOf('/') + 1)) return undefined;
      continue;
    }
    for (const child of parseChildren(text, path)) all.add(child);
  }
  return [...all].sort((a, b) => a - b);
}

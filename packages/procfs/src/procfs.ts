import { parseAuxv } from './auxv.ts';
import { parseCmdline } from './cmdline.ts';
import { defaultParseContext, type ParseContext } from './context.ts';
import { accessModeOfLinkMode, type Descriptor, fileIdentity } from './descriptor.ts';
import { ProcfsError } from './errors.ts';
import { lstatPath, optional, readBytes, readDir, readLink, readText, statPath } from './io.ts';
import { parseNamespaceLink } from './ns.ts';
import { ProcessHandle } from './process.ts';
import {
  readChildrenAt,
  readDescriptorsAt,
  readSocketTableAt,
  readStatAt,
} from './read-process.ts';
import type { OutsideHolder, OutsideView, ProcessSnapshot, Snapshot } from './snapshot.ts';
import type { SocketTable } from './socket.ts';
import type { ProcessStat } from './stat.ts';
import { parseStatus } from './status.ts';
import { parseSystemStat, type SystemStat } from './system-stat.ts';
import { buildTree, childrenByParent, type ProcessTree } from './tree.ts';

/** Options of `new Procfs()`. */
export interface ProcfsOptions {
  /** Where procfs is mounted; a directory of fixtures in tests. Default '/proc'. */
  root?: string;
  /** Overrides for the parse context; by default read from ROOT/self/auxv and ROOT/stat. */
  context?: Partial<ParseContext>;
}

/** Options of `Procfs.tree()`. */
export interface TreeOptions {
  /** Force a method; default 'children', falling back to 'ppid-scan' when the kernel lacks children files. */
  method?: 'children' | 'ppid-scan';
}

/** Options of `Procfs.snapshot()`. */
export interface SnapshotOptions extends TreeOptions {
  /** Also scan processes outside the tree for shared pipes, sockets, FIFOs and terminals. Default true. */
  outside?: boolean;
}

/** One open descriptor of some process, by its raw link target. */
export interface DescriptorRef {
  /** The process holding the descriptor. */
  pid: number;
  /** The descriptor number. */
  fd: number;
  /** The link target of /proc/PID/fd/FD, as fdTarget() returns it. */
  target: string;
}

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;

/** fileIdentity of the FIFO open on `link`, or undefined (not a FIFO, closed meanwhile, refused). */
function fifoIdentityAt(link: string): string | undefined {
  try {
    const st = statPath(link);
    return (st.mode & S_IFMT) === S_IFIFO ? fileIdentity(st.dev, st.ino) : undefined;
  } catch (err) {
    if (ProcfsError.is(err)) return undefined;
    throw err;
  }
}

const isPid = (name: string) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57;

/** Entry point: `new Procfs()` reads /proc; `new Procfs({ root })` reads a fixture tree. */
export class Procfs {
  /** Where procfs is read from, without a trailing slash (default '/proc'). */
  readonly root: string;
  readonly #overrides: Partial<ParseContext>;
  #context: ParseContext | undefined;

  constructor(options: ProcfsOptions = {}) {
    this.root = (options.root ?? '/proc').replace(/\/+$/, '') || '/';
    this.#overrides = options.context ?? {};
  }

  /** Clock ticks, page size and boot time, read once (auxv of ROOT/self, btime of ROOT/stat). */
  context(): ParseContext {
    if (this.#context) return this.#context;
    const auxv = optional(() => parseAuxv(readBytes(`${this.root}/self/auxv`))) ?? {};
    const system = optional(() =>
      parseSystemStat(readText(`${this.root}/stat`), `${this.root}/stat`),
    );
    this.#context = {
      clockTicks: auxv.clockTicks ?? defaultParseContext.clockTicks,
      pageSize: auxv.pageSize ?? defaultParseContext.pageSize,
      bootTimeMs: system ? system.bootTime * 1000 : defaultParseContext.bootTimeMs,
      ...this.#overrides,
    };
    return this.#context;
  }

  /** A handle on one process; nothing is read until a reader is called. */
  process(pid: number): ProcessHandle {
    return new ProcessHandle(pid, this.root, () => this.context());
  }

  /** Every process id (thread-group leaders), ascending. */
  async pids(): Promise<number[]> {
    return this.#pids();
  }

  /** Reads and parses ROOT/stat (boot time and process counters). */
  async systemStat(): Promise<SystemStat> {
    const path = `${this.root}/stat`;
    return parseSystemStat(readText(path), path);
  }

  /**
   * Every open descriptor on the machine whose link target passes `match`, found with one readlink
   * per descriptor and nothing else (ask `process(pid).fdInfo(fd)` or `.fd(fd)` for more about the
   * few that match). Processes that exit meanwhile, kernel threads and processes whose descriptors
   * the kernel hides (non-dumpable ones, even from root) are skipped.
   */
  async findDescriptors(match: (target: string, pid: number) => boolean): Promise<DescriptorRef[]> {
    const found: DescriptorRef[] = [];
    for (const pid of this.#pids()) {
      const dir = `${this.root}/${pid}/fd`;
      let names: string[];
      try {
        names = readDir(dir);
      } catch (err) {
        if (ProcfsError.is(err, 'NOT_FOUND') || ProcfsError.is(err, 'PERMISSION_DENIED')) continue;
        throw err;
      }
      for (const name of names) {
        let target: string;
        try {
          target = readLink(`${dir}/${name}`);
        } catch (err) {
          if (ProcfsError.is(err, 'NOT_FOUND') || ProcfsError.is(err, 'PERMISSION_DENIED'))
            continue;
          throw err;
        }
        if (match(target, pid)) found.push({ pid, fd: Number(name), target });
      }
    }
    return found;
  }

  /** stat of every process that exists while we read; processes that exit meanwhile are left out. */
  async allStats(): Promise<ProcessStat[]> {
    return [...this.#allStats().values()];
  }

  /** The tree under `rootPid`. Rejects with NOT_FOUND when the root does not exist. */
  async tree(rootPid: number, options: TreeOptions = {}): Promise<ProcessTree> {
    return this.#tree(rootPid, options);
  }

  /**
   * Reads stat, status, cmdline and classified descriptors of every process of the tree, and
   * (unless `outside: false`) what other processes share with it. Processes of the tree other than
   * the root that exit meanwhile are listed in `vanished`.
   */
  async snapshot(rootPid: number, options: SnapshotOptions = {}): Promise<Snapshot> {
    const ctx = this.context();
    const takenAtMs = Date.now();
    const tree = this.#tree(rootPid, options);
    const processes = new Map<number, ProcessSnapshot>();
    const vanished: number[] = [];
    const tables = new Map<number, SocketTable>();
    for (const pid of tree.pids) {
      const dir = `${this.root}/${pid}`;
      try {
        const stat = readStatAt(dir, ctx);
        const status = parseStatus(readText(`${dir}/status`), `${dir}/status`);
        const cmdline = parseCmdline(readText(`${dir}/cmdline`));
        const net = optional(() => parseNamespaceLink(readLink(`${dir}/ns/net`)).inode);
        const sockets = () => {
          const key = net ?? -pid;
          let table = tables.get(key);
          if (!table) {
            table = readSocketTableAt(dir);
            tables.set(key, table);
          }
          return table;
        };
        // Zombies and kernel threads have no readable fd directory: treat as no descriptors.
        const fds: Descriptor[] =
          stat.state === 'Z' ? [] : (optional(() => readDescriptorsAt(dir, sockets)) ?? []);
        processes.set(pid, { pid, stat, status, cmdline, fds, netNamespace: net });
      } catch (err) {
        if (!ProcfsError.is(err, 'NOT_FOUND') || pid === rootPid) throw err;
        vanished.push(pid);
      }
    }
    const snapshot: Snapshot = { rootPid, takenAtMs, tree, processes, vanished };
    if (options.outside !== false) snapshot.outside = this.#outside(snapshot);
    return snapshot;
  }

  #pids(): number[] {
    const out: number[] = [];
    for (const name of readDir(this.root)) if (isPid(name)) out.push(Number(name));
    return out.sort((a, b) => a - b);
  }

  #allStats(): Map<number, ProcessStat> {
    const ctx = this.context();
    const stats = new Map<number, ProcessStat>();
    for (const pid of this.#pids()) {
      const stat = optional(() => readStatAt(`${this.root}/${pid}`, ctx));
      if (stat) stats.set(pid, stat);
    }
    return stats;
  }

  #tree(rootPid: number, options: TreeOptions): ProcessTree {
    const rootDir = `${this.root}/${rootPid}`;
    // Fails with NOT_FOUND when the root is gone, whatever the method.
    readStatAt(rootDir, this.context());
    if (options.method !== 'ppid-scan') {
      const first = readChildrenAt(rootDir);
      if (first !== undefined) {
        return buildTree(
          rootPid,
          (pid) =>
            pid === rootPid ? first : (optional(() => readChildrenAt(`${this.root}/${pid}`)) ?? []),
          'children',
        );
      }
      if (options.method === 'children') {
        throw new ProcfsError(
          'NOT_FOUND',
          `${rootDir}/task/${rootPid}/children does not exist (CONFIG_PROC_CHILDREN off)`,
          `${rootDir}/task`,
        );
      }
    }
    const byParent = childrenByParent(this.#allStats().values());
    return buildTree(rootPid, (pid) => byParent.get(pid) ?? [], 'ppid-scan');
  }

  /** One pass over every other process: stat, and the descriptors that name what the tree holds. */
  #outside(snapshot: Snapshot): OutsideView {
    const view: OutsideView = {
      stats: new Map(),
      pipes: new Map(),
      sockets: new Map(),
      fifos: new Map(),
      terminals: new Map(),
      unreadable: [],
    };
    const pipes = new Set<number>();
    const sockets = new Set<number>();
    const fifos = new Set<string>();
    const terminals = new Set<string>();
    for (const proc of snapshot.processes.values()) {
      for (const d of proc.fds) {
        if (d.kind === 'pipe') pipes.add(d.inode);
        else if (d.kind === 'socket') sockets.add(d.inode);
        else if (d.kind === 'fifo') fifos.add(fileIdentity(d.device, d.inode));
        else if (d.kind === 'terminal') terminals.add(d.path);
      }
    }
    const ctx = this.context();
    const add = <K>(map: Map<K, OutsideHolder[]>, key: K, holder: OutsideHolder) => {
      const list = map.get(key);
      if (list) list.push(holder);
      else map.set(key, [holder]);
    };
    const inTree = new Set(snapshot.tree.pids);
    for (const pid of this.#pids()) {
      if (inTree.has(pid)) continue;
      const dir = `${this.root}/${pid}`;
      const stat = optional(() => readStatAt(dir, ctx));
      if (!stat) continue;
      view.stats.set(pid, stat);
      if (pipes.size + sockets.size + fifos.size + terminals.size === 0) continue;
      let fds: string[];
      try {
        fds = readDir(`${dir}/fd`);
      } catch (err) {
        if (ProcfsError.is(err, 'PERMISSION_DENIED')) view.unreadable.push(pid);
        else if (!ProcfsError.is(err, 'NOT_FOUND')) throw err;
        continue;
      }
      for (const name of fds) {
        const link = `${dir}/fd/${name}`;
        let target: string;
        try {
          target = readLink(link);
        } catch (err) {
          if (ProcfsError.is(err, 'PERMISSION_DENIED')) {
            view.unreadable.push(pid);
            break;
          }
          if (ProcfsError.is(err, 'NOT_FOUND')) continue;
          throw err;
        }
        const access = () => {
          const mode = optional(() => lstatPath(link).mode);
          return mode === undefined ? undefined : accessModeOfLinkMode(mode);
        };
        const holder = () => ({ pid, fd: Number(name), comm: stat.comm, access: access() });
        if (target.startsWith('pipe:[')) {
          const inode = Number(target.slice(6, -1));
          if (pipes.has(inode)) add(view.pipes, inode, holder());
        } else if (target.startsWith('socket:[')) {
          const inode = Number(target.slice(8, -1));
          if (sockets.has(inode)) add(view.sockets, inode, holder());
        } else if (terminals.has(target)) {
          if (optional(() => statPath(link))) add(view.terminals, target, holder());
        } else if (fifos.size > 0 && target.startsWith('/')) {
          // A FIFO is known by its identity only: the same path may name another FIFO by now.
          const id = fifoIdentityAt(link);
          if (id !== undefined && fifos.has(id)) add(view.fifos, id, holder());
        }
      }
    }
    return view;
  }
}

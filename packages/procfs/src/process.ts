import { type CgroupMembership, parseCgroup } from './cgroup.ts';
import { parseCmdline } from './cmdline.ts';
import type { ParseContext } from './context.ts';
import { classifyDescriptor, type Descriptor } from './descriptor.ts';
import { parseEnviron } from './environ.ts';
import { ProcfsError } from './errors.ts';
import { type FdInfo, parseFdInfo } from './fdinfo.ts';
import { lstatPath, readBytes, readDir, readLink, readText } from './io.ts';
import { parseLimits, type ResourceLimits } from './limits.ts';
import { type MemoryMapping, parseMaps } from './maps.ts';
import { type MountInfo, parseMountInfo } from './mountinfo.ts';
import { type Namespace, parseNamespaceLink } from './ns.ts';
import {
  readChildrenAt,
  readDescriptorFacts,
  readDescriptorsAt,
  readFdNumbers,
  readSocketTableAt,
  readStatAt,
} from './read-process.ts';
import type { SocketTable } from './socket.ts';
import type { ProcessStat } from './stat.ts';
import { type ProcessStatus, parseStatus } from './status.ts';

/**
 * One process, by pid. Every reader reads its file afresh; a process that has exited
 * rejects with ProcfsError code NOT_FOUND.
 */
export class ProcessHandle {
  /** The process id, as seen by the procfs being read. */
  readonly pid: number;
  /** The process directory, e.g. /proc/1234. */
  readonly dir: string;
  readonly #context: () => ParseContext;

  constructor(pid: number, root: string, context: () => ParseContext) {
    if (!Number.isInteger(pid) || pid <= 0)
      throw new RangeError(`pid must be a positive integer, got ${pid}`);
    this.pid = pid;
    this.dir = `${root}/${pid}`;
    this.#context = context;
  }

  /** Reads and parses /proc/PID/stat. */
  async stat(): Promise<ProcessStat> {
    return readStatAt(this.dir, this.#context());
  }

  /** Reads and parses /proc/PID/status. */
  async status(): Promise<ProcessStatus> {
    return this.#parse('status', parseStatus);
  }

  /**
   * The command name from /proc/PID/comm (Linux 2.6.33+): the executable's name or what the
   * process set with prctl(PR_SET_NAME), at most 15 bytes; the trailing newline is removed.
   */
  async comm(): Promise<string> {
    return readText(`${this.dir}/comm`).replace(/\n$/, '');
  }

  /**
   * True while the pid is taken: the process exists, as a zombie too (and, as /proc has it, a thread
   * id answers too); false once it is gone. Other errors (a root we may not read) reject.
   */
  async exists(): Promise<boolean> {
    try {
      lstatPath(this.dir);
      return true;
    } catch (err) {
      if (ProcfsError.is(err, 'NOT_FOUND')) return false;
      throw err;
    }
  }

  /**
   * True when the process exists and still runs code: not a zombie (Z, exited and not yet reaped)
   * nor dead (X). Reads stat once.
   */
  async isAlive(): Promise<boolean> {
    try {
      const { state } = await this.stat();
      return state !== 'Z' && state !== 'X';
    } catch (err) {
      if (ProcfsError.is(err, 'NOT_FOUND')) return false;
      throw err;
    }
  }

  /** argv from /proc/PID/cmdline; [] for kernel threads and zombies. */
  async cmdline(): Promise<string[]> {
    return parseCmdline(readText(`${this.dir}/cmdline`));
  }

  /** The initial environment from /proc/PID/environ (as at exec; later setenv calls are not visible). */
  async environ(): Promise<Map<string, string>> {
    return parseEnviron(readText(`${this.dir}/environ`));
  }

  /** Open descriptor numbers, ascending. */
  async fdNumbers(): Promise<number[]> {
    return readFdNumbers(this.dir);
  }

  /**
   * Every open descriptor, classified. Sockets are resolved through this process's own net tables
   * unless `sockets: false` (those tables list every socket of the namespace: costly to read per process).
   */
  async fds(options: { sockets?: boolean } = {}): Promise<Descriptor[]> {
    return readDescriptorsAt(
      this.dir,
      options.sockets === false ? undefined : () => readSocketTableAt(this.dir),
    );
  }

  /**
   * One descriptor, classified as fds({ sockets: false }) would (a socket's `socket` stays
   * undefined: sockets() has the tables). NOT_FOUND when it is not open or the process is gone.
   */
  async fd(fd: number): Promise<Descriptor> {
    return classifyDescriptor(readDescriptorFacts(this.dir, fd));
  }

  /**
   * The raw link target of /proc/PID/fd/FD: a path (with the kernel's " (deleted)" mark when its
   * name was removed), "pipe:[INODE]", "socket:[INODE]", "anon_inode:[eventfd]", ... NOT_FOUND when
   * the descriptor is not open. Use fd() for a classified descriptor.
   */
  async fdTarget(fd: number): Promise<string> {
    return readLink(`${this.dir}/fd/${fd}`);
  }

  /** Reads and parses /proc/PID/fdinfo/FD. */
  async fdInfo(fd: number): Promise<FdInfo> {
    const path = `${this.dir}/fdinfo/${fd}`;
    return parseFdInfo(readText(path), path);
  }

  /** The memory mappings from /proc/PID/maps. */
  async maps(): Promise<MemoryMapping[]> {
    return this.#parse('maps', parseMaps);
  }

  /** The mounts visible to the process, from /proc/PID/mountinfo. */
  async mountInfo(): Promise<MountInfo[]> {
    try {
      return this.#parse('mountinfo', parseMountInfo);
    } catch (err) {
      // A zombie or exiting process has no mount namespace left: the kernel answers EINVAL.
      if (
        ProcfsError.is(err, 'IO') &&
        (err.cause as { code?: string } | undefined)?.code === 'EINVAL'
      ) {
        throw new ProcfsError(
          'NOT_FOUND',
          `${err.path}: the process has exited (no mount namespace left)`,
          err.path,
          err,
        );
      }
      throw err;
    }
  }

  /** The process's cgroups, one per hierarchy, from /proc/PID/cgroup. */
  async cgroup(): Promise<CgroupMembership[]> {
    return this.#parse('cgroup', parseCgroup);
  }

  /** Namespaces by name under ns/ (net, pid, mnt, ...); ones this kernel lacks are absent. */
  async namespaces(): Promise<Record<string, Namespace>> {
    const out: Record<string, Namespace> = {};
    for (const name of readDir(`${this.dir}/ns`)) {
      const path = `${this.dir}/ns/${name}`;
      out[name] = parseNamespaceLink(readLink(path), path);
    }
    return out;
  }

  /**
   * Direct children, from task/TID/children of every thread. Rejects with NOT_FOUND when the kernel
   * lacks CONFIG_PROC_CHILDREN; Procfs.tree() falls back to a ppid scan then.
   */
  async children(): Promise<number[]> {
    const children = readChildrenAt(this.dir);
    if (children === undefined) {
      const path = `${this.dir}/task/${this.pid}/children`;
      throw new ProcfsError(
        'NOT_FOUND',
        `${path} does not exist (kernel without CONFIG_PROC_CHILDREN); use Procfs.tree()`,
        path,
      );
    }
    return children;
  }

  /** Thread ids, ascending (the first is usually the pid itself). */
  async tasks(): Promise<number[]> {
    return readDir(`${this.dir}/task`)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The resource limits from /proc/PID/limits. */
  async limits(): Promise<ResourceLimits> {
    return this.#parse('limits', parseLimits);
  }

  /** Path of the executable (" (deleted)" suffix kept if it was replaced). NOT_FOUND for kernel threads. */
  async exe(): Promise<string> {
    return readLink(`${this.dir}/exe`);
  }

  /** The current working directory (the /proc/PID/cwd link). */
  async cwd(): Promise<string> {
    return readLink(`${this.dir}/cwd`);
  }

  /** The process's root directory (differs from "/" after chroot or in a container). */
  async root(): Promise<string> {
    return readLink(`${this.dir}/root`);
  }

  /** The socket tables (unix, tcp, tcp6, udp, udp6, netlink) of this process's network namespace. */
  async sockets(): Promise<SocketTable> {
    return readSocketTableAt(this.dir);
  }

  /** The raw auxiliary vector (binary). */
  async auxv(): Promise<Buffer> {
    return readBytes(`${this.dir}/auxv`);
  }

  #parse<T>(name: string, parse: (text: string, path: string) => T): T {
    const path = `${this.dir}/${name}`;
    return parse(readText(path), path);
  }
}

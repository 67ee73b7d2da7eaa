import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  criu_cg_mode,
  criu_network_lock_method,
  type criu_opts,
  type criu_optsSchema,
  criu_pre_dump_mode,
} from './gen/rpc_pb.ts';

/** Raw criu_opts fields (snake_case in rpc.proto, camelCase here) for anything not typed below. */
export type RawCriuOpts = Exclude<MessageInitShape<typeof criu_optsSchema>, criu_opts>;

/** criu's `--manage-cgroups` modes (see criu(8)); 'default' leaves the choice to criu. */
export type CgroupMode = 'ignore' | 'none' | 'props' | 'soft' | 'full' | 'strict' | 'default';
/** How criu locks the network while the tree is frozen (`--network-lock`). */
export type NetworkLockMethod = 'iptables' | 'nftables' | 'skip';

/** Options every request that touches images shares. */
export interface ImageOptions {
  /** Images directory. The client opens it and passes the descriptor; it must exist. */
  imagesDir: string;
  /** Where criu writes its log and stats; defaults to imagesDir. Must exist. */
  workDir?: string;
  /** Log file name inside workDir: a bare name, no '/'. Defaults to `<request>.log`, e.g. `dump.log`. */
  logFile?: string;
  /** criu log verbosity 0–4 (criu's default 2: errors and warnings). */
  logLevel?: 0 | 1 | 2 | 3 | 4;
  /** Fields of criu_opts set verbatim, after the typed options (escape hatch). */
  raw?: RawCriuOpts;
}

/** Options shared by dump and pre-dump. */
export interface DumpOptions extends ImageOptions {
  /** Root of the process tree to checkpoint. */
  pid: number;
  /** Keep the tree running after the dump (default: criu kills it). */
  leaveRunning?: boolean;
  /** Leave the tree stopped after the dump. */
  leaveStopped?: boolean;
  /** Allow a tree attached to the caller's terminal / not a session leader. */
  shellJob?: boolean;
  /** Dump established TCP connections (`--tcp-established`). */
  tcpEstablished?: boolean;
  /** Dump TCP connections as closed (`--tcp-close`). */
  tcpClose?: boolean;
  /** Allow unix sockets connected to peers outside the tree (`--ext-unix-sk`). */
  extUnixSk?: boolean;
  /** Dump file locks (`--file-locks`). */
  fileLocks?: boolean;
  /** Incremental dumps via soft-dirty tracking (needs CONFIG_MEM_SOFT_DIRTY). */
  trackMem?: boolean;
  /** Previous (pre-)dump images, relative to imagesDir. */
  parentImg?: string;
  /** Punch holes in parent images for pages written again (`--auto-dedup`). */
  autoDedup?: boolean;
  /** Allow link remaps for files whose name was removed (`--link-remap`). */
  linkRemap?: boolean;
  /** Largest deleted file criu saves into the images, in bytes (`--ghost-limit`). */
  ghostLimit?: number;
  /** External resources, criu's `--external` syntax (e.g. `file[mnt:ino]`, `tty[rdev:dev]`). */
  external?: string[];
  /** How to lock the network while frozen (criu's default: iptables). */
  networkLock?: NetworkLockMethod;
  /** true = criu's default cgroup handling; a mode picks one explicitly. */
  manageCgroups?: boolean | CgroupMode;
  /** Freeze the tree through this freezer cgroup instead of ptrace (`--freeze-cgroup`). */
  freezeCgroup?: string;
  /** Seconds criu may spend freezing/collecting the tree (criu's `--timeout`). */
  timeout?: number;
  /** Send pages to a page server instead of writing them locally. */
  pageServer?: {
    /** Host name or address of the page server. */
    address: string;
    /** TCP port of the page server. */
    port: number;
  };
  /** How pre-dump reads memory. */
  preDumpMode?: 'splice' | 'vm-read';
}

/** Options of a restore request. */
export interface RestoreOptions extends ImageOptions {
  /** The tree was dumped with `shellJob`: restore it attached to this terminal/session. */
  shellJob?: boolean;
  /** Restore established TCP connections (`--tcp-established`). */
  tcpEstablished?: boolean;
  /** Restore TCP connections as closed (`--tcp-close`). */
  tcpClose?: boolean;
  /** Allow unix sockets connected to peers outside the tree (`--ext-unix-sk`). */
  extUnixSk?: boolean;
  /** Restore file locks (`--file-locks`). */
  fileLocks?: boolean;
  /** External resources, criu's `--external` syntax, as at dump time. */
  external?: string[];
  /**
   * Descriptors of this process that stand in for external resources, e.g.
   * `{ key: 'pipe:[12345]', fd }` (swrk transport only: criu inherits them).
   */
  inheritFd?: {
    /** What the descriptor stands for, as criu names it in the images, e.g. `pipe:[12345]`. */
    key: string;
    /** The descriptor of this process that criu inherits. */
    fd: number;
  }[];
  /**
   * Make the restored root a child of this process instead of criu's.
   * Node cannot waitpid() an arbitrary child, so the restored root stays a
   * zombie after it exits until this process exits: leave off unless you reap.
   */
  rstSibling?: boolean;
  /** Give the restored tree a new pty; its master arrives in the orphanPtsMaster hook. */
  orphanPtsMaster?: boolean;
  /** Leave the restored tree stopped (SIGSTOP) instead of resuming it. */
  leaveStopped?: boolean;
  /** How the network was locked at dump time; must match the dump. */
  networkLock?: NetworkLockMethod;
  /** true = criu's default cgroup handling; a mode picks one explicitly. */
  manageCgroups?: boolean | CgroupMode;
  /** Seconds criu may wait on restore steps (criu's `--timeout`). */
  timeout?: number;
  /** Restore into a different root directory. */
  root?: string;
}

/** Options of a page server: receives pages from a dump over TCP. */
export interface PageServerOptions extends ImageOptions {
  /** Address to listen on (default: all). */
  address?: string;
  /** TCP port; 0 or unset lets criu pick one (returned in the reply). */
  port?: number;
  /** Previous (pre-)dump images, relative to imagesDir. */
  parentImg?: string;
}

const cgroupModes: Record<CgroupMode, criu_cg_mode> = {
  ignore: criu_cg_mode.IGNORE,
  none: criu_cg_mode.CG_NONE,
  props: criu_cg_mode.PROPS,
  soft: criu_cg_mode.SOFT,
  full: criu_cg_mode.FULL,
  strict: criu_cg_mode.STRICT,
  default: criu_cg_mode.DEFAULT,
};

const networkLocks: Record<NetworkLockMethod, criu_network_lock_method> = {
  iptables: criu_network_lock_method.IPTABLES,
  nftables: criu_network_lock_method.NFTABLES,
  skip: criu_network_lock_method.SKIP,
};

type AnyOptions = Partial<DumpOptions & RestoreOptions & PageServerOptions>;

/** Maps typed options onto criu_opts (without the descriptors, which the request path adds). */
export function toCriuOpts(options: AnyOptions): RawCriuOpts {
  const out: RawCriuOpts = {};
  const flags = [
    'leaveRunning',
    'leaveStopped',
    'shellJob',
    'tcpEstablished',
    'tcpClose',
    'extUnixSk',
    'fileLocks',
    'trackMem',
    'autoDedup',
    'linkRemap',
    'rstSibling',
    'orphanPtsMaster',
  ] as const;
  for (const flag of flags) if (options[flag] !== undefined) out[flag] = options[flag];
  if (options.pid !== undefined) out.pid = options.pid;
  if (options.logLevel !== undefined) out.logLevel = options.logLevel;
  if (options.parentImg !== undefined) out.parentImg = options.parentImg;
  if (options.ghostLimit !== undefined) out.ghostLimit = options.ghostLimit;
  if (options.external?.length) out.external = [...options.external];
  if (options.networkLock !== undefined) out.networkLock = networkLocks[options.networkLock];
  if (options.manageCgroups !== undefined) {
    if (typeof options.manageCgroups === 'boolean') out.manageCgroups = options.manageCgroups;
    else {
      out.manageCgroups = true;
      out.manageCgroupsMode = cgroupModes[options.manageCgroups];
    }
  }
  if (options.freezeCgroup !== undefined) out.freezeCgroup = options.freezeCgroup;
  if (options.timeout !== undefined) out.timeout = options.timeout;
  if (options.root !== undefined) out.root = options.root;
  if (options.preDumpMode !== undefined) {
    out.preDumpMode =
      options.preDumpMode === 'vm-read' ? criu_pre_dump_mode.VM_READ : criu_pre_dump_mode.SPLICE;
  }
  if (options.pageServer)
    out.ps = { address: options.pageServer.address, port: options.pageServer.port };
  if (options.address !== undefined || options.port !== undefined) {
    out.ps = {
      ...(options.address !== undefined && { address: options.address }),
      port: options.port ?? 0,
    };
  }
  return { ...out, ...options.raw };
}

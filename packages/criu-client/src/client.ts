import { openSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { probeHardwareBreakpoints } from './breakpoints.ts';
import { assertRoot, assertSupportedVersion, type CriuVersion, findCriu } from './criu-binary.ts';
import { CriuError } from './errors.ts';
import { criu_req_type, criu_reqSchema, type criu_resp, criu_respSchema } from './gen/rpc_pb.ts';
import { meaningfulErrmsg, readErrorLines } from './log.ts';
import { type CriuNotification, type NotifyHooks, runHook } from './notify.ts';
import {
  type DumpOptions,
  type ImageOptions,
  type PageServerOptions,
  type RawCriuOpts,
  type RestoreOptions,
  toCriuOpts,
} from './options.ts';
import {
  findPageServerPid,
  listeningSocketInodes,
  startTime,
  stopProcess,
  uptimeTicks,
} from './page-server-process.ts';
import { closeQuietly } from './seqpacket-socket.ts';
import { type DumpStats, type RestoreStats, readStats } from './stats.ts';
import { type Connection, ServiceTransport, SwrkTransport, type Transport } from './transport.ts';

/** Options of `CriuClient.swrk()`: how criu is started as a child in swrk mode. */
export interface SwrkOptions {
  /** Path of the criu binary; else CRIU_BIN, PATH, /usr/local/sbin, /usr/sbin. */
  criuPath?: string;
  /** Extra environment for criu (merged over process.env). */
  env?: Record<string, string>;
  /**
   * Set CRIU_FAULT=130 (criu's switch that disables hardware breakpoints) for
   * criu: true always; 'auto' (default) when probeHardwareBreakpoints() says
   * 'broken'; false never. Older criu hangs during dump without it on VMs
   * lacking debug registers; criu 4.2+ probes this itself.
   */
  disableBreakpoints?: boolean | 'auto';
  /**
   * The binary's version, when the caller already knows it (e.g. kept from
   * an earlier `version()` for the same binary): version() then answers
   * without starting criu, and dumps and restores skip their VERSION
   * request (one criu process less, ~20 ms).
   */
  version?: VersionInfo;
}

/** Optional kernel/criu features to ask criu about (FEATURE_CHECK); true = check this one. */
export interface Features {
  /** Memory change tracking (soft-dirty bits), needed for incremental dumps. */
  memTrack?: boolean;
  /** Lazy restore through userfaultfd. */
  lazyPages?: boolean;
  /** Keeping pidfds across pre-dumps to detect pid reuse. */
  pidfdStore?: boolean;
}

/** The outcome of a dump. */
export interface DumpResult {
  /** True when this reply comes from a restored tree (criu's `restored` flag). */
  restored: boolean;
  /** Decoded `stats-dump`, when criu wrote one. */
  stats?: DumpStats | undefined;
}

/** The outcome of a pre-dump. */
export interface PreDumpResult {
  /** criu's dump statistics; undefined when stats-dump could not be read. */
  stats?: DumpStats | undefined;
}

/** The outcome of a restore. */
export interface RestoreResult {
  /** PID of the restored root process. */
  pid: number;
  /** Decoded `stats-restore`, when criu wrote one. */
  stats?: RestoreStats | undefined;
}

/** Where a page server started by criu listens. */
export interface PageServerResult {
  /** Pid of the page server process. */
  pid: number;
  /** TCP port the page server listens on. */
  port: number;
}

/** A daemonized page server started by pageServer(). */
export interface PageServer extends PageServerResult {
  /**
   * Kills the daemon if it is still running (it exits by itself once a dump
   * has sent its pages) and waits until it is gone. Resolves true when it had
   * to be killed. Safe to call twice; never signals a reused pid.
   */
  stop(): Promise<boolean>;
}

/** criu's version as the VERSION request reports it, with a display text. */
export interface VersionInfo extends CriuVersion {
  /** e.g. "4.2.1". */
  text: string;
}

type CriuOptsInit = RawCriuOpts;

interface RequestSpec {
  type: criu_req_type;
  opts?: CriuOptsInit | undefined;
  hooks?: NotifyHooks | undefined;
  /** Send on the shared keep-open session (VERSION, FEATURE_CHECK, CPUINFO_*, PAGE_SERVER*). */
  session?: 'keep-open' | 'last' | undefined;
  extraFds?: readonly number[];
  features?: Features;
  pid?: number;
  logPath?: string | undefined;
}

/**
 * A CRIU RPC client. `CriuClient.swrk()` runs `criu swrk` children (one per
 * dump/restore, plus one kept open for cheap requests); `CriuClient.service()`
 * talks to a running `criu service`. Call `close()` when done.
 */
export class CriuClient {
  readonly #transport: Transport;
  readonly #criuPath: string | undefined;
  #session: Connection | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #version: VersionInfo | undefined;
  #givenVersion: VersionInfo | undefined;

  private constructor(transport: Transport, criuPath: string | undefined) {
    this.#transport = transport;
    this.#criuPath = criuPath;
  }

  /** A client that spawns `criu swrk`. Throws CRIU_NOT_FOUND when criu cannot be found. */
  static swrk(options: SwrkOptions = {}): CriuClient {
    const criuPath = findCriu(options.criuPath);
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    const disable = options.disableBreakpoints ?? 'auto';
    if (disable === true || (disable === 'auto' && probeHardwareBreakpoints() === 'broken')) {
      env.CRIU_FAULT = '130';
    }
    const client = new CriuClient(new SwrkTransport(criuPath, env), criuPath);
    if (options.version) client.#version = client.#givenVersion = options.version;
    return client;
  }

  /** A client for a `criu service --address <socketPath>` already running. */
  static service(socketPath: string): CriuClient {
    return new CriuClient(new ServiceTransport(socketPath), undefined);
  }

  /** The transport in use. */
  get transport(): 'swrk' | 'service' {
    return this.#transport.kind;
  }

  /** The criu binary this client starts (swrk); undefined for a service. */
  get criuPath(): string | undefined {
    return this.#criuPath;
  }

  /** criu's version: asked on the kept-open session, unless it was given to swrk(). */
  async version(): Promise<VersionInfo> {
    if (this.#givenVersion) return this.#givenVersion;
    const resp = await this.#request({ type: criu_req_type.VERSION, session: 'keep-open' });
    const v = resp.version;
    if (!v)
      throw new CriuError('criu sent a VERSION reply without a version', {
        code: 'REQUEST_FAILED',
        request: 'VERSION',
      });
    const info: VersionInfo = {
      major: v.majorNumber,
      minor: v.minorNumber,
      sublevel: v.sublevel || undefined,
      extra: v.extra || undefined,
      gitid: v.gitid || undefined,
      name: v.name || undefined,
      text: [v.majorNumber, v.minorNumber, ...(v.sublevel ? [v.sublevel] : [])].join('.'),
    };
    this.#version = info;
    return info;
  }

  /** `criu check`: resolves when the kernel supports checkpoint/restore, throws with criu's reasons otherwise. */
  async check(): Promise<void> {
    assertRoot();
    await this.#request({ type: criu_req_type.CHECK });
  }

  /** Asks criu whether the kernel supports each requested feature. */
  async featureCheck(features: Features): Promise<Required<Features>> {
    const resp = await this.#request({
      type: criu_req_type.FEATURE_CHECK,
      session: 'keep-open',
      features,
    });
    const f = resp.features;
    return {
      memTrack: f?.memTrack ?? false,
      lazyPages: f?.lazyPages ?? false,
      pidfdStore: f?.pidfdStore ?? false,
    };
  }

  /** Checkpoints the tree rooted at `opts.pid` into `opts.imagesDir`. */
  async dump(opts: DumpOptions, hooks?: NotifyHooks): Promise<DumpResult> {
    const resp = await this.#imageRequest(criu_req_type.DUMP, 'dump', opts, hooks);
    return {
      restored: resp.dump?.restored ?? false,
      stats: (await this.#stats(opts, 'dump'))?.dump,
    };
  }

  /** A pre-dump (memory only, tree keeps running); follow with dump({ parentImg }). */
  async preDump(opts: DumpOptions, hooks?: NotifyHooks): Promise<PreDumpResult> {
    await this.#imageRequest(criu_req_type.PRE_DUMP, 'pre-dump', opts, hooks);
    return { stats: (await this.#stats(opts, 'dump'))?.dump };
  }

  /** A pre-dump as its own request (criu's SINGLE_PRE_DUMP). */
  async singlePreDump(opts: DumpOptions, hooks?: NotifyHooks): Promise<PreDumpResult> {
    await this.#imageRequest(criu_req_type.SINGLE_PRE_DUMP, 'pre-dump', opts, hooks);
    return { stats: (await this.#stats(opts, 'dump'))?.dump };
  }

  /**
   * Restores the tree from `opts.imagesDir`. Without `rstSibling` the restored
   * root is criu's child and is reparented to PID 1 (or the nearest
   * subreaper) when criu exits.
   */
  async restore(opts: RestoreOptions, hooks?: NotifyHooks): Promise<RestoreResult> {
    const resp = await this.#imageRequest(criu_req_type.RESTORE, 'restore', opts, hooks);
    const pid = resp.restore?.pid;
    if (pid === undefined) {
      throw new CriuError('criu sent a RESTORE reply without a pid', {
        code: 'REQUEST_FAILED',
        request: 'RESTORE',
      });
    }
    return { pid, stats: (await this.#stats(opts, 'restore'))?.restore };
  }

  /**
   * Starts a daemonized page server receiving pages into `opts.imagesDir`.
   * It serves one dump, then exits; `stop()` kills it earlier.
   *
   * criu 4.2.x replies with `pid: 0` (it loses the daemon's pid); the pid is
   * then found as the owner of the listening socket on the reported port. If
   * that fails, the daemon is killed and CriuError(REQUEST_FAILED) thrown.
   */
  async pageServer(opts: PageServerOptions): Promise<PageServer> {
    const since = uptimeTicks();
    // Sockets already listening on a fixed port belong to someone else. The
    // start time alone can't tell: it counts 10 ms ticks, and a server
    // started just before this request shares our tick.
    const earlier = opts.port ? listeningSocketInodes(opts.port) : new Set<string>();
    let resp: criu_resp;
    try {
      resp = await this.#pageServerRequest(criu_req_type.PAGE_SERVER, opts);
    } catch (err) {
      // A failed request can still have left a daemon on a fixed port: kill it
      // if it listens on a new socket and started after we asked.
      const stray = opts.port ? findPageServerPid(opts.port, '/proc', earlier) : undefined;
      const started = stray ? startTime(stray) : undefined;
      if (stray && started !== undefined && Number(started) >= since) {
        await stopProcess(stray, started);
      }
      throw err;
    }
    const port = resp.ps?.port ?? 0;
    const pid = resp.ps?.pid || (port ? findPageServerPid(port) : undefined);
    if (!pid || !port) {
      // Nothing to hand back: make sure no daemon outlives this failure.
      const orphan = port ? findPageServerPid(port) : undefined;
      if (orphan) await stopProcess(orphan, startTime(orphan));
      throw new CriuError(
        `criu started a page server but ${port ? `no process listens on port ${port}` : 'reported no port'}`,
        { code: 'REQUEST_FAILED', request: 'PAGE_SERVER' },
      );
    }
    const started = startTime(pid);
    return { pid, port, stop: () => stopProcess(pid, started) };
  }

  /**
   * Starts a page server as a child of the kept-open criu session; collect
   * its exit status with waitPid(pid) on this same client.
   */
  async pageServerChld(opts: PageServerOptions): Promise<PageServerResult> {
    const resp = await this.#pageServerRequest(criu_req_type.PAGE_SERVER_CHLD, opts);
    if (!resp.ps?.pid) {
      throw new CriuError('criu did not report the page server it started', {
        code: 'REQUEST_FAILED',
        request: 'PAGE_SERVER_CHLD',
      });
    }
    return { pid: resp.ps.pid, port: resp.ps.port };
  }

  /**
   * Waits for a child of the kept-open criu session (a page server from
   * pageServerChld) and returns its wait status. criu ends the session after
   * this request; the next one opens a new session.
   */
  async waitPid(pid: number): Promise<number> {
    const resp = await this.#request({ type: criu_req_type.WAIT_PID, session: 'last', pid });
    return resp.status;
  }

  /** Saves this machine's CPU description into `opts.imagesDir` (criu cpuinfo dump). */
  async cpuinfoDump(opts: ImageOptions): Promise<void> {
    await this.#withDirs(criu_req_type.CPUINFO_DUMP, 'cpuinfo-dump', opts, undefined, 'keep-open');
  }

  /** Checks that this machine's CPU can run images in `opts.imagesDir`; throws if not. */
  async cpuinfoCheck(opts: ImageOptions): Promise<void> {
    await this.#withDirs(
      criu_req_type.CPUINFO_CHECK,
      'cpuinfo-check',
      opts,
      undefined,
      'keep-open',
    );
  }

  /** Ends the kept-open criu session (criu exits when its socket closes). */
  close(): void {
    this.#session?.close();
    this.#session = undefined;
  }

  #pageServerRequest(type: criu_req_type, opts: PageServerOptions): Promise<criu_resp> {
    assertRoot();
    return this.#withDirs(type, 'page-server', opts, undefined, 'keep-open');
  }

  async #imageRequest(
    type: criu_req_type,
    logName: string,
    opts: DumpOptions | RestoreOptions,
    hooks?: NotifyHooks,
  ) {
    assertRoot();
    if (this.#transport.kind === 'swrk') {
      // Asked once per client (or given to swrk()), checked before every request.
      assertSupportedVersion(this.#version ?? (await this.version()), this.#criuPath ?? 'criu');
    }
    return this.#withDirs(type, logName, opts, hooks, undefined);
  }

  /** Opens imagesDir/workDir for the request's lifetime; criu reads them via /proc/<our pid>/fd/N. */
  async #withDirs(
    type: criu_req_type,
    logName: string,
    opts: ImageOptions & { inheritFd?: { key: string; fd: number }[]; orphanPtsMaster?: boolean },
    hooks: NotifyHooks | undefined,
    session: RequestSpec['session'],
  ): Promise<criu_resp> {
    const request = criu_req_type[type];
    // `raw` wins over everything, the descriptors and log name we set included.
    const logFile = opts.raw?.logFile ?? opts.logFile ?? `${logName}.log`;
    if (logFile.includes('/')) {
      throw new CriuError(
        `logFile must be a bare file name, got "${logFile}": criu writes it inside workDir; set workDir instead`,
        {
          code: 'INVALID_OPTIONS',
          request,
        },
      );
    }
    const opened: number[] = [];
    try {
      const criuOpts: CriuOptsInit = { ...toCriuOpts(opts), logFile };
      if (opts.raw?.imagesDirFd === undefined) {
        criuOpts.imagesDirFd = openDir(opts.imagesDir, 'imagesDir', request);
        opened.push(criuOpts.imagesDirFd);
      }
      if (opts.workDir !== undefined && opts.raw?.workDirFd === undefined) {
        criuOpts.workDirFd = openDir(opts.workDir, 'workDir', request);
        opened.push(criuOpts.workDirFd);
      }
      const extraFds: number[] = [];
      if (opts.inheritFd?.length) {
        criuOpts.inheritFd = opts.inheritFd.map(({ key, fd }) => {
          extraFds.push(fd);
          return { key, fd: 3 + extraFds.length };
        });
      }
      if (hooks || opts.orphanPtsMaster) criuOpts.notifyScripts = true;
      Object.assign(criuOpts, opts.raw);
      return await this.#request({
        type,
        opts: criuOpts,
        hooks,
        session,
        extraFds,
        logPath: join(logDir(criuOpts, opts), logFile),
      });
    } finally {
      for (const fd of opened) closeQuietly(fd);
    }
  }

  async #stats(opts: ImageOptions, kind: 'dump' | 'restore') {
    try {
      return await readStats(opts.workDir ?? opts.imagesDir, kind);
    } catch {
      return undefined;
    }
  }

  /** Requests on the kept-open session run one at a time; others run side by side. */
  #request(spec: RequestSpec): Promise<criu_resp> {
    if (!spec.session) return this.#exchange(spec);
    const run = this.#queue.then(() => this.#exchange(spec));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The one request path: send, answer notifications, read the reply, judge it. */
  async #exchange(spec: RequestSpec): Promise<criu_resp> {
    const request = criu_req_type[spec.type];
    let connection: Connection;
    try {
      if (spec.session) {
        this.#session ??= this.#transport.open([]);
        connection = this.#session;
      } else {
        connection = this.#transport.open(spec.extraFds ?? []);
      }
    } catch (cause) {
      throw new CriuError(
        this.#transport instanceof ServiceTransport
          ? `cannot connect to criu service at ${this.#transport.socketPath}: ${(cause as Error).message}. Is \`criu service --address ${this.#transport.socketPath}\` running?`
          : `cannot start criu: ${(cause as Error).message}`,
        { code: 'CONNECTION_LOST', request, cause },
      );
    }
    const ownsConnection = !spec.session;
    const endsSession = spec.session === 'last';
    let hookFailure: { error?: unknown } | undefined;
    try {
      const req = create(criu_reqSchema, {
        type: spec.type,
        ...(spec.opts && { opts: spec.opts }),
        ...(spec.session === 'keep-open' && { keepOpen: true }),
        ...(spec.features && { features: spec.features }),
        ...(spec.pid !== undefined && { pid: spec.pid }),
      });
      let resp: criu_resp;
      try {
        connection.socket.send(toBinary(criu_reqSchema, req));
        for (;;) {
          const message = await connection.socket.receive();
          resp = fromBinary(criu_respSchema, message.data);
          if (resp.type !== criu_req_type.NOTIFY) {
            for (const fd of message.fds) closeQuietly(fd);
            break;
          }
          const notification: CriuNotification = {
            script: resp.notify?.script ?? '',
            pid: resp.notify?.pid || undefined,
          };
          const fd = message.fds[0];
          const outcome = await runHook(spec.hooks ?? {}, notification, fd);
          for (const extra of outcome.fdTaken ? message.fds.slice(1) : message.fds)
            closeQuietly(extra);
          if (!outcome.ok) hookFailure = { error: outcome.error };
          const answer = create(criu_reqSchema, {
            type: criu_req_type.NOTIFY,
            notifySuccess: outcome.ok,
            ...(outcome.external?.length && { opts: { external: outcome.external } }),
          });
          connection.socket.send(toBinary(criu_reqSchema, answer));
        }
      } catch (cause) {
        if (CriuError.is(cause)) throw cause;
        if (spec.session) this.#dropSession();
        await new Promise((resolve) => setTimeout(resolve, 20)); // let criu's exit status arrive
        const stderr = connection.stderr();
        const status = connection.exitStatus();
        const logLines = spec.logPath ? readErrorLines(spec.logPath) : [];
        throw new CriuError(
          `criu ${request}: connection lost before a reply (${(cause as Error).message}${status ? `; criu ${status}` : ''})` +
            (stderr ? `: ${stderr.split('\n').slice(-5).join(' | ')}` : '') +
            (logLines.length ? `\n${logLines.join('\n')}` : ''),
          { code: 'CONNECTION_LOST', request, logLines, logFile: spec.logPath, cause },
        );
      }
      if (!resp.success) throw failure(request, resp, spec.logPath, hookFailure);
      return resp;
    } finally {
      if (ownsConnection) connection.close();
      if (endsSession) this.#dropSession();
    }
  }

  #dropSession(): void {
    this.#session?.close();
    this.#session = undefined;
  }
}

/** Where criu writes its log: the work directory, else the images directory (followed through raw descriptors). */
function logDir(criuOpts: CriuOptsInit, opts: ImageOptions): string {
  const fd = criuOpts.workDirFd ?? criuOpts.imagesDirFd;
  if (opts.raw?.workDirFd !== undefined || (opts.raw?.imagesDirFd !== undefined && !opts.workDir)) {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {}
  }
  return opts.workDir ?? opts.imagesDir;
}

function openDir(path: string, what: string, request: string): number {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {}
  if (!isDir) {
    throw new CriuError(
      `${what} ${path} does not exist or is not a directory: create it first (mkdir -p -m 0700 ${path})`,
      {
        code: 'INVALID_OPTIONS',
        request,
      },
    );
  }
  return openSync(path, 'r');
}

/** Builds the error for a `success: false` reply, with the log lines that explain it. */
function failure(
  request: string,
  resp: criu_resp,
  logPath: string | undefined,
  hook: { error?: unknown } | undefined,
): CriuError {
  const logLines = logPath ? readErrorLines(logPath) : [];
  const crErrmsg = meaningfulErrmsg(resp.crErrmsg);
  const reason = crErrmsg ?? logLines[0]?.replace(/^\([\d.]+\)\s*/, '') ?? 'no reason given';
  const hint = hintFor([reason, ...logLines].join('\n'));
  const text =
    (hook
      ? `criu ${request} aborted by a notify hook${hook.error ? ` (${(hook.error as Error).message ?? String(hook.error)})` : ''}; the tree was left running`
      : `criu ${request} failed: ${reason}`) +
    (hint ? `\n${hint}` : '') +
    (logLines.length ? `\ncriu log (${logPath}):\n${logLines.join('\n')}` : '');
  return new CriuError(text, {
    code: hook ? 'ABORTED_BY_HOOK' : 'REQUEST_FAILED',
    request,
    crErrno: resp.crErrno || undefined,
    crErrmsg: resp.crErrmsg || undefined,
    logLines,
    logFile: logPath,
    cause: hook?.error,
  });
}

/** A sentence on what to do, for causes users hit often. */
function hintFor(text: string): string | undefined {
  if (/tty|terminal|shell-job|session leader|pts/i.test(text)) {
    return (
      'The process tree holds a terminal (tty) or is not a session leader: start it detached ' +
      '(setsid, stdin from /dev/null, stdout/stderr to files), or pass shellJob: true to dump it with its terminal.'
    );
  }
  if (/No such process|Can't (seize|stop|attach)|ESRCH/i.test(text)) {
    return 'Check the pid: the process must exist and be visible to criu.';
  }
  if (/File exists|Can't fork for/i.test(text)) {
    return 'A PID the tree needs is in use (often the dumped tree not yet reaped by PID 1): retry shortly, or dump trees that are PID 1 of their own PID namespace.';
  }
  if (/bad size/i.test(text)) {
    return 'A file the tree writes changed size since the dump: truncate it back to the recorded size before restoring.';
  }
  return undefined;
}

import { isAbsolute, join, resolve } from 'node:path';
import { PipelineSpecError } from './errors.ts';
import { MAX_FD, MAX_FDS_PER_STAGE, MAX_PIPES, MAX_STAGES } from './facts.ts';
import { currentUmask } from './proc.ts';
import { stageLogName } from './run-dir.ts';

/** How a file is opened for a descriptor: read, write (create, keep content), append, truncate. */
export type FileMode = 'read' | 'write' | 'append' | 'truncate';

/** What a stage's descriptor is connected to, besides pipes. */
export type FdSource =
  | {
      /** /dev/null. */
      type: 'null';
    }
  | {
      /** A file, opened by the launcher. */
      type: 'file';
      /** The file's path, relative to the stage's cwd unless absolute. */
      path: string;
      /** How the file is opened. */
      mode: FileMode;
    }
  /** The same open file as this stage's fd `fd` (a shell's `2>&1`): one open, a shared offset. */
  | {
      /** A duplicate of another descriptor of the same stage. */
      type: 'dup';
      /** The descriptor of this stage to duplicate. */
      fd: number;
    };

/** One command of the pipeline. */
export interface StageSpec {
  /** Command and arguments; argv[0] is looked up in the stage's env PATH unless it contains '/'. */
  argv: readonly string[];
  /** Merged over the pipeline's env for this stage. */
  env?: Readonly<Record<string, string>>;
  /** Working directory (default: the pipeline's, else process.cwd()). */
  cwd?: string;
  /** File mode creation mask (default: the pipeline's, else the calling process's umask). */
  umask?: number;
  /** Descriptors wired to files or /dev/null; pipe ends come from `linear` and `edges`. */
  fds?: Readonly<Record<number, FdSource>>;
}

/** A pipe from stage `from.stage`'s fd `from.fd` (write end) to stage `to.stage`'s fd `to.fd`. */
/**
 * A pipe from one stage's descriptor to another's. One end may be left out
 * (not both): nobody holds it, so a writer gets EPIPE/SIGPIPE and a reader
 * EOF at once — a shell's pipe whose other end a redirection replaced.
 */
export interface PipeEdge {
  /** The write end: which stage (0-based) holds it, as which descriptor. Absent: nobody holds it. */
  from?: {
    /** 0-based index of the writing stage. */
    stage: number;
    /** The writing stage's descriptor number. */
    fd: number;
  };
  /** The read end: which stage (0-based) holds it, as which descriptor. Absent: nobody holds it. */
  to?: {
    /** 0-based index of the reading stage. */
    stage: number;
    /** The reading stage's descriptor number. */
    fd: number;
  };
}

/** A pipeline to spawn: its stages and how their descriptors are wired. */
export interface PipelineSpec {
  /** The commands, in pipeline order (at least one). */
  stages: readonly StageSpec[];
  /** Connect each stage's fd 1 to the next stage's fd 0 (default true). */
  linear?: boolean;
  /** Extra pipes, any graph (each descriptor may be used once per stage). */
  edges?: readonly PipeEdge[];
  /** Environment of every stage, exactly: nothing is inherited unless `inheritEnv`. */
  env?: Readonly<Record<string, string>>;
  /** Start from process.env (stage and pipeline env override it). Default false. */
  inheritEnv?: boolean;
  /** Working directory of every stage (default process.cwd()). */
  cwd?: string;
  /**
   * File mode creation mask of every stage, applied just before its command
   * starts (default: the calling process's umask, as a shell's children get
   * theirs). The launcher's own files in the run directory stay private anyway.
   */
  umask?: number;
  /** First stage's fd 0 when nothing else sets it (default /dev/null). */
  stdin?: FdSource;
  /** Last stage's fd 1 when nothing else sets it (default RUNDIR/stdout, truncated). */
  stdout?: FdSource;
  /** Every stage's fd 2 when nothing else sets it (default RUNDIR/stage-N.log, N from 1, truncated). */
  stderr?: FdSource;
}

/** Where a resolved descriptor points: a file (or /dev/null) or one end of pipe N. */
export type ResolvedSource =
  | {
      /** /dev/null. */
      kind: 'null';
      /** Opened for writing (else for reading). */
      write: boolean;
    }
  | {
      /** A file. */
      kind: 'file';
      /** Absolute path of the file. */
      path: string;
      /** How the file is opened. */
      mode: FileMode;
    }
  | {
      /** One end of a pipe the launcher creates. */
      kind: 'pipe';
      /** 0-based pipe number, below ResolvedPipeline.pipeCount. */
      pipe: number;
      /** Which end of the pipe. */
      end: 'read' | 'write';
    }
  | {
      /** A duplicate of another descriptor of the same stage. */
      kind: 'dup';
      /** The descriptor of this stage to duplicate. */
      fd: number;
    };

/** One stage after validation and defaults. */
export interface ResolvedStage {
  /** Command and arguments. */
  argv: readonly string[];
  /** The stage's whole environment. */
  env: Readonly<Record<string, string>>;
  /** Absolute working directory. */
  cwd: string;
  /** File mode creation mask applied before the command starts. */
  umask: number;
  /** Target descriptor number → source, sorted by target. */
  fds: ReadonlyMap<number, ResolvedSource>;
}

/** The spec after validation and defaults: exactly what the launcher will do. */
export interface ResolvedPipeline {
  /** The stages, in pipeline order. */
  stages: readonly ResolvedStage[];
  /** How many pipes the launcher creates (numbered from 0). */
  pipeCount: number;
}

const FILE_MODES: readonly FileMode[] = ['read', 'write', 'append', 'truncate'];

function checkString(problems: string[], where: string, value: unknown): value is string {
  if (typeof value !== 'string') {
    problems.push(`${where} must be a string`);
    return false;
  }
  if (value.includes('\0')) {
    problems.push(`${where} contains a NUL byte`);
    return false;
  }
  return true;
}

function checkEnv(problems: string[], where: string, env: unknown): void {
  if (env === undefined) return;
  if (typeof env !== 'object' || env === null) {
    problems.push(`${where} must be an object of strings`);
    return;
  }
  for (const [key, value] of Object.entries(env)) {
    if (key === '' || key.includes('=') || key.includes('\0'))
      problems.push(`${where} key ${JSON.stringify(key)} must be non-empty without '=' or NUL`);
    checkString(problems, `${where}.${key}`, value);
  }
}

function checkUmask(problems: string[], where: string, umask: unknown): void {
  if (umask === undefined) return;
  if (typeof umask !== 'number' || !Number.isInteger(umask) || umask < 0 || umask > 0o777)
    problems.push(`${where} must be an integer 0..0o777`);
}

function checkFd(problems: string[], where: string, fd: unknown): fd is number {
  const ok = typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 && fd <= MAX_FD;
  if (!ok) problems.push(`${where} must be a descriptor number 0..${MAX_FD}`);
  return ok;
}

function checkSource(problems: string[], where: string, source: unknown): void {
  const s = source as Partial<{ type: unknown; path: unknown; mode: unknown; fd: unknown }> | null;
  if (typeof s !== 'object' || s === null)
    problems.push(`${where} must be { type: 'null' | 'file' | 'dup' }`);
  else if (s.type === 'dup') checkFd(problems, `${where}.fd`, s.fd);
  else if (s.type === 'file') {
    checkString(problems, `${where}.path`, s.path);
    if (!FILE_MODES.includes(s.mode as FileMode))
      problems.push(`${where}.mode must be one of ${FILE_MODES.join(', ')}`);
  } else if (s.type !== 'null') problems.push(`${where}.type must be 'null', 'file' or 'dup'`);
}

function toResolved(source: FdSource, cwd: string, target: number): ResolvedSource {
  if (source.type === 'null') return { kind: 'null', write: target !== 0 };
  if (source.type === 'dup') return { kind: 'dup', fd: source.fd };
  return { kind: 'file', path: resolve(cwd, source.path), mode: source.mode };
}

/** Every problem of the spec's shape, before anything is resolved. */
function checkSpec(spec: PipelineSpec, stages: readonly StageSpec[]): string[] {
  const problems: string[] = [];
  if (stages.length === 0) problems.push('stages must be a non-empty array');
  if (stages.length > MAX_STAGES) problems.push(`at most ${MAX_STAGES} stages are supported`);
  checkEnv(problems, 'env', spec?.env);
  checkUmask(problems, 'umask', spec?.umask);
  if (spec?.cwd !== undefined) checkString(problems, 'cwd', spec.cwd);
  for (const key of ['stdin', 'stdout', 'stderr'] as const)
    if (spec?.[key] !== undefined) checkSource(problems, key, spec[key]);
  for (const [i, stage] of stages.entries()) checkStage(problems, `stages[${i}]`, stage);
  (spec?.edges ?? []).forEach((edge, e) => {
    if (edge?.from === undefined && edge?.to === undefined)
      problems.push(`edges[${e}] needs a 'from' or a 'to' end`);
    for (const side of ['from', 'to'] as const) {
      const end = edge?.[side];
      if (end === undefined) continue; // a one-ended pipe
      const where = `edges[${e}].${side}`;
      if (!Number.isInteger(end?.stage) || end.stage < 0 || end.stage >= stages.length)
        problems.push(`${where}.stage must name a stage 0..${stages.length - 1}`);
      checkFd(problems, `${where}.fd`, end?.fd);
    }
  });
  return problems;
}

function checkStage(problems: string[], where: string, stage: StageSpec): void {
  if (!Array.isArray(stage?.argv) || stage.argv.length === 0 || stage.argv[0] === '')
    problems.push(`${where}.argv must be a non-empty array with a command first`);
  else
    for (const [a, arg] of (stage.argv as readonly unknown[]).entries())
      checkString(problems, `${where}.argv[${a}]`, arg);
  checkEnv(problems, `${where}.env`, stage?.env);
  checkUmask(problems, `${where}.umask`, stage?.umask);
  if (stage?.cwd !== undefined) checkString(problems, `${where}.cwd`, stage.cwd);
  for (const [fd, source] of Object.entries(stage?.fds ?? {})) {
    checkFd(problems, `${where}.fds key ${fd}`, Number(fd));
    checkSource(problems, `${where}.fds[${fd}]`, source);
  }
}

/** Descriptor tables under construction: one map per stage, every double use a problem. */
class Wiring {
  readonly maps: Map<number, ResolvedSource>[];
  constructor(
    stageCount: number,
    readonly problems: string[],
  ) {
    this.maps = Array.from({ length: stageCount }, () => new Map<number, ResolvedSource>());
  }
  claim(stage: number, fd: number, source: ResolvedSource, what: string): void {
    const map = this.maps[stage]!;
    if (map.has(fd)) this.problems.push(`stage ${stage} fd ${fd} is wired twice (${what})`);
    else map.set(fd, source);
  }
}

/** Claims both ends of every pipe (the linear chain first, then `edges`); returns the count. */
function wirePipes(spec: PipelineSpec, stageCount: number, wiring: Wiring): number {
  const allEdges: PipeEdge[] = [];
  if (spec.linear ?? true)
    for (let i = 0; i + 1 < stageCount; i++)
      allEdges.push({ from: { stage: i, fd: 1 }, to: { stage: i + 1, fd: 0 } });
  allEdges.push(...(spec.edges ?? []));
  allEdges.forEach((edge, pipe) => {
    const end = (e: PipeEdge['from']) => (e ? `${e.stage}:${e.fd}` : '(none)');
    const label = `pipe ${end(edge.from)} -> ${end(edge.to)}`;
    if (edge.from)
      wiring.claim(edge.from.stage, edge.from.fd, { kind: 'pipe', pipe, end: 'write' }, label);
    if (edge.to)
      wiring.claim(edge.to.stage, edge.to.fd, { kind: 'pipe', pipe, end: 'read' }, label);
  });
  return allEdges.length;
}

/** What every stage shares: the base cwd, env and umask, the run directory, the stage count. */
interface Context {
  spec: PipelineSpec;
  runDir: string;
  baseCwd: string;
  baseEnv: Record<string, string>;
  umask: number;
  last: number;
  problems: string[];
}

/** Stage `i` with its explicit fds, then the defaults for fd 0, 1 and 2 where still free. */
function resolveStage(stage: StageSpec, i: number, ctx: Context, wiring: Wiring): ResolvedStage {
  const { spec, baseCwd } = ctx;
  const cwd = resolve(baseCwd, stage.cwd ?? '.');
  for (const [fd, source] of Object.entries(stage.fds ?? {}) as [string, FdSource][])
    wiring.claim(i, Number(fd), toResolved(source, cwd, Number(fd)), 'fds');
  const map = wiring.maps[i]!;
  const file = (name: string): FdSource => ({
    type: 'file',
    path: join(ctx.runDir, name),
    mode: 'truncate',
  });
  if (i === 0 && !map.has(0)) map.set(0, toResolved(spec.stdin ?? { type: 'null' }, baseCwd, 0));
  if (i === ctx.last && !map.has(1))
    map.set(1, toResolved(spec.stdout ?? file('stdout'), baseCwd, 1));
  if (!map.has(2)) map.set(2, toResolved(spec.stderr ?? file(stageLogName(i)), baseCwd, 2));
  resolveDups(map, i, ctx.problems);
  if (map.size > MAX_FDS_PER_STAGE)
    ctx.problems.push(`stage ${i} declares more than ${MAX_FDS_PER_STAGE} fds`);
  const env: Record<string, string> = { ...ctx.baseEnv, ...stage.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return {
    argv: [...stage.argv],
    env,
    cwd,
    umask: stage.umask ?? ctx.umask,
    fds: new Map([...map.entries()].sort((a, b) => a[0] - b[0])),
  };
}

/**
 * Validates the whole spec and applies the defaults. Throws a
 * PipelineSpecError listing every problem; nothing is started here.
 */
export function resolvePipeline(spec: PipelineSpec, runDir: string): ResolvedPipeline {
  const stages = Array.isArray(spec?.stages) ? spec.stages : [];
  const problems = checkSpec(spec, stages);
  if (problems.length > 0) throw new PipelineSpecError(problems);

  // Wire pipes first, then explicit fds, then defaults for what is still free.
  const wiring = new Wiring(stages.length, problems);
  const pipeCount = wirePipes(spec, stages.length, wiring);
  if (pipeCount > MAX_PIPES) problems.push(`at most ${MAX_PIPES} pipes are supported`);
  const ctx: Context = {
    spec,
    runDir,
    baseCwd: resolve(spec.cwd ?? process.cwd()),
    baseEnv: { ...(spec.inheritEnv ? process.env : {}), ...spec.env } as Record<string, string>,
    umask: spec.umask ?? currentUmask(),
    last: stages.length - 1,
    problems,
  };
  const resolved = stages.map((stage, i) => resolveStage(stage, i, ctx, wiring));
  if (problems.length > 0) throw new PipelineSpecError(problems);
  if (!isAbsolute(runDir)) throw new PipelineSpecError([`runDir ${runDir} must be absolute`]);
  return { stages: resolved, pipeCount };
}

/**
 * Points every dup at the descriptor it finally copies (2>&1 where 1 is
 * itself a dup of 3 copies 3), so the launcher only ever copies a real
 * source; a dup of an unset descriptor or a cycle is a spec problem.
 */
function resolveDups(map: Map<number, ResolvedSource>, stage: number, problems: string[]): void {
  for (const [fd, source] of map) {
    if (source.kind !== 'dup') continue;
    const seen = new Set([fd]);
    let target = source.fd;
    let next = map.get(target);
    while (next?.kind === 'dup' && !seen.has(target)) {
      seen.add(target);
      target = next.fd;
      next = map.get(target);
    }
    if (next === undefined)
      problems.push(`stage ${stage} fd ${fd} duplicates fd ${target}, which is not set`);
    else if (next.kind === 'dup') problems.push(`stage ${stage} fd ${fd} is part of a dup cycle`);
    else map.set(fd, { kind: 'dup', fd: target });
  }
}

/** The command line of a stage, for messages: `gzip -1`. */
export function commandOf(argv: readonly string[]): string {
  return argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
}

import { isAbsolute, join, resolve } from 'node:path';
import { PipelineSpecError } from './errors.ts';

/** How a file is opened for a descriptor: read, write (create, keep content), append, truncate. */
export type FileMode = 'read' | 'write' | 'append' | 'truncate';

/** What a stage's descriptor is connected to, besides pipes. */
export type FdSource =
  | { type: 'null' }
  | { type: 'file'; path: string; mode: FileMode }
  /** The same open file as this stage's fd `fd` (a shell's `2>&1`): one open, a shared offset. */
  | { type: 'dup'; fd: number };

/** One command of the pipeline. */
export interface StageSpec {
  /** Command and arguments; argv[0] is looked up in the stage's env PATH unless it contains '/'. */
  argv: readonly string[];
  /** Merged over the pipeline's env for this stage. */
  env?: Readonly<Record<string, string>>;
  /** Working directory (default: the pipeline's, else process.cwd()). */
  cwd?: string;
  /** File mode creation mask (default: the pipeline's, else 0o022). */
  umask?: number;
  /** Descriptors wired to files or /dev/null; pipe ends come from `linear` and `edges`. */
  fds?: Readonly<Record<number, FdSource>>;
}

/** A pipe from stage `from.stage`'s fd `from.fd` (write end) to stage `to.stage`'s fd `to.fd`. */
export interface PipeEdge {
  from: { stage: number; fd: number };
  to: { stage: number; fd: number };
}

export interface PipelineSpec {
  stages: readonly StageSpec[];
  /** Connect each stage's fd 1 to the next stage's fd 0 (default true). */
  linear?: boolean;
  /** Extra pipes, any graph (each descriptor may be used once per stage). */
  edges?: readonly PipeEdge[];
  /** Environment of every stage, exactly: nothing is inherited unless `inheritEnv`. */
  env?: Readonly<Record<string, string>>;
  /** Start from process.env (stage and pipeline env override it). Default false. */
  inheritEnv?: boolean;
  cwd?: string;
  umask?: number;
  /** First stage's fd 0 when nothing else sets it (default /dev/null). */
  stdin?: FdSource;
  /** Last stage's fd 1 when nothing else sets it (default RUNDIR/stdout, truncated). */
  stdout?: FdSource;
  /** Every stage's fd 2 when nothing else sets it (default RUNDIR/stage-N.stderr, truncated). */
  stderr?: FdSource;
}

/** Where a resolved descriptor points: a file (or /dev/null) or one end of pipe N. */
export type ResolvedSource =
  | { kind: 'null'; write: boolean }
  | { kind: 'file'; path: string; mode: FileMode }
  | { kind: 'pipe'; pipe: number; end: 'read' | 'write' }
  | { kind: 'dup'; fd: number };

export interface ResolvedStage {
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  umask: number;
  /** Target descriptor number → source, sorted by target. */
  fds: ReadonlyMap<number, ResolvedSource>;
}

/** The spec after validation and defaults: exactly what the launcher will do. */
export interface ResolvedPipeline {
  stages: readonly ResolvedStage[];
  pipeCount: number;
}

export const MAX_STAGES = 64;
export const MAX_TARGET_FD = 1023;
export const MAX_FDS_PER_STAGE = 64;

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
  const ok = typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 && fd <= MAX_TARGET_FD;
  if (!ok) problems.push(`${where} must be a descriptor number 0..${MAX_TARGET_FD}`);
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

/**
 * Validates the whole spec and applies the defaults. Throws a
 * PipelineSpecError listing every problem; nothing is started here.
 */
export function resolvePipeline(spec: PipelineSpec, runDir: string): ResolvedPipeline {
  const problems: string[] = [];
  const stages = Array.isArray(spec?.stages) ? spec.stages : [];
  if (stages.length === 0) problems.push('stages must be a non-empty array');
  if (stages.length > MAX_STAGES) problems.push(`at most ${MAX_STAGES} stages are supported`);
  checkEnv(problems, 'env', spec?.env);
  checkUmask(problems, 'umask', spec?.umask);
  if (spec?.cwd !== undefined) checkString(problems, 'cwd', spec.cwd);
  for (const key of ['stdin', 'stdout', 'stderr'] as const)
    if (spec?.[key] !== undefined) checkSource(problems, key, spec[key]);

  stages.forEach((stage, i) => {
    const where = `stages[${i}]`;
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
  });
  const edges = spec?.edges ?? [];
  edges.forEach((edge, e) => {
    for (const side of ['from', 'to'] as const) {
      const end = edge?.[side];
      const where = `edges[${e}].${side}`;
      if (!Number.isInteger(end?.stage) || end.stage < 0 || end.stage >= stages.length)
        problems.push(`${where}.stage must name a stage 0..${stages.length - 1}`);
      checkFd(problems, `${where}.fd`, end?.fd);
    }
  });
  if (problems.length > 0) throw new PipelineSpecError(problems);

  // Wire pipes first, then explicit fds, then defaults for what is still free.
  const baseCwd = resolve(spec.cwd ?? process.cwd());
  const wired = stages.map(() => new Map<number, ResolvedSource>());
  const claim = (stage: number, fd: number, source: ResolvedSource, what: string): void => {
    const map = wired[stage]!;
    if (map.has(fd)) problems.push(`stage ${stage} fd ${fd} is wired twice (${what})`);
    else map.set(fd, source);
  };
  const allEdges: PipeEdge[] = [];
  if (spec.linear ?? true)
    for (let i = 0; i + 1 < stages.length; i++)
      allEdges.push({ from: { stage: i, fd: 1 }, to: { stage: i + 1, fd: 0 } });
  allEdges.push(...edges);
  allEdges.forEach((edge, pipe) => {
    const label = `pipe ${edge.from.stage}:${edge.from.fd} -> ${edge.to.stage}:${edge.to.fd}`;
    claim(edge.from.stage, edge.from.fd, { kind: 'pipe', pipe, end: 'write' }, label);
    claim(edge.to.stage, edge.to.fd, { kind: 'pipe', pipe, end: 'read' }, label);
  });

  const baseEnv = { ...(spec.inheritEnv ? process.env : {}), ...spec.env } as Record<
    string,
    string
  >;
  const resolved = stages.map((stage, i): ResolvedStage => {
    const cwd = resolve(baseCwd, stage.cwd ?? '.');
    for (const [fd, source] of Object.entries(stage.fds ?? {}) as [string, FdSource][])
      claim(i, Number(fd), toResolved(source, cwd, Number(fd)), 'fds');
    const map = wired[i]!;
    if (i === 0 && !map.has(0)) map.set(0, toResolved(spec.stdin ?? { type: 'null' }, baseCwd, 0));
    if (i === stages.length - 1 && !map.has(1)) {
      const stdout: FdSource = spec.stdout ?? {
        type: 'file',
        path: join(runDir, 'stdout'),
        mode: 'truncate',
      };
      map.set(1, toResolved(stdout, baseCwd, 1));
    }
    if (!map.has(2)) {
      const stderr: FdSource = spec.stderr ?? {
        type: 'file',
        path: join(runDir, `stage-${i}.stderr`),
        mode: 'truncate',
      };
      map.set(2, toResolved(stderr, baseCwd, 2));
    }
    resolveDups(map, i, problems);
    if (map.size > MAX_FDS_PER_STAGE)
      problems.push(`stage ${i} declares more than ${MAX_FDS_PER_STAGE} fds`);
    const env: Record<string, string> = { ...baseEnv, ...stage.env };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    return {
      argv: [...stage.argv],
      env,
      cwd,
      umask: stage.umask ?? spec.umask ?? 0o022,
      fds: new Map([...map.entries()].sort((a, b) => a[0] - b[0])),
    };
  });
  if (problems.length > 0) throw new PipelineSpecError(problems);
  if (!isAbsolute(runDir)) throw new PipelineSpecError([`runDir ${runDir} must be absolute`]);
  return { stages: resolved, pipeCount: allEdges.length };
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

import { resolve } from 'node:path';
import {
  type FdSource,
  type PipeEdge,
  type PipelineSpec,
  type StageSpec,
  stageLogName,
} from '@cryopipe/spawn';
import { type PipelineSyntax, PipelineSyntaxError } from './pipeline-syntax.ts';

/**
 * An open file description of a stage, as bash's fd table would hold it
 * while it applies the stage's redirections in order.
 */
type Description =
  | { kind: 'pipe'; pipe: number; end: 'read' | 'write' }
  | { kind: 'file'; path: string; mode: 'read' | 'truncate' | 'append' }
  | { kind: 'null' };

/** A redirection bash performs whose descriptor no fd holds in the end: the file is still created (and truncated). */
export interface SideEffectOpen {
  stage: number;
  path: string;
  mode: 'read' | 'truncate' | 'append';
}

export interface PipelinePlan {
  spec: PipelineSpec;
  /** Opens to perform before the stages start, in order (`cmd > a > b` still creates and truncates a). */
  sideEffects: SideEffectOpen[];
}

/**
 * Turns parsed pipeline syntax into a @cryopipe/spawn spec, with bash's
 * meaning: each stage starts with fd 0 and fd 1 on its pipes, then applies its
 * redirections left to right, each replacing one fd (`N>&M` copies what M is
 * at that moment, so `2>&1 > f` sends stderr down the pipe and stdout to f).
 * Defaults make the job dumpable and inspectable: stdin from /dev/null, each
 * stage's stderr in the job's logs/ directory, the last stage's stdout in
 * logs/stdout.log. The environment is the caller's (a user running
 * `cryopipe run` expects PATH, HOME and friends), minus what ties the job to
 * this terminal session.
 */
export function planPipeline(
  syntax: PipelineSyntax,
  opts: { cwd: string; logsDir: string; env: NodeJS.ProcessEnv },
): PipelinePlan {
  const last = syntax.stages.length - 1;
  const sideEffects: SideEffectOpen[] = [];
  const tables = syntax.stages.map((stage, i) => {
    const table = new Map<number, Description>([
      [0, i > 0 ? { kind: 'pipe', pipe: i - 1, end: 'read' } : { kind: 'null' }],
      [1, i < last ? { kind: 'pipe', pipe: i, end: 'write' } : logFile(opts.logsDir, 'stdout.log')],
      [2, logFile(opts.logsDir, stageLogName(i))],
    ]);
    const opened: (Description & { kind: 'file' })[] = [];
    for (const r of stage.redirections) {
      if (r.kind !== 'dup') {
        const mode: SideEffectOpen['mode'] =
          r.kind === 'read' ? 'read' : r.kind === 'append' ? 'append' : 'truncate';
        const file = { kind: 'file' as const, path: resolve(opts.cwd, r.path), mode };
        opened.push(file);
        table.set(r.fd, file);
        continue;
      }
      const copied = table.get(r.target);
      if (copied === undefined) {
        throw new PipelineSyntaxError(
          `stage ${i + 1}: '${r.fd}>&${r.target}' copies fd ${r.target}, which is not open there (bash fails with "Bad file descriptor"); a stage starts with fds 0, 1 and 2 only`,
          0,
        );
      }
      table.set(r.fd, copied); // N>&N is a no-op, as in bash
    }
    const held = new Set(table.values());
    for (const file of opened)
      if (!held.has(file)) sideEffects.push({ stage: i, path: file.path, mode: file.mode });
    return table;
  });
  const { stages, edges } = wire(syntax, tables);
  return {
    spec: {
      stages,
      linear: false,
      edges,
      env: sessionFreeEnv(opts.env),
      cwd: opts.cwd,
      stdin: { type: 'null' },
      stdout: { type: 'file', path: resolve(opts.logsDir, 'stdout.log'), mode: 'truncate' },
    },
    sideEffects,
  };
}

/** The spawn spec alone (see planPipeline, which also lists the opens bash does for their side effect). */
export function toSpawnSpec(
  syntax: PipelineSyntax,
  opts: { cwd: string; logsDir: string; env: NodeJS.ProcessEnv },
): PipelineSpec {
  return planPipeline(syntax, opts).spec;
}

function logFile(logsDir: string, name: string): Description {
  return { kind: 'file', path: resolve(logsDir, name), mode: 'truncate' };
}

/**
 * Each description becomes one source at the lowest fd holding it, every
 * other fd holding it a dup of that one; pipe ends become edges.
 */
function wire(
  syntax: PipelineSyntax,
  tables: Map<number, Description>[],
): { stages: StageSpec[]; edges: PipeEdge[] } {
  const pipeEnds = new Map<string, { stage: number; fd: number }>();
  const stages = tables.map((table, i) => {
    const fds: Record<number, FdSource> = {};
    const primary = new Map<Description, number>();
    for (const [fd, d] of [...table.entries()].sort((a, b) => a[0] - b[0])) {
      const first = primary.get(d);
      if (first !== undefined) {
        fds[fd] = { type: 'dup', fd: first };
        continue;
      }
      primary.set(d, fd);
      if (d.kind === 'pipe') pipeEnds.set(`${d.pipe}:${d.end}`, { stage: i, fd });
      else if (d.kind === 'null') fds[fd] = devNull(fd, 'read');
      else fds[fd] = { type: 'file', path: d.path, mode: d.mode };
    }
    return { argv: syntax.stages[i]!.argv, fds };
  });
  const edges: PipeEdge[] = [];
  for (let p = 0; p + 1 < tables.length; p++) {
    const from = pipeEnds.get(`${p}:write`);
    const to = pipeEnds.get(`${p}:read`);
    // A pipe end nobody holds any more (a redirection replaced it): bash's
    // pipe still exists with that end closed, so the writer gets SIGPIPE and
    // the reader EOF; spawn wires such a one-ended pipe the same way.
    if (from || to) edges.push({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
  }
  return { stages, edges };
}

/** /dev/null open the way the replaced descriptor was (spawn's 'null' reads at fd 0, writes elsewhere). */
function devNull(fd: number, access: 'read' | 'write'): FdSource {
  if ((fd === 0) === (access === 'read')) return { type: 'null' };
  return { type: 'file', path: '/dev/null', mode: access === 'read' ? 'read' : 'write' };
}

/** Variables that point at this login's terminal or agents; a restored job must not depend on them. */
const SESSION_VARS =
  /^(SSH_AUTH_SOCK|SSH_AGENT_PID|SSH_TTY|SSH_CONNECTION|SSH_CLIENT|TMUX|TMUX_PANE|STY|WINDOWID|DISPLAY|WAYLAND_DISPLAY|DBUS_SESSION_BUS_ADDRESS|XDG_SESSION_ID|GPG_AGENT_INFO|TERM_SESSION_ID)$/;

export function sessionFreeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && !SESSION_VARS.test(k)) out[k] = v;
  return out;
}

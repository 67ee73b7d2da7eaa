import { resolve } from 'node:path';
import { type FdSource, type PipeEdge, type PipelineSpec, stageLogName } from '@cryopipe/spawn';
import { type PipelineSyntax, PipelineSyntaxError } from './pipeline-syntax.ts';

/**
 * Turns parsed pipeline syntax into a @cryopipe/spawn spec, with a shell's
 * meaning: a redirection of a stage's stdout (or stdin) replaces its pipe,
 * and `N>&M` copies what M is at that point. Defaults make the job dumpable
 * and inspectable: stdin from /dev/null, each stage's stderr in the job's
 * logs/ directory, the last stage's stdout in logs/stdout.log. The
 * environment is the caller's (a user running `cryopipe run` expects PATH,
 * HOME and friends), minus what ties the job to this terminal session.
 */
export function toSpawnSpec(
  syntax: PipelineSyntax,
  opts: { cwd: string; logsDir: string; env: NodeJS.ProcessEnv },
): PipelineSpec {
  const redirected = syntax.stages.map((s) => new Set(s.redirections.map((r) => r.fd)));
  const stages = syntax.stages.map((stage, i) => {
    const fds: Record<number, FdSource> = {};
    if (!redirected[i]!.has(2)) {
      fds[2] = { type: 'file', path: resolve(opts.logsDir, stageLogName(i)), mode: 'truncate' };
    }
    stage.redirections.forEach((r, k) => {
      if (r.kind === 'dup') {
        // A later redirection of the copied fd would change what a shell copied here.
        if (stage.redirections.slice(k + 1).some((later) => later.fd === r.target)) {
          throw new PipelineSyntaxError(
            `stage ${i + 1}: '${r.fd}>&${r.target}' comes before a redirection of fd ${r.target}; write the redirection of ${r.target} first, as in '> out.log 2>&1'`,
            0,
          );
        }
        fds[r.fd] = { type: 'dup', fd: r.target };
      } else {
        const mode = r.kind === 'read' ? 'read' : r.kind === 'append' ? 'append' : 'truncate';
        fds[r.fd] = { type: 'file', path: resolve(opts.cwd, r.path), mode };
      }
    });
    return { argv: stage.argv, fds };
  });
  // Pipes between neighbours, except where a redirection took the pipe's place;
  // the reader then gets /dev/null, as an empty pipe would give it.
  const edges: PipeEdge[] = [];
  for (let i = 0; i + 1 < stages.length; i++) {
    const writerTaken = redirected[i]!.has(1);
    const readerTaken = redirected[i + 1]!.has(0);
    if (!writerTaken && !readerTaken)
      edges.push({ from: { stage: i, fd: 1 }, to: { stage: i + 1, fd: 0 } });
    else if (!readerTaken) stages[i + 1]!.fds[0] = { type: 'null' };
    else if (!writerTaken) stages[i]!.fds[1] = { type: 'null' };
  }
  return {
    stages,
    linear: false,
    edges,
    env: sessionFreeEnv(opts.env),
    cwd: opts.cwd,
    stdin: { type: 'null' },
    stdout: { type: 'file', path: resolve(opts.logsDir, 'stdout.log'), mode: 'truncate' },
  };
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

import { resolve } from 'node:path';
import type { FdSource, PipelineSpec } from '@cryopipe/spawn';
import { stageLogName } from './job-files.ts';
import type { PipelineSyntax } from './pipeline-syntax.ts';

/**
 * Turns parsed pipeline syntax into a @cryopipe/spawn spec. Defaults make the
 * job dumpable and inspectable: stdin from /dev/null, each stage's stderr in
 * the job's logs/ directory, the last stage's stdout in logs/stdout.log. The
 * environment is the caller's (a user running `cryopipe run` expects PATH,
 * HOME and friends), minus what ties the job to this terminal session.
 */
export function toSpawnSpec(
  syntax: PipelineSyntax,
  opts: { cwd: string; logsDir: string; env: NodeJS.ProcessEnv },
): PipelineSpec {
  const stages = syntax.stages.map((stage, i) => {
    const fds: Record<number, FdSource> = {};
    fds[2] = { type: 'file', path: resolve(opts.logsDir, stageLogName(i + 1)), mode: 'truncate' };
    for (const r of stage.redirections) {
      if (r.kind === 'dup') {
        fds[r.fd] = { type: 'dup', fd: r.target };
      } else {
        const mode = r.kind === 'read' ? 'read' : r.kind === 'append' ? 'append' : 'truncate';
        fds[r.fd] = { type: 'file', path: resolve(opts.cwd, r.path), mode };
      }
    }
    return { argv: stage.argv, fds };
  });
  return {
    stages,
    env: sessionFreeEnv(opts.env),
    cwd: opts.cwd,
    stdin: { type: 'null' },
    stdout: { type: 'file', path: resolve(opts.logsDir, 'stdout.log'), mode: 'truncate' },
  };
}

/** Variables that point at this login's terminal or agents; a restored job must not depend on them. */
const SESSION_VARS = /^(SSH_AUTH_SOCK|SSH_AGENT_PID|SSH_TTY|SSH_CONNECTION|SSH_CLIENT|TMUX|TMUX_PANE|STY|WINDOWID|DISPLAY|WAYLAND_DISPLAY|DBUS_SESSION_BUS_ADDRESS|XDG_SESSION_ID|GPG_AGENT_INFO|TERM_SESSION_ID)$/;

export function sessionFreeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SESSION_VARS.test(k)) out[k] = v;
  return out;
}

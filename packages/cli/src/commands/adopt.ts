import { adoptProcess, planAdoption, requireRoot } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatDuration } from '../output.ts';

export const adopt: Command = {
  name: 'adopt',
  summary: 'take over a pipeline already running in a terminal, without restarting it',
  usage: 'PID [--name N] [--dry-run]',
  description: `For a job started by hand in a shell, tmux or ssh. PID is the root of what to
take over: the 'bash -c …' running the pipeline, or the interactive shell the
pipeline was typed into (a pipeline typed at a prompt has no root of its own).
Says first which processes and terminal are concerned; then dumps the tree
once as a shell job and restores it at once under a terminal cryopipe owns.
From then on it is an ordinary job: ps, logs, attach, kill, wait.`,
  options: {
    name: { type: 'string', valueName: 'N', description: 'a name for the job' },
    'dry-run': { type: 'boolean', description: 'only explain what would happen' },
  },
  examples: [
    'cryopipe adopt $(pgrep -o -f "bash -c ffmpeg") --name enc',
    'cryopipe adopt 4242 --dry-run',
  ],
  async run({ values, positionals, store, out }) {
    const pid = Number(positionals[0]);
    if (positionals.length !== 1 || !Number.isInteger(pid) || pid <= 0)
      throw new CliError(
        `adopt needs one process id, not '${positionals.join(' ')}'`,
        EXIT.usage,
        'find it with ps or pgrep, e.g. cryopipe adopt $(pgrep -o -f "bash -c ffmpeg")',
      );
    requireRoot('adopt');
    const plan = await planAdoption(pid);
    for (const line of plan.explanation) out.progress(line);
    if (values['dry-run']) {
      out.result({ dryRun: true, ...plan });
      return EXIT.ok;
    }
    const name = values.name as string | undefined;
    const done = await adoptProcess(store, plan, name ? { name } : {}, (t) => out.progress(t));
    out.result({ ...done, pid, processes: plan.processes, terminals: plan.terminals });
    out.line(
      `adopted pid ${pid} as job ${done.id}${name ? ` (${name})` : ''}: interrupted ${formatDuration(done.interruptionMs)}; ` +
        `its terminal output goes to 'cryopipe logs ${name ?? done.id}', 'cryopipe attach ${name ?? done.id}' shows it live`,
    );
    return EXIT.ok;
  },
};

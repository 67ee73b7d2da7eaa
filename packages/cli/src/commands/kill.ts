import { constants } from 'node:os';
import { liveRoot } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';

export const kill: Command = {
  name: 'kill',
  summary: 'send a signal to a job (the launcher forwards it to every stage)',
  usage: 'JOB [-s SIGNAL]',
  options: {
    signal: {
      type: 'string',
      short: 's',
      valueName: 'SIG',
      description: 'TERM (default), INT, HUP, KILL, USR1, USR2 or a number',
    },
  },
  examples: ['cryopipe kill enc', 'cryopipe kill enc -s INT'],
  async run({ values, positionals, store, out }) {
    const job = store.resolve(jobRef(positionals));
    const signal = parseSignal((values.signal as string | undefined) ?? 'TERM');
    const pid = liveRoot(store, job);
    if (pid === undefined) {
      throw new CliError(`job ${job.id} is not running`, EXIT.failure, `see 'cryopipe ps'`);
    }
    // SIGKILL can't be forwarded: kill the whole namespace or process group instead.
    if (signal === 'SIGKILL') process.kill(-pid, 'SIGKILL');
    else process.kill(pid, signal);
    out.result({ id: job.id, signal, pid });
    out.line(`sent ${signal} to ${job.id} (pid ${pid})`);
    return EXIT.ok;
  },
};

export function parseSignal(text: string): NodeJS.Signals {
  const names = constants.signals as Record<string, number>;
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (name in names) return name as NodeJS.Signals;
  const num = Number(text);
  const byNumber = Object.entries(names).find(([, n]) => n === num);
  if (Number.isInteger(num) && byNumber) return byNumber[0] as NodeJS.Signals;
  throw new CliError(
    `unknown signal '${text}'`,
    EXIT.usage,
    'use a name such as TERM, INT or KILL, or a number',
  );
}

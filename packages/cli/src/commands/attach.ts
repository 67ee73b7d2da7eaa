import { attachTerminal } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';

export const attach: Command = {
  name: 'attach',
  summary: "see an adopted job's terminal live and type into it",
  usage: 'JOB',
  description: `Shows what the job writes to its terminal from now on and types what you type
into it, so Ctrl-C and job control reach the job. Ctrl-] detaches and leaves
the job running. With stdin not a terminal, its bytes are typed in and the
command detaches at its end.`,
  options: {},
  examples: ['cryopipe attach enc', "printf 'exit\\n' | cryopipe attach shell"],
  async run({ positionals, store, out }) {
    const job = store.resolve(jobRef(positionals));
    const how = await attachTerminal(store, job, (t) => out.progress(t));
    out.result({ id: job.id, ended: how });
    return EXIT.ok;
  },
};

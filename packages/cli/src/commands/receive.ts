import { receiveJob } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';

export const receive: Command = {
  name: 'receive',
  summary: "the destination side of 'cryopipe migrate' (run by it over SSH)",
  usage: '',
  description: `Speaks the migrate protocol on stdin/stdout: 'cryopipe migrate' on the
source machine starts it over its SSH connection. It prints nothing on stdout
(the protocol owns it); its progress goes to stderr, which SSH carries back to
the source. Not meant to be run by hand.`,
  options: {},
  examples: ['cryopipe migrate enc root@this-host   # runs: ssh root@this-host cryopipe receive'],
  async run({ store }) {
    if (process.stdin.isTTY || process.stdout.isTTY)
      throw new CliError(
        "'cryopipe receive' speaks a binary protocol on stdin/stdout",
        EXIT.usage,
        "run 'cryopipe migrate JOB HOST' on the source machine instead",
      );
    // sshd sends SIGHUP when the connection goes: end the protocol instead of
    // dying, so that whatever was received is removed again.
    for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => process.stdin.destroy(new Error(`got ${signal}`)));
    // A broken stdout or stderr means the connection died: unlike other commands,
    // receive must not exit at once (guardStandardStreams), but clean up first.
    for (const stream of [process.stdout, process.stderr]) {
      stream.removeAllListeners('error');
      stream.on('error', () => {});
    }
    const outcome = await receiveJob(store, process.stdin, process.stdout, {
      onProgress: (line) => process.stderr.write(`receive: ${line}\n`),
    }).finally(() => process.stdin.destroy()); // nothing more to read: let the process end
    process.stderr.write(
      `receive: job ${outcome.id} runs here${outcome.confirmed ? '' : " (the source did not confirm it removed its copy: check 'cryopipe ps' there)"}\n`,
    );
    return EXIT.ok;
  },
};

import { closeSync, createWriteStream, openSync, renameSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { exportJob } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { plural } from '../text.ts';

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a stopped job (checkpoints, logs, outputs) as one tar.zst stream',
  usage: 'JOB [-o FILE|-]',
  description: `Streams the job directory (job.json, logs, run dir, every complete
checkpoint) and the files its newest checkpoint recorded (the job's outputs,
exactly the bytes that checkpoint expects) through zstd, to FILE or stdout.
The job must not be running: checkpoint it first. The archive holds process
memory: FILE is created 0600. Bring it back with 'cryopipe import', on this
machine or another one with the same CRYOPIPE_HOME path.`,
  options: {
    output: {
      type: 'string',
      short: 'o',
      valueName: 'FILE',
      description: "where to write ('-': stdout)",
    },
  },
  examples: [
    'cryopipe export enc -o enc.tar.zst',
    'cryopipe export enc | ssh host cryopipe import',
  ],
  async run({ values, positionals, store, out }) {
    const job = store.resolve(jobRef(positionals));
    const target = (values.output as string | undefined) ?? '-';
    if (target === '-' && process.stdout.isTTY) {
      throw new CliError(
        'refusing to write a binary archive to a terminal',
        EXIT.usage,
        'give -o FILE or redirect stdout',
      );
    }
    let sink: Writable = process.stdout;
    const partial = `${target}.partial-${process.pid}`;
    if (target !== '-') {
      closeSync(openSync(partial, 'wx', 0o600)); // private before the first byte
      sink = createWriteStream(partial, { flags: 'r+' });
    }
    try {
      const manifest = await exportJob(store, job, sink);
      if (target !== '-') renameSync(partial, target);
      if (target !== '-') {
        out.result({
          id: manifest.jobId,
          file: target,
          checkpoints: manifest.checkpoints,
          outputs: manifest.outputs.map((o) => o.path),
        });
        out.line(
          `exported ${manifest.jobId} (${plural(manifest.checkpoints.length, 'checkpoint')}, ${plural(manifest.outputs.length, 'output')}) to ${target}`,
        );
      }
      return EXIT.ok;
    } catch (err) {
      if (target !== '-') rmSync(partial, { force: true });
      throw err;
    }
  },
};

import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jobLiveness } from '@cryopipe/jobs/store';
import { stageIndexOfLogName, stageLogName } from '@cryopipe/spawn';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';

export const logs: Command = {
  name: 'logs',
  summary: "show a job's stage logs (stderr of each stage, unless redirected)",
  usage: 'JOB [--stage N] [-f]',
  options: {
    stage: { type: 'string', valueName: 'N', description: 'only stage N (1 = first command)' },
    follow: {
      type: 'boolean',
      short: 'f',
      description: 'keep printing new output until the job ends',
    },
  },
  examples: ['cryopipe logs enc', 'cryopipe logs enc --stage 2 -f'],
  async run({ values, positionals, store, out }) {
    const job = store.resolve(jobRef(positionals));
    const dir = store.logsDir(job.id);
    const all = readdirSync(dir)
      .filter((f) => stageIndexOfLogName(f) !== undefined)
      .sort((a, b) => stageIndexOfLogName(a)! - stageIndexOfLogName(b)!);
    let files = all;
    if (values.stage !== undefined) {
      const n = Number(values.stage);
      const name = stageLogName(n - 1);
      if (!Number.isInteger(n) || n < 1)
        throw new CliError(
          `--stage takes a stage number from 1, not '${values.stage}'`,
          EXIT.usage,
        );
      if (!existsSync(join(dir, name))) {
        throw new CliError(
          `job ${job.id} has no log for stage ${n}`,
          EXIT.notFound,
          'a stage whose stderr was redirected elsewhere has no log here',
        );
      }
      files = [name];
    }
    if (out.json) {
      out.result({
        job: job.id,
        logs: files.map((f) => ({
          stage: stageIndexOfLogName(f)! + 1,
          path: join(dir, f),
          bytes: statSync(join(dir, f)).size,
        })),
      });
      return EXIT.ok;
    }
    const offsets = new Map<string, number>();
    const drain = (f: string, header: boolean) => {
      const path = join(dir, f);
      const from = offsets.get(f) ?? 0;
      const size = statSync(path).size;
      if (size <= from) return;
      if (header) process.stdout.write(`==> stage ${stageIndexOfLogName(f)! + 1} <==\n`);
      const fd = openSync(path, 'r');
      try {
        const buf = Buffer.alloc(64 * 1024);
        let pos = from;
        while (pos < size) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
          if (n === 0) break;
          process.stdout.write(buf.subarray(0, n));
          pos += n;
        }
        offsets.set(f, pos);
      } finally {
        closeSync(fd);
      }
    };
    for (const f of files) drain(f, files.length > 1);
    if (values.follow) {
      while ((await jobLiveness(store, job)).alive) {
        await new Promise((r) => setTimeout(r, 500));
        for (const f of files) drain(f, files.length > 1);
      }
      for (const f of files) drain(f, files.length > 1);
    }
    return EXIT.ok;
  },
};

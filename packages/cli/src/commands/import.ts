import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { importJob } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { ProgressLine } from '../progress-line.ts';
import { plural } from '../text.ts';

export const importCommand: Command = {
  name: 'import',
  summary: "bring in a job made by 'cryopipe export', ready to restore",
  usage: '[FILE|-]',
  description: `Reads a tar.zst from 'cryopipe export' (FILE, or stdin) into this CRYOPIPE_HOME.
Everything is checked before anything is put in place: only the job's own
directory and the outputs its manifest lists may be in it (no '..', no
other absolute paths, no links), every output must have the bytes its
checkpoint recorded, the job id must be new here, and no different file may
sit at an output's path. Files are created private (0600, dirs 0700). Then
'cryopipe restore JOB' carries on. The job's checkpoints reopen its logs by
path, so CRYOPIPE_HOME must be the same path as where it was exported.`,
  allowPositionals: false,
  options: {},
  examples: [
    'cryopipe import enc.tar.zst && cryopipe restore enc',
    'ssh host cryopipe export enc | cryopipe import',
  ],
  async run({ positionals, store, out }) {
    const file = positionals[0] ?? '-';
    if (file === '-' && process.stdin.isTTY) {
      throw new CliError('no archive on stdin', EXIT.usage, 'give FILE, or pipe an export into it');
    }
    const source = file === '-' ? process.stdin : createReadStream(file);
    // The archive passes through a counter on its way in: that is the progress.
    const shown = new ProgressLine(out);
    const counting = shown.counter('importing', file === '-' ? undefined : sizeOf(file));
    pipeline(source, counting).catch((err) => counting.destroy(err));
    const r = await importJob(store, counting).finally(() => shown.end());
    out.result({
      id: r.manifest.jobId,
      checkpoints: r.manifest.checkpoints,
      placed: r.placed,
      unchanged: r.unchanged,
    });
    out.line(
      `imported ${r.manifest.jobId}: ${plural(r.manifest.checkpoints.length, 'checkpoint')}, ${plural(r.placed.length, 'output')} written back` +
        (r.unchanged.length ? `, ${r.unchanged.length} already in place` : '') +
        `; continue it with 'cryopipe restore ${r.manifest.jobId}'`,
    );
    return EXIT.ok;
  },
};

function sizeOf(file: string): number | undefined {
  try {
    const st = statSync(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined; // reading it says why
  }
}

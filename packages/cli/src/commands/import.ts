import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { importJob, loadSecret, type OutputPlacement } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { ProgressLine } from '../progress-line.ts';
import { plural } from '../text.ts';

export const importCommand: Command = {
  name: 'import',
  summary: "bring in a job made by 'cryopipe export', ready to restore",
  usage:
    '[FILE|-] [--trust-unsigned] [--decrypt SECRETFILE] [--name NEW] [--outputs-to DIR | --outputs-at-recorded-paths]',
  description: `Reads an archive from 'cryopipe export' (FILE, or stdin) into this CRYOPIPE_HOME.
Restoring a job runs its processes as root, so an archive is untrusted
input until proven otherwise:

- It must be signed by a key in $CRYOPIPE_HOME/trusted-keys/*.pub (add one
  with 'cryopipe key trust FILE.pub'); an unsigned archive or an unknown
  signer is refused (exit 6) unless --trust-unsigned is given. A signature
  that does not match is always refused.
- The stream is spooled into a private staging directory and the
  signature checked before any byte of it is unpacked.
- Only the job's own directory and the outputs its manifest lists may be in
  it: no '..', no absolute names, no symlinks, hard links or devices. Every
  checkpoint.json must name this job and its own number, and list only the
  job's outputs or files in its job directory. Every output must have the
  bytes its checkpoint recorded. The job id and name must be new here
  (--name NEW imports under another name).

Nothing is written outside the new job directory: the outputs go to
JOBDIR/outputs/, and 'cryopipe restore' hands them to the job at their new
place. --outputs-to DIR puts them in DIR instead; --outputs-at-recorded-paths
puts them where they were on the exporting machine (the directory must
exist, be reached without symlinks, and not be inside a cryopipe home).
Files are created private (dirs 0700, outputs at most their mode & 0666).`,
  allowPositionals: false,
  options: {
    'trust-unsigned': {
      type: 'boolean',
      description: 'accept an unsigned archive, or one signed by an unknown key (it runs as root!)',
    },
    decrypt: {
      type: 'string',
      valueName: 'SECRETFILE',
      description: 'the secret an encrypted archive was made with (export --encrypt)',
    },
    name: {
      type: 'string',
      valueName: 'NEW',
      description: 'import the job under this name (e.g. when its name is taken here)',
    },
    'outputs-to': {
      type: 'string',
      valueName: 'DIR',
      description: 'put the outputs into DIR instead of the job directory',
    },
    'outputs-at-recorded-paths': {
      type: 'boolean',
      description: 'put the outputs at the paths they had where the job was exported',
    },
  },
  examples: [
    'cryopipe key trust build.pub && cryopipe import enc.tar.zst && cryopipe restore enc',
    'ssh host cryopipe export enc --sign build.key | cryopipe import',
    'cryopipe import enc.cpx --decrypt transfer.secret --outputs-to /srv/encodes',
    'cryopipe import enc.tar.zst --name enc-2',
  ],
  async run({ values, positionals, store, out }) {
    const file = positionals[0] ?? '-';
    if (file === '-' && process.stdin.isTTY) {
      throw new CliError('no archive on stdin', EXIT.usage, 'give FILE, or pipe an export into it');
    }
    if (values['outputs-to'] && values['outputs-at-recorded-paths'])
      throw new CliError(
        '--outputs-to and --outputs-at-recorded-paths exclude each other',
        EXIT.usage,
      );
    const outputs: OutputPlacement = values['outputs-to']
      ? { to: 'dir', dir: resolve(values['outputs-to'] as string) }
      : values['outputs-at-recorded-paths']
        ? { to: 'recorded' }
        : { to: 'job' };
    const decryptSecret = values.decrypt ? loadSecret(values.decrypt as string) : undefined;
    const source = file === '-' ? process.stdin : createReadStream(file);
    // The archive passes through a counter on its way in: that is the progress.
    const shown = new ProgressLine(out);
    const counting = shown.counter('importing', file === '-' ? undefined : sizeOf(file));
    pipeline(source, counting).catch((err) => counting.destroy(err));
    const r = await importJob(store, counting, {
      outputs,
      trustUnsigned: values['trust-unsigned'] === true,
      ...(decryptSecret ? { decryptSecret } : {}),
      ...(values.name !== undefined ? { name: values.name as string } : {}),
    }).finally(() => shown.end());
    const id = r.manifest.jobId;
    if (r.authenticity.kind !== 'signed')
      out.warn(
        `imported ${id} from an archive ${r.authenticity.kind === 'unsigned' ? 'that is not signed' : `signed by key ${r.authenticity.keyId}, which is not trusted here`} (--trust-unsigned): restoring it runs its code as root. Restore it only if you trust where it came from.`,
      );
    out.result({
      id,
      name: r.name ?? null,
      checkpoints: r.manifest.checkpoints,
      authenticity: r.authenticity,
      outputs: r.outputs,
      placed: r.placed,
      unchanged: r.unchanged,
    });
    out.line(
      `imported ${id}${r.name ? ` (${r.name})` : ''}: ${plural(r.manifest.checkpoints.length, 'checkpoint')}, ${plural(r.placed.length, 'output')} written` +
        (r.unchanged.length ? `, ${r.unchanged.length} already in place` : '') +
        (r.authenticity.kind === 'signed' ? `; signed by ${r.authenticity.keyFile}` : ''),
    );
    for (const o of r.outputs) if (o.to !== o.from) out.line(`  ${o.from} is now ${o.to}`);
    out.line(`continue it with 'cryopipe restore ${r.name ?? id}'`);
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

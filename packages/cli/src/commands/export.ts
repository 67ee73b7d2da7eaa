import { closeSync, createWriteStream, openSync, renameSync, rmSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportJob, keyId, loadSecret, loadSigningKey, rawPublicKey } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { ProgressLine } from '../progress-line.ts';
import { plural } from '../text.ts';

export const exportCommand: Command = {
  name: 'export',
  summary: 'write a stopped job (checkpoints, logs, outputs) as one tar.zst stream',
  usage: 'JOB [-o FILE|-] [--sign KEYFILE] [--encrypt SECRETFILE]',
  description: `Streams the job directory (job.json, logs, run dir, every complete
checkpoint) and the files its newest checkpoint recorded (the job's outputs,
exactly the bytes that checkpoint expects) through zstd, to FILE or stdout.
The job must not be running: checkpoint it first. The archive holds process
memory: FILE is created 0600. Bring it back with 'cryopipe import'.

--sign appends an Ed25519 signature over the whole stream (a zstd skippable
frame: plain zstd still reads the archive). 'cryopipe import' refuses
archives that are unsigned or signed by a key it does not trust, because
restoring one runs its processes as root. Make a key pair with
'cryopipe key new NAME'; on the importing machine, trust NAME.pub with
'cryopipe key trust NAME.pub'.

--encrypt seals the archive (signature included) with AES-256-GCM in 64 KiB
records, for archives that cross storage others can read; import it with
--decrypt and the same secret ('cryopipe key new NAME --secret').`,
  options: {
    output: {
      type: 'string',
      short: 'o',
      valueName: 'FILE',
      description: "where to write ('-': stdout)",
    },
    sign: {
      type: 'string',
      valueName: 'KEYFILE',
      description: 'sign with this Ed25519 private key (PEM, mode 0600)',
    },
    encrypt: {
      type: 'string',
      valueName: 'SECRETFILE',
      description: 'encrypt with this 256-bit secret (64 hex digits, mode 0600)',
    },
  },
  examples: [
    'cryopipe export enc -o enc.tar.zst --sign /root/cryopipe-keys/build.key',
    'cryopipe export enc --sign build.key | ssh host cryopipe import',
    'cryopipe export enc --sign build.key --encrypt transfer.secret -o /mnt/shared/enc.cpx',
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
    // Keys are read before anything is written: a wrong path fails at once.
    const signWith = values.sign ? loadSigningKey(values.sign as string) : undefined;
    const encryptWith = values.encrypt ? loadSecret(values.encrypt as string) : undefined;
    let sink: Writable = process.stdout;
    const partial = `${target}.partial-${process.pid}`;
    if (target !== '-') {
      closeSync(openSync(partial, 'wx', 0o600)); // private before the first byte
      sink = createWriteStream(partial, { flags: 'r+' });
    }
    // The archive passes through a counter on its way out: that is the progress.
    const shown = new ProgressLine(out);
    const counting = shown.counter('exporting');
    const delivered = deliver(counting, sink);
    delivered.catch(() => {}); // awaited below once the export succeeded
    try {
      const manifest = await exportJob(store, job, counting, {
        onProgress: (line) => out.progress(line),
        ...(signWith ? { signWith } : {}),
        ...(encryptWith ? { encryptWith } : {}),
      });
      await delivered;
      shown.end();
      if (target !== '-') renameSync(partial, target);
      const signedBy = signWith ? keyId(rawPublicKey(signWith)) : undefined;
      if (target !== '-') {
        out.result({
          id: manifest.jobId,
          file: target,
          checkpoints: manifest.checkpoints,
          outputs: manifest.outputs.map((o) => o.path),
          signedBy: signedBy ?? null,
          encrypted: Boolean(encryptWith),
        });
        out.line(
          `exported ${manifest.jobId} (${plural(manifest.checkpoints.length, 'checkpoint')}, ${plural(manifest.outputs.length, 'output')}) to ${target}` +
            (signedBy ? `, signed by key ${signedBy.slice(0, 16)}…` : ', unsigned') +
            (encryptWith ? ', encrypted' : ''),
        );
      }
      if (!signWith)
        out.warn(
          "the archive is unsigned: 'cryopipe import' will refuse it unless given --trust-unsigned",
        );
      return EXIT.ok;
    } catch (err) {
      shown.end();
      sink.destroy();
      if (target !== '-') rmSync(partial, { force: true });
      throw err;
    }
  },
};

/**
 * Copies `from` into `sink` until `from` ends; a file is closed after, stdout
 * stays open (and a failing stdout fails the export instead of stalling it).
 */
async function deliver(from: Readable, sink: Writable): Promise<void> {
  if (sink !== process.stdout) return pipeline(from, sink);
  return new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      from.destroy(err);
      reject(err);
    };
    sink.once('error', failed);
    from.pipe(sink, { end: false });
    from.once('error', reject);
    from.once('end', () => {
      sink.off('error', failed);
      resolve();
    });
  });
}

import { migrateJob } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatBytes, formatDuration } from '../output.ts';

export const migrate: Command = {
  name: 'migrate',
  summary: 'move a running job to another machine over SSH, with about a second of downtime',
  usage:
    'JOB [USER@]HOST [--output-dir DIR] [--via-archive] [--remote-cryopipe CMD] [-i KEY] [-o SSHOPT]…',
  description: `Opens one SSH connection to HOST (OpenSSH, your keys and known_hosts) and
runs 'cryopipe receive' there. The destination checks that it can take the
job (same criu version, a CPU criu accepts, free space, the job's output paths
free) and starts a criu page server on its 127.0.0.1, reached through a port
forward of the same SSH connection: memory pages stream straight into the
destination while the job is frozen, authenticated and encrypted by SSH. The
small images, the job record and the outputs' bytes follow on the connection;
the destination restores the job into its job store and acknowledges. Only
then is the job killed here and marked 'migrated' ('cryopipe ps' shows where
it went). Any failure before the acknowledgement resumes the job here and
removes everything the destination made.

--via-archive moves the job the slower way, for machines where a page server
can't run: a stopping checkpoint here, its 'export' stream over the same
connection into 'import' and 'restore' there. If that fails, the job is
restored here from the checkpoint.

The destination needs root, the same criu version and cryopipe on its PATH
(or give --remote-cryopipe). When both machines share a file system, give
--output-dir so the outputs do not collide with the files here.`,
  options: {
    'output-dir': {
      type: 'string',
      valueName: 'DIR',
      description: "put the job's outputs into DIR on the destination (default: the same paths)",
    },
    'remote-cryopipe': {
      type: 'string',
      valueName: 'CMD',
      description: "the cryopipe command on the destination (default 'cryopipe')",
    },
    'via-archive': {
      type: 'boolean',
      description:
        'move it as export → stream → import → restore over the same connection (no page server; longer downtime)',
    },
    identity: {
      type: 'string',
      short: 'i',
      valueName: 'KEY',
      description: 'ssh identity file (ssh -i)',
    },
    'ssh-option': {
      type: 'string',
      short: 'o',
      multiple: true,
      valueName: 'OPT',
      description: 'an ssh option, as ssh -o takes it (repeatable), e.g. Port=2222',
    },
  },
  examples: [
    'cryopipe migrate enc root@encoder2',
    'cryopipe migrate enc root@encoder2 --output-dir /srv/encodes',
    'cryopipe migrate enc root@10.0.0.7 -i ~/.ssh/migrate -o Port=2222 --json',
    'cryopipe migrate enc root@encoder2 --via-archive',
  ],
  async run({ values, positionals, store, out }) {
    const [ref, dest, ...extra] = positionals;
    if (!ref || !dest || extra.length)
      throw new CliError(
        'give a job and a destination',
        EXIT.usage,
        'cryopipe migrate JOB USER@HOST',
      );
    const outputDir = values['output-dir'] as string | undefined;
    if (outputDir !== undefined && !outputDir.startsWith('/'))
      throw new CliError(
        '--output-dir must be an absolute path',
        EXIT.usage,
        'it names a directory on the destination',
      );
    const sshArgs = [
      ...(values.identity ? ['-i', values.identity as string] : []),
      ...((values['ssh-option'] as string[] | undefined) ?? []).flatMap((o) => ['-o', o]),
    ];
    const result = await migrateJob(store, ref, dest, {
      sshArgs,
      ...(outputDir !== undefined ? { outputDir } : {}),
      ...(values['via-archive'] ? { viaArchive: true } : {}),
      ...(values['remote-cryopipe'] ? { remoteCryopipe: values['remote-cryopipe'] as string } : {}),
      onProgress: (line) => out.progress(line),
    });
    out.result(result);
    const d = result.downtime;
    out.line(
      `migrated ${result.id} to ${dest} (pid ${result.remotePid} there): down ${formatDuration(d.totalMs)} ` +
        `(frozen ${formatDuration(d.frozenMs)}, transfer ${formatDuration(d.transferMs)}, restore ${formatDuration(d.restoreMs)}); ` +
        (result.bytes.pages
          ? `moved ${formatBytes(result.bytes.pages)} of memory and ${formatBytes(result.bytes.files)} of images and outputs`
          : `moved an archive of ${formatBytes(result.bytes.files)}`),
    );
    for (const o of result.outputs)
      if (o.from !== o.to) out.line(`  ${o.from} is ${o.to} on ${dest}`);
    return EXIT.ok;
  },
};

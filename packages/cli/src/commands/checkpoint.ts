import { resolve } from 'node:path';
import type { DumpStats } from '@cryopipe/criu-client';
import { checkpointJob, type PreDumpMode, requireRoot } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { jobRef } from '../job-ref.ts';
import { formatBytes, formatDuration } from '../output.ts';
import { ProgressLine } from '../progress-line.ts';

export const checkpoint: Command = {
  name: 'checkpoint',
  summary: 'freeze a running job to disk (and stop it, unless --leave-running)',
  usage: 'JOB [--leave-running [--staging-dir DIR]] [--pre-dump auto|never|always]',
  description: `Checks first that the tree can be dumped (see 'cryopipe diagnose') and refuses
with the findings if not. Images go to a temporary directory and become
checkpoint N only when complete, so a failure leaves the job running and
every earlier checkpoint intact. For each file the job has open for writing,
its size and a hash of its last 64 KiB are recorded, so 'restore' can put a
file that grew since back to its checkpointed size.

Where the job is frozen: criu's stats split the frozen time into freezing
the tree, collecting memory (memdump) and writing it (memwrite); the line
printed at the end shows them. When the job store is slow storage (a network
file system, a throttled disk), a live checkpoint can write its images to a
fast local directory (--staging-dir /dev/shm) and move them into the job
store once the job runs again; on a local disk whose page cache absorbs the
writes it gains nothing (see BENCHMARKS.md). Where the kernel tracks dirty
memory (criu's feature check), memory is pre-dumped while the job runs and
the freeze writes only what changed since; 'cryopipe doctor' says whether
this machine can.`,
  options: {
    'leave-running': {
      type: 'boolean',
      description: 'keep the job running after the dump (a live checkpoint)',
    },
    'staging-dir': {
      type: 'string',
      valueName: 'DIR',
      description: 'with --leave-running: write images here first (e.g. /dev/shm), move them after',
    },
    'pre-dump': {
      type: 'string',
      valueName: 'MODE',
      choices: ['auto', 'never', 'always'],
      description: 'auto (default: when the kernel tracks dirty memory), never, or always',
    },
  },
  examples: [
    'cryopipe checkpoint enc',
    'cryopipe checkpoint enc --leave-running --json',
    'cryopipe checkpoint enc --leave-running --staging-dir /dev/shm',
  ],
  async run({ values, positionals, store, out }) {
    requireRoot('checkpoint');
    const job = store.resolve(jobRef(positionals));
    const leaveRunning = Boolean(values['leave-running']);
    const preDump = (values['pre-dump'] as string | undefined) ?? 'auto';
    if (!isPreDumpMode(preDump)) {
      throw new CliError(
        `--pre-dump takes auto, never or always, not '${preDump}'`,
        EXIT.usage,
        'leave it out for auto',
      );
    }
    const stagingDir = values['staging-dir'] as string | undefined;
    const shown = new ProgressLine(out);
    const { id, record, stats } = await checkpointJob(store, job, {
      leaveRunning,
      preDump,
      ...(stagingDir === undefined ? {} : { stagingDir: resolve(stagingDir) }),
      onProgress: shown.text,
      onBytes: shown.bytes,
    }).finally(() => shown.end());
    out.result({
      id,
      checkpoint: record.number,
      leaveRunning,
      imageBytes: record.imageBytes,
      frozenMs: record.frozenMs,
      ...(record.hookMs !== undefined ? { hookMs: record.hookMs } : {}),
      dumpMs: record.dumpMs,
      preDump: record.preDump,
      ...(record.stagedIn ? { stagedIn: record.stagedIn, moveMs: record.moveMs } : {}),
      stats,
      files: record.files,
      inputs: record.inputs ?? [],
    });
    out.line(
      `checkpoint ${record.number} of ${id}: ${formatBytes(record.imageBytes)} of images, ` +
        `frozen ${record.frozenMs !== undefined ? formatDuration(record.frozenMs) : '?'}${frozenBreakdown(stats, record.hookMs)}, ` +
        `${formatDuration(record.dumpMs)} in all; job ${leaveRunning ? 'still running' : 'stopped'}`,
    );
    if (record.stagedIn)
      out.line(
        `  images moved from ${record.stagedIn} after the job resumed, in ${formatDuration(record.moveMs ?? 0)}`,
      );
    if (record.preDump)
      out.line(`  pre-dump: ${record.preDump.used ? 'yes' : 'no'} — ${record.preDump.why}`);
    return EXIT.ok;
  },
};

function isPreDumpMode(mode: string): mode is PreDumpMode {
  return mode === 'auto' || mode === 'never' || mode === 'always';
}

/**
 * Where the frozen time went, from criu's stats and our own post-dump work:
 * " (freezing 2 ms, memdump 40 ms, memwrite 35 ms, cryopipe 6 ms)".
 */
function frozenBreakdown(stats: DumpStats | undefined, hookMs: number | undefined): string {
  if (!stats) return '';
  const ms = (us: number) => formatDuration(us / 1000);
  const ours = hookMs === undefined ? '' : `, cryopipe ${formatDuration(hookMs)}`;
  return ` (freezing ${ms(stats.freezingTimeUs)}, memdump ${ms(stats.memdumpTimeUs)}, memwrite ${ms(stats.memwriteTimeUs)}${ours})`;
}

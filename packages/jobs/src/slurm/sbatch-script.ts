/** Options of `sbatchScript()`. */
export interface SbatchScriptOptions {
  /** The pipeline as argv words (operators as separate words), as given after `--`. */
  pipeline: readonly string[];
  /** The cryopipe job name (also the Slurm job name); default: Slurm's job id. */
  name?: string;
  /** The warning signal (default USR1). */
  signal?: string;
  /** How many seconds before the time limit the warning comes (default 120). */
  warnSeconds?: number;
  /** `--checkpoint-every` to pass on, e.g. `10m`. */
  checkpointEvery?: string;
  /** `--keep` to pass on. */
  keep?: string;
  /** CRYOPIPE_HOME to set in the script: it must be on storage every node sees. */
  home?: string;
}

/** Default warning time before the time limit, in seconds. */
export const DEFAULT_WARN_SECONDS = 120;

/** A word quoted for bash (unquoted when it needs nothing). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A ready sbatch script whose last line is `exec cryopipe slurm … --
 * PIPELINE`: requeueable, warned with B:SIG@N (to the batch shell, which
 * is cryopipe itself thanks to `exec`), its log appended to across runs.
 */
export function sbatchScript(opts: SbatchScriptOptions): string {
  const signal = (opts.signal ?? 'USR1').toUpperCase().replace(/^SIG/, '');
  const warn = opts.warnSeconds ?? DEFAULT_WARN_SECONDS;
  const args = [
    ...(opts.name ? ['--name', opts.name] : []),
    ...(signal !== 'USR1' ? ['--signal', signal] : []),
    ...(opts.checkpointEvery ? ['--checkpoint-every', opts.checkpointEvery] : []),
    ...(opts.keep ? ['--keep', opts.keep] : []),
  ];
  const lines = [
    '#!/bin/bash',
    ...(opts.name ? [`#SBATCH --job-name=${shellQuote(opts.name)}`] : []),
    '#SBATCH --requeue',
    `#SBATCH --signal=B:${signal}@${warn}`,
    '#SBATCH --open-mode=append',
    '#SBATCH --output=cryopipe-%j.log',
    '#',
    '# --requeue: preemption and cryopipe itself may put the job back in the queue;',
    `# --signal=B:${signal}@${warn}: ${signal} to this script (B:) ${warn} s before the time limit,`,
    '#   time enough for a checkpoint (see the "checkpoint" lines of earlier runs);',
    '# --open-mode=append: every run adds to the same log.',
    '#',
    '# For admins: preemption sends the warning only with',
    '#   SlurmctldParameters=preempt_send_user_signal   (slurm.conf)',
    '# otherwise cryopipe checkpoints on the TERM that ends GraceTime: keep GraceTime',
    '# and KillWait longer than a checkpoint takes.',
    '',
    ...(opts.home
      ? [
          '# Checkpoints must be where every node can read them (NFS, Lustre, GPFS, CephFS…).',
          `export CRYOPIPE_HOME=${shellQuote(opts.home)}`,
          '',
        ]
      : [
          '# Checkpoints must be where every node can read them (NFS, Lustre, GPFS, CephFS…):',
          '# export CRYOPIPE_HOME=/shared/cryopipe',
          '',
        ]),
    '# exec: cryopipe must be the batch shell itself, so it gets the signal and Slurm',
    '# sees its exit status.',
    `exec cryopipe slurm ${[...args, '--', ...opts.pipeline].map(shellQuote).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}

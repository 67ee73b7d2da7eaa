import { constants } from 'node:os';
import {
  DEFAULT_KEEP,
  DEFAULT_WARN_SECONDS,
  gatherSlurmFacts,
  type JobStore,
  parseSchedule,
  type SlurmOutcome,
  sbatchScript,
  slurmFindings,
  slurmJobEnv,
  superviseSlurmJob,
} from '@cryopipe/jobs';
import type { Command, CommandContext } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { parseSignal } from './kill.ts';

export const slurm: Command = {
  name: 'slurm',
  summary: 'run a pipeline as a Slurm batch job that survives preemption, time limits and requeues',
  usage: `[--name NAME] [--checkpoint-every DURATION] [--signal SIG] -- PIPELINE
       cryopipe slurm --sbatch [--name NAME] [--checkpoint-every DURATION] -- PIPELINE`,
  description: `Meant as the last line of an sbatch script, run with exec ('exec cryopipe
slurm -- …'). The first run starts the pipeline; a requeued run
(SLURM_RESTART_COUNT), or any run that finds a checkpoint of the job in
CRYOPIPE_HOME, restores the newest checkpoint instead. It stays in the
foreground as the job's main process and exits with the pipeline's status.

On the warning signal (USR1 unless --signal; ask Slurm for it with
'#SBATCH --signal=B:USR1@120') or on TERM it takes exactly one stopping
checkpoint, runs 'scontrol requeue $SLURM_JOB_ID' (Slurm does not requeue a
timed-out job by itself) and exits 0, so the job goes back to the queue and
its next run goes on where this one stopped. A signal that comes while the
checkpoint runs is ignored. A cancelled job (scancel) is not requeued: it
exits 128+signal and the checkpoint stays in CRYOPIPE_HOME.
--checkpoint-every adds periodic live checkpoints, bounding what a node
failure or a SIGKILL without warning can lose.

Before it starts it checks the setup and warns: a --signal without B:, a
warning time shorter than the last checkpoint took, a CRYOPIPE_HOME local to
one node of a multi-node cluster, a script that did not exec it,
proctrack/linuxproc (then it kills its own pipeline when it ends).

--sbatch prints a ready sbatch script for the pipeline instead of running it.`,
  allowPositionals: true,
  options: {
    name: {
      type: 'string',
      valueName: 'NAME',
      description: 'the cryopipe job name (default slurm-$SLURM_JOB_ID, the same across requeues)',
    },
    signal: {
      type: 'string',
      valueName: 'SIG',
      description: 'the warning signal to checkpoint on, besides TERM (default USR1)',
    },
    'checkpoint-every': {
      type: 'string',
      valueName: 'DURATION',
      description: 'also take a live checkpoint every DURATION (90s, 10m, 1h)',
    },
    keep: {
      type: 'string',
      valueName: 'N',
      description: `with --checkpoint-every: keep the newest N (default ${DEFAULT_KEEP})`,
    },
    sbatch: {
      type: 'boolean',
      description: 'print a ready sbatch script for the pipeline instead of running it',
    },
    'warn-seconds': {
      type: 'string',
      valueName: 'N',
      description: `with --sbatch: the warning comes N s before the time limit (default ${DEFAULT_WARN_SECONDS})`,
    },
    home: {
      type: 'string',
      valueName: 'DIR',
      description: 'with --sbatch: the shared CRYOPIPE_HOME the script exports',
    },
  },
  examples: [
    "cryopipe slurm --sbatch --name enc --checkpoint-every 10m -- ffmpeg -i in.mkv -f yuv4mpegpipe - '|' aomenc --passes=1 --ivf -o out.ivf - > enc.sbatch",
    'sbatch --time=4:00:00 enc.sbatch',
    "exec cryopipe slurm --name enc -- ffmpeg -i in.mkv -f yuv4mpegpipe - '|' aomenc --passes=1 --ivf -o out.ivf -",
    "cryopipe slurm --sbatch --json -- sh -c 'sleep 600' > /dev/null",
  ],
  async run(ctx) {
    if (ctx.positionals.length === 0) {
      throw new CliError(
        'no pipeline given',
        EXIT.usage,
        `put the pipeline after '--', e.g. cryopipe slurm -- ffmpeg … '|' aomenc … -`,
      );
    }
    return ctx.values.sbatch ? printScript(ctx) : runInSlurm(ctx);
  },
};

function printScript({ values, positionals, out }: CommandContext): number {
  let warnSeconds: number | undefined;
  if (values['warn-seconds'] !== undefined) {
    warnSeconds = Number(values['warn-seconds']);
    if (!Number.isSafeInteger(warnSeconds) || warnSeconds < 1) {
      throw new CliError(
        `--warn-seconds needs a whole number of seconds, got '${values['warn-seconds']}'`,
        EXIT.usage,
        'e.g. --warn-seconds 300: five minutes before the time limit',
      );
    }
  }
  const signal = parseSignal((values.signal as string | undefined) ?? 'USR1');
  // Checked now, so the script does not fail in the queue hours later.
  parseSchedule(
    { every: values['checkpoint-every'], keep: values.keep, stagingDir: undefined },
    '--checkpoint-every',
  );
  const script = sbatchScript({
    pipeline: positionals,
    signal,
    ...(values.name ? { name: values.name as string } : {}),
    ...(warnSeconds !== undefined ? { warnSeconds } : {}),
    ...(values['checkpoint-every']
      ? { checkpointEvery: values['checkpoint-every'] as string }
      : {}),
    ...(values.keep ? { keep: values.keep as string } : {}),
    ...(values.home ? { home: values.home as string } : {}),
  });
  out.result({ script });
  if (!out.json) process.stdout.write(script);
  return EXIT.ok;
}

async function runInSlurm({ values, positionals, store, out }: CommandContext): Promise<number> {
  for (const only of ['warn-seconds', 'home'] as const) {
    if (values[only] !== undefined) {
      throw new CliError(
        `--${only} only applies with --sbatch`,
        EXIT.usage,
        `add --sbatch, or drop --${only}`,
      );
    }
  }
  const env = slurmJobEnv();
  const warning = parseSignal((values.signal as string | undefined) ?? 'USR1');
  if (warning === 'SIGKILL' || warning === 'SIGSTOP') {
    throw new CliError(`${warning} can't be caught`, EXIT.usage, 'use USR1, USR2, URG or TERM');
  }
  const schedule = parseSchedule(
    { every: values['checkpoint-every'], keep: values.keep, stagingDir: undefined },
    '--checkpoint-every',
  );
  const log = (line: string) =>
    process.stderr.write(`cryopipe ${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const name = (values.name as string | undefined) ?? undefined;
  await warnAboutSetup(store, env, name, warning, log);
  const run = superviseSlurmJob(store, {
    pipeline: positionals.length === 1 ? positionals[0]! : positionals,
    ...(name ? { name } : {}),
    ...(schedule ? { schedule } : {}),
    onLog: log,
  });
  // Installed at once: a warning that comes during the start or restore is kept for after it.
  const signals = [...new Set<NodeJS.Signals>([warning, 'SIGTERM'])];
  const handlers = signals.map((s) => {
    const handler = () => run.stop(s);
    process.on(s, handler);
    return [s, handler] as const;
  });
  let outcome: SlurmOutcome;
  try {
    outcome = await run.done;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
  out.result(outcome);
  return exitCodeOf(outcome);
}

/** The job's exit status: the pipeline's, 0 after a requeue, 128+signal (or 1) when checkpointed but not requeued. */
function exitCodeOf(o: SlurmOutcome): number {
  if (o.outcome !== 'checkpointed') return o.exitCode;
  if (o.requeued) return EXIT.ok;
  if (!o.signal) return EXIT.failure;
  return 128 + ((constants.signals as Record<string, number>)[o.signal] ?? 0);
}

/** Prints what is wrong with the Slurm setup; never stops the job. */
async function warnAboutSetup(
  store: JobStore,
  env: ReturnType<typeof slurmJobEnv>,
  name: string | undefined,
  warning: NodeJS.Signals,
  log: (line: string) => void,
): Promise<void> {
  const jobName = name ?? `slurm-${env.jobId}`;
  const existing = store.list().find((j) => j.name === jobName);
  const last = existing ? store.checkpoints(existing.id).at(-1) : undefined;
  const facts = await gatherSlurmFacts(env, {
    home: store.home,
    warningSignal: warning,
    lastCheckpointMs: last?.dumpMs,
  });
  for (const f of slurmFindings(facts)) {
    log(`${f.level}: ${f.message}${f.hint ? ` (${f.hint})` : ''}`);
  }
}

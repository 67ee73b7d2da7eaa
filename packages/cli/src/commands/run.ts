import { DEFAULT_KEEP, parseSchedule, startJob, waitForJob } from '@cryopipe/jobs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';

export const run: Command = {
  name: 'run',
  summary: 'start a pipeline the checkpointable way',
  usage: `[--name NAME] [--wait] -- CMD ARGS… '|' CMD ARGS… [REDIRECTIONS]
       cryopipe run [--name NAME] [--wait] 'CMD ARGS | CMD ARGS > FILE'`,
  description: `The pipeline starts under a tiny static launcher: real pipes, every descriptor
set exactly, stdin from /dev/null, a new session with no terminal and, by
default, a fresh PID namespace, so CRIU can dump it and restore it any number
of times. No shell is involved: operators are '|', '<', '>', '>>', 'N>', 'N>>',
'2>&1' (as separate words after --, or inside one quoted string); nothing is
expanded. Each stage's stderr goes to the job's log (see 'cryopipe logs') unless
redirected; the last stage's stdout too.`,
  allowPositionals: true,
  options: {
    name: { type: 'string', valueName: 'NAME', description: 'a name to use instead of the job id' },
    wait: { type: 'boolean', description: "stay attached and exit with the pipeline's status" },
    'no-pid-namespace': {
      type: 'boolean',
      description: 'run without a PID namespace (restores then need the old PIDs free)',
    },
    'checkpoint-every': {
      type: 'string',
      valueName: 'DURATION',
      description: 'take a live checkpoint every DURATION (90s, 5m, 1h); see cryopipe schedule',
    },
    keep: {
      type: 'string',
      valueName: 'N',
      description: `with --checkpoint-every: keep the newest N (default ${DEFAULT_KEEP})`,
    },
    'staging-dir': {
      type: 'string',
      valueName: 'DIR',
      description:
        'with --checkpoint-every: write images to DIR (e.g. /dev/shm) first, move them after',
    },
  },
  examples: [
    "cryopipe run --name enc -- ffmpeg -i in.mkv -f yuv4mpegpipe - '|' aomenc --passes=1 --ivf -o out.ivf -",
    "cryopipe run --name enc 'ffmpeg -i in.mkv -f yuv4mpegpipe - | SvtAv1EncApp -i stdin -b out.ivf'",
    "cryopipe run --wait -- sh -c 'sleep 5; echo done' '>' done.txt",
  ],
  async run({ values, positionals, store, out }) {
    if (positionals.length === 0) {
      throw new CliError(
        'no pipeline given',
        EXIT.usage,
        `put the pipeline after '--', e.g. cryopipe run -- cat in '|' gzip '>' out.gz`,
      );
    }
    const schedule = parseSchedule(
      { every: values['checkpoint-every'], keep: values.keep, stagingDir: values['staging-dir'] },
      '--checkpoint-every',
    );
    const plainMode = Boolean(values['no-pid-namespace']);
    if (!plainMode && process.geteuid?.() !== 0) {
      out.warn(
        'not root: the job runs without a PID namespace, and checkpoint and restore will need root (sudo)',
      );
    }
    const started = await startJob(store, {
      pipeline: positionals.length === 1 ? positionals[0]! : positionals,
      ...(values.name ? { name: values.name as string } : {}),
      ...(plainMode ? { pidNamespace: false } : {}),
      ...(schedule ? { schedule } : {}),
    });
    const { job } = started;
    out.result({
      id: job.id,
      name: job.name,
      rootPid: job.rootPid,
      stages: started.stages,
      ...(schedule ? { schedule, checkpointerPid: started.checkpointerPid } : {}),
    });
    out.line(job.name ? `${job.id} (${job.name})` : job.id);
    if (!values.wait) return EXIT.ok;
    return (await waitForJob(store, job)).exitCode;
  },
};

import { spawnPipeline } from '@cryopipe/spawn';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import type { JobRecord } from '../job-store.ts';
import { startPeriodicCheckpointer } from '../periodic-checkpointer.ts';
import { preflightPipeline } from '../pipeline-preflight.ts';
import { sessionFreeEnv, toSpawnSpec } from '../pipeline-spec.ts';
import { parsePipelineArgv, parsePipelineString } from '../pipeline-syntax.ts';
import { parseSchedule } from '../schedule-options.ts';
import { waitForJob } from '../wait-job.ts';

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
      description: 'with --checkpoint-every: keep the newest N',
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
    const syntax =
      positionals.length === 1
        ? parsePipelineString(positionals[0]!)
        : parsePipelineArgv(positionals);
    const command =
      positionals.length === 1 ? positionals[0]! : positionals.map(quoteForDisplay).join(' ');
    const cwd = process.cwd();
    const env = sessionFreeEnv(process.env);
    preflightPipeline(syntax, { cwd, env });
    const schedule = parseSchedule(
      { every: values['checkpoint-every'], keep: values.keep, stagingDir: values['staging-dir'] },
      '--checkpoint-every',
    );
    const pidNamespace = !values['no-pid-namespace'] && process.geteuid?.() === 0;
    if (!values['no-pid-namespace'] && !pidNamespace) {
      out.warn(
        'not root: the job runs without a PID namespace, and checkpoint and restore will need root (sudo)',
      );
    }
    const id = store.create(values.name as string | undefined);
    let handle: Awaited<ReturnType<typeof spawnPipeline>>;
    try {
      const spec = toSpawnSpec(syntax, { cwd, logsDir: store.logsDir(id), env: process.env });
      handle = await spawnPipeline(spec, {
        runDir: store.runDir(id),
        pidNamespace: pidNamespace ? 'auto' : false,
      });
    } catch (err) {
      store.remove(id); // nothing started: leave no half-made job behind
      throw err;
    }
    const job: JobRecord = {
      version: 1,
      id,
      ...(values.name ? { name: values.name as string } : {}),
      command,
      createdAt: new Date().toISOString(),
      cwd,
      pidNamespace: handle.mode === 'pidns',
      phase: 'running',
      rootPid: handle.rootPid,
      launcherPid: handle.launcherPid,
      restores: [],
      ...(schedule ? { schedule } : {}),
    };
    store.save(job);
    const checkpointerPid = schedule ? startPeriodicCheckpointer(store, id) : undefined;
    out.result({
      id,
      name: job.name,
      rootPid: job.rootPid,
      stages: handle.stages.map((s) => ({ argv: s.argv, pid: s.pid })),
      ...(schedule ? { schedule, checkpointerPid } : {}),
    });
    out.line(job.name ? `${id} (${job.name})` : id);
    if (!values.wait) return EXIT.ok;
    return (await waitForJob(store, job)).exitCode;
  },
};

function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./|<>&-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

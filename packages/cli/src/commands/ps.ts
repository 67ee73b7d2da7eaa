import { statSync } from 'node:fs';
import {
  isSealed,
  isWithin,
  type JobState,
  type JobStore,
  jobLiveness,
  readSlurmRecord,
  type SlurmRunRecord,
  scheduleSummary,
  withProcScan,
} from '@cryopipe/jobs/store';
import { Procfs, writableFiles } from '@cryopipe/procfs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { formatBytes, formatDuration, table } from '../output.ts';

const STATES: readonly JobState[] = [
  'running',
  'checkpointed',
  'exited',
  'failed',
  'lost',
  'migrated',
];

export const ps: Command = {
  name: 'ps',
  summary: 'list jobs: state, pids, age, CPU, output sizes, checkpoints',
  usage: '[-q] [--state STATE]…',
  description: `AGE counts from the job's start; once the job has ended it stays at the time
it ran (from its start to its end). Output sizes are read live: for a running
job, the files it has open for writing now; otherwise the files its newest
checkpoint recorded.`,
  options: {
    quiet: {
      type: 'boolean',
      short: 'q',
      description: 'print only job ids, one a line (for scripts: xargs, $(…))',
    },
    state: {
      type: 'string',
      multiple: true,
      valueName: 'STATE',
      choices: STATES,
      description: `only jobs in this state (${STATES.join(', ')}); repeat or comma-separate for several`,
    },
  },
  examples: [
    'cryopipe ps',
    'cryopipe ps --state running',
    'cryopipe ps -q --state exited,failed | xargs -r -n1 cryopipe rm',
    'cryopipe ps --json | jq ".[] | select(.state==\\"running\\")"',
  ],
  async run({ values, store, out }) {
    const wanted = parseStates(values.state as string[] | undefined);
    // One listing of /proc's launchers for every job, not a scan per stopped job.
    const rows = await withProcScan(async () => {
      const rows = [];
      for (const job of store.list()) {
        const live = await jobLiveness(store, job);
        if (wanted && !wanted.has(live.state)) continue;
        const checkpoints = store.checkpoints(job.id);
        // The job's own logs are not outputs worth listing (a copy's outputs/ are). A copy
        // without checkpoints of its own writes where its restore put the outputs.
        const own = [store.runDir(job.id), store.logsDir(job.id)];
        const tree = live.rootPid !== undefined ? await treeNow(live.rootPid) : undefined;
        const outputPaths = (
          tree
            ? tree.writing
            : checkpoints.length
              ? checkpoints.at(-1)!.files.map((f) => f.path)
              : (job.copyOf?.outputs ?? [])
        ).filter((path) => !own.some((dir) => isWithin(path, dir)));
        const outputs = outputPaths.map((path) => ({ path, bytes: sizeOf(path) }));
        // A job that ended stops ageing: its age is the time it ran.
        const end =
          live.state === 'exited' || live.state === 'failed' || live.state === 'lost'
            ? (live.status?.endedAt ?? undefined)
            : undefined;
        const startedAt = Date.parse(job.createdAt);
        rows.push({
          id: job.id,
          name: job.name,
          state: live.state,
          exitCode: live.exitCode,
          rootPid: live.rootPid,
          stagePids: live.alive ? (live.status?.stages.map((s) => s.hostPid) ?? []) : [],
          ageMs: Math.max(0, (end ?? Date.now()) - startedAt),
          ...(end !== undefined ? { endedAt: new Date(end).toISOString() } : {}),
          cpuMs: tree?.cpuMs,
          checkpoints: checkpoints.length,
          // Whether the newest checkpoint's content hashes are recorded (the background sealer).
          ...(checkpoints.length ? { sealed: isSealed(checkpoints.at(-1)!) } : {}),
          restores: job.restores.length,
          ...(job.copyOf
            ? { copyOf: { job: job.copyOf.job, checkpoint: job.copyOf.checkpoint } }
            : {}),
          ...(job.migratedTo ? { migratedTo: job.migratedTo } : {}),
          ...slurmOf(store, job.id),
          schedule: scheduleSummary(store, job),
          outputs,
          command: job.command,
        });
      }
      return rows;
    });
    out.result(rows);
    if (out.json) return EXIT.ok;
    if (values.quiet) {
      for (const r of rows) out.line(r.id);
      return EXIT.ok;
    }
    if (rows.length === 0) {
      out.line(
        wanted
          ? `no ${[...wanted].join(' or ')} jobs`
          : "no jobs; start one with 'cryopipe run -- CMD …'",
      );
      return EXIT.ok;
    }
    out.line(
      table([
        ['ID', 'NAME', 'STATE', 'PID', 'AGE', 'CPU', 'CKPT', 'EVERY', 'COMMAND'],
        ...rows.map((r) => [
          r.id,
          r.name ?? '-',
          r.state + (r.exitCode !== undefined ? `(${r.exitCode})` : ''),
          r.rootPid ? String(r.rootPid) : '-',
          formatAge(r.ageMs),
          r.cpuMs !== undefined ? formatDuration(r.cpuMs) : '-',
          String(r.checkpoints),
          r.schedule?.text ?? '-',
          r.command.length > 60 ? `${r.command.slice(0, 57)}...` : r.command,
        ]),
      ]),
    );
    for (const r of rows) {
      if (r.migratedTo)
        out.line(`  ${r.id} moved to ${r.migratedTo.dest} (job ${r.migratedTo.id} there)`);
      if (r.slurm) out.line(`  ${r.id} ${describeSlurm(r.slurm)}`);
      if (r.copyOf)
        out.line(
          `  ${r.id} is a copy of ${r.copyOf.job} from its checkpoint ${r.copyOf.checkpoint}`,
        );
      for (const o of r.outputs)
        out.line(
          `  ${r.id} ${r.state === 'running' ? 'writes' : 'wrote'} ${o.path} (${o.bytes === undefined ? 'missing' : formatBytes(o.bytes)})`,
        );
    }
    return EXIT.ok;
  },
};

/** A job run by `cryopipe slurm`: its Slurm job id and its newest run (jobs/ID/slurm.json). */
function slurmOf(
  store: JobStore,
  id: string,
): { slurm?: { jobId: string; runs: number; lastRun: SlurmRunRecord } } {
  const record = readSlurmRecord(store, id);
  const lastRun = record?.runs.at(-1);
  return record && lastRun
    ? { slurm: { jobId: record.slurmJobId, runs: record.runs.length, lastRun } }
    : {};
}

/** "is Slurm job 4242: run 2 on node2, restored from checkpoint 3, ended in checkpoint 4 (SIGUSR1), requeued". */
function describeSlurm(s: { jobId: string; runs: number; lastRun: SlurmRunRecord }): string {
  const run = s.lastRun;
  const began =
    run.action === 'restored' ? `restored from checkpoint ${run.from ?? '?'}` : 'started';
  const end = run.end;
  const ended = !end
    ? ''
    : end.outcome === 'finished'
      ? `, finished (exit ${end.exitCode ?? '?'})`
      : `, ended in checkpoint ${end.checkpoint ?? '?'}${end.signal ? ` (${end.signal})` : ''}${end.requeued ? ', requeued' : ''}`;
  return `is Slurm job ${s.jobId}: run ${s.runs} on ${run.node ?? 'an unknown node'}, ${began}${ended}`;
}

function parseStates(given: string[] | undefined): Set<JobState> | undefined {
  if (!given) return undefined;
  const states = new Set<JobState>();
  for (const s of given.flatMap((g) => g.split(','))) {
    const state = s.trim();
    if (!(STATES as readonly string[]).includes(state))
      throw new CliError(
        `unknown state '${state}'`,
        EXIT.usage,
        `--state takes one of ${STATES.join(', ')}`,
      );
    states.add(state as JobState);
  }
  return states;
}

/**
 * An age in one compact format at every scale, the way ps shows it:
 * 42s, 5m07s, 3h12m, 2d04h.
 */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * The job's processes right now: CPU time (user + system, from
 * /proc/PID/stat) and the regular files they have open for writing.
 */
async function treeNow(pid: number): Promise<{ cpuMs: number; writing: string[] } | undefined> {
  try {
    const snap = await new Procfs().snapshot(pid, { outside: false });
    let seconds = 0;
    for (const p of snap.processes.values()) seconds += p.stat.userTime + p.stat.systemTime;
    const writing = new Set(
      writableFiles(snap)
        .filter((f) => !f.deleted)
        .map((f) => f.path),
    );
    return { cpuMs: seconds * 1000, writing: [...writing] };
  } catch {
    return undefined; // it ended while we looked
  }
}

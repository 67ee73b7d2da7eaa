import { statSync } from 'node:fs';
import { isWithin, jobLiveness, scheduleSummary } from '@cryopipe/jobs';
import { Procfs } from '@cryopipe/procfs';
import type { Command } from '../command.ts';
import { EXIT } from '../errors.ts';
import { formatBytes, formatDuration, table } from '../output.ts';

export const ps: Command = {
  name: 'ps',
  summary: 'list jobs: state, pids, age, CPU, output sizes, checkpoints',
  usage: '',
  options: {},
  examples: ['cryopipe ps', 'cryopipe ps --json | jq ".[] | select(.state==\\"running\\")"'],
  async run({ store, out }) {
    const rows = [];
    for (const job of store.list()) {
      const live = await jobLiveness(store, job);
      const checkpoints = store.checkpoints(job.id);
      // The job's own logs are not outputs worth listing (a copy's outputs/ are). A copy
      // without checkpoints of its own writes where its restore put the outputs.
      const own = [store.runDir(job.id), store.logsDir(job.id)];
      const outputPaths = checkpoints.length
        ? checkpoints
            .at(-1)!
            .files.map((f) => f.path)
            .filter((path) => !own.some((dir) => isWithin(path, dir)))
        : (job.copyOf?.outputs ?? []);
      const outputs = outputPaths.map((path) => ({ path, bytes: sizeOf(path) }));
      rows.push({
        id: job.id,
        name: job.name,
        state: live.state,
        exitCode: live.exitCode,
        rootPid: live.rootPid,
        stagePids: live.alive ? (live.status?.stages.map((s) => s.hostPid) ?? []) : [],
        ageMs: Date.now() - Date.parse(job.createdAt),
        cpuMs: live.rootPid !== undefined ? await treeCpuMs(live.rootPid) : undefined,
        checkpoints: checkpoints.length,
        restores: job.restores.length,
        ...(job.copyOf
          ? { copyOf: { job: job.copyOf.job, checkpoint: job.copyOf.checkpoint } }
          : {}),
        schedule: scheduleSummary(store, job),
        outputs,
        command: job.command,
      });
    }
    out.result(rows);
    if (!out.json) {
      if (rows.length === 0) {
        out.line("no jobs; start one with 'cryopipe run -- CMD …'");
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
            formatDuration(r.ageMs),
            r.cpuMs !== undefined ? formatDuration(r.cpuMs) : '-',
            String(r.checkpoints),
            r.schedule?.text ?? '-',
            r.command.length > 60 ? `${r.command.slice(0, 57)}...` : r.command,
          ]),
        ]),
      );
      for (const r of rows) {
        if (r.copyOf)
          out.line(
            `  ${r.id} is a copy of ${r.copyOf.job} from its checkpoint ${r.copyOf.checkpoint}`,
          );
        for (const o of r.outputs)
          out.line(
            `  ${r.id} writes ${o.path} (${o.bytes === undefined ? 'missing' : formatBytes(o.bytes)})`,
          );
      }
    }
    return EXIT.ok;
  },
};

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** CPU time of the job's processes (user + system), from /proc/PID/stat. */
async function treeCpuMs(pid: number): Promise<number | undefined> {
  try {
    const snap = await new Procfs().snapshot(pid, { outside: false });
    let seconds = 0;
    for (const p of snap.processes.values()) seconds += p.stat.userTime + p.stat.systemTime;
    return seconds * 1000;
  } catch {
    return undefined; // it ended while we looked
  }
}

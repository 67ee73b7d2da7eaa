/**
 * Downtime per live checkpoint of the ffmpeg | SvtAv1EncApp demo encode:
 * `cryopipe checkpoint --leave-running` every few seconds while it runs, and
 * CRIU's own stats for each (frozen = the time the job could not run;
 * freezing, memdump and memwrite show where it goes). Two candidates take
 * turns on the same encode: images straight into the job directory on local
 * disk, and `--staging-dir /dev/shm` (written to memory, moved to the job
 * directory once the job runs again).
 *
 *   pnpm --filter @cryopipe/bench exec tsx src/live-downtime.bench.ts   (CHECKPOINTS=N, FRAMES=N)
 *
 * BENCH_QUICK=1: two checkpoints (one of each kind) 1 s apart, then the encode
 * is killed instead of awaited (the CI smoke run, test/benches-quick.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { svtAv1 } from '../../../packages/examples/src/encoders.ts';
import { machine, median, run } from './measure.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const CHECKPOINTS = Number(process.env.CHECKPOINTS ?? (QUICK ? 2 : 8));
// Quick: more frames than it will ever reach; it is killed after its checkpoints.
const FRAMES = Number(process.env.FRAMES ?? (QUICK ? 100_000 : 2400));
const EVERY_MS = QUICK ? 1000 : 3000;
const cliPath = join(import.meta.dirname, '../../../packages/cli/dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'cryopipe-bench-live-'));
const env = { ...process.env, CRYOPIPE_HOME: join(work, 'home'), NO_COLOR: '1' };
const cliJson = <T>(command: string, ...args: string[]) =>
  JSON.parse(run(process.execPath, [cliPath, command, '--json', ...args], env)) as T;
const ms = (n: number) => `${n.toFixed(0)} ms`;

interface Checkpoint {
  checkpoint: number;
  moveMs?: number;
  frozenMs?: number;
  /** Our post-dump hook's share of frozenMs. */
  hookMs?: number;
  dumpMs: number;
  imageBytes: number;
  stats?: {
    freezingTimeUs: number;
    frozenTimeUs: number;
    memdumpTimeUs: number;
    memwriteTimeUs: number;
  };
}

try {
  if (QUICK)
    console.log('quick mode: two checkpoints, then the encode is killed; the numbers mean nothing');
  console.log(`machine: ${machine()}`);
  const job = cliJson<{ id: string; rootPid: number }>(
    'run',
    '--',
    ...svtAv1.pipeline(join(work, 'out.ivf'), FRAMES),
  );
  const taken: (Checkpoint & { staged: boolean })[] = [];
  for (let i = 0; i < CHECKPOINTS; i++) {
    await new Promise((r) => setTimeout(r, EVERY_MS));
    const state = cliJson<{ id: string; state: string }[]>('ps').find((j) => j.id === job.id);
    if (state?.state !== 'running') break;
    const staged = i % 2 === 1;
    const cp = cliJson<Checkpoint>(
      'checkpoint',
      job.id,
      '--leave-running',
      ...(staged ? ['--staging-dir', '/dev/shm'] : []),
    );
    taken.push({ ...cp, staged });
    // Keep one image set on disk, as a --keep 1 schedule would.
    if (cp.checkpoint > 1)
      rmSync(join(work, 'home/jobs', job.id, 'checkpoints', String(cp.checkpoint - 1)), {
        recursive: true,
      });
  }
  if (QUICK) run(process.execPath, [cliPath, 'kill', job.id, '-s', 'KILL'], env);
  // `wait` exits with the job's status: non-zero once quick mode killed it.
  const waited = spawnSync(process.execPath, [cliPath, 'wait', job.id], {
    env,
    encoding: 'utf8',
  }).stdout;
  console.log(
    `\n${taken.length} live checkpoints of ffmpeg | SvtAv1EncApp --lp 1 (640x360, ${FRAMES} frames), job: ${waited.trim()}`,
  );
  console.log(
    '  #  images to      frozen   freezing  memdump  memwrite  cryopipe  whole dump  move after  images',
  );
  for (const c of taken) {
    const s = c.stats;
    const us = (v: number | undefined) => (v === undefined ? '?' : ms(v / 1000));
    console.log(
      `  ${c.checkpoint}  ${(c.staged ? '/dev/shm' : 'job dir').padEnd(10)}  ${ms(c.frozenMs ?? Number.NaN).padEnd(7)}  ${us(s?.freezingTimeUs).padEnd(8)}  ${us(s?.memdumpTimeUs).padEnd(7)}  ${us(s?.memwriteTimeUs).padEnd(8)}  ${(c.hookMs === undefined ? '?' : ms(c.hookMs)).padEnd(8)}  ${ms(c.dumpMs).padEnd(10)}  ${(c.moveMs === undefined ? '-' : ms(c.moveMs)).padEnd(10)}  ${(c.imageBytes / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  const frozen = taken.map((c) => c.frozenMs ?? Number.NaN);
  console.log(
    `\ndowntime per live checkpoint (CRIU frozen time): median ${ms(median(frozen))}, max ${ms(Math.max(...frozen))}; target ≤ 500 ms`,
  );
  const direct = median(taken.filter((c) => !c.staged).map((c) => c.frozenMs ?? Number.NaN));
  const staged = median(taken.filter((c) => c.staged).map((c) => c.frozenMs ?? Number.NaN));
  console.log(
    `  images straight to the job dir: median ${ms(direct)}; staged in /dev/shm: median ${ms(staged)}; ratio staged/direct ${(staged / direct).toFixed(2)}×`,
  );
} finally {
  try {
    for (const j of cliJson<{ rootPid?: number }[]>('ps'))
      if (j.rootPid) process.kill(j.rootPid, 'SIGKILL');
  } catch {}
  rmSync(work, { recursive: true, force: true });
}

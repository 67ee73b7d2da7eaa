/**
 * cryopipe against the raw tools, side by side in one run, on the same job:
 *   - `cryopipe checkpoint --leave-running` vs `criu dump --leave-running`
 *     (the whole command as a user runs it, and the dump itself)
 *   - `cryopipe restore` vs `criu restore -d` from the same images
 *   - image write throughput vs `dd` into the same directory
 * The job is a real process tree holding ~200 MiB of memory, started with
 * `cryopipe run` (PID namespace), so every restore gets fresh PIDs.
 * After each cryopipe checkpoint it waits (untimed) for the background
 * sealer that hashes the images, so it never competes with the next candidate.
 *
 *   pnpm --filter @cryopipe/bench bench      (root; ROUNDS=N to change)
 *   BENCH_QUICK=1 pnpm --filter @cryopipe/bench bench   (a 16 MiB job, one
 *     round: checks the bench runs, in CI by test/benches-quick.test.ts; the
 *     numbers mean nothing)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runningSealer } from '../../../packages/jobs/src/integrity/seal.ts';
import { machine, median, run, timeMs } from './measure.ts';

const QUICK = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 7));
const MIB = QUICK ? 16 : 200;
const cliPath = join(import.meta.dirname, '../../../packages/cli/dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'cryopipe-bench-'));
const env = { ...process.env, CRYOPIPE_HOME: join(work, 'home'), NO_COLOR: '1' };
const cli = (...args: string[]) => run(process.execPath, [cliPath, ...args], env);
// --json right after the command: whatever follows `--` is the pipeline.
const cliJson = <T>(command: string, ...args: string[]) =>
  JSON.parse(cli(command, '--json', ...args)) as T;

const dirBytes = (dir: string) =>
  readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
const ratio = (a: number, b: number) => `${(a / b).toFixed(3)}×`;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function killTree(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

try {
  if (QUICK)
    console.log(
      'quick mode: a 16 MiB job, one round, to check the bench runs; the numbers mean nothing',
    );
  console.log(`machine: ${machine()}; ${ROUNDS} rounds, candidates alternating`);
  // A job with real memory: 200 MiB written so the pages are resident, then idle.
  const { id, rootPid } = cliJson<{ id: string; rootPid: number }>(
    'run',
    '--name',
    'bench',
    '--',
    'python3',
    '-c',
    `import time; x = bytearray(${MIB} << 20); x[::4096] = b"x" * len(x[::4096]); time.sleep(10**6)`,
  );
  await new Promise((r) => setTimeout(r, 1500));

  // 1. dump, leaving the job running: whole command and the dump alone.
  /** Blocks until no sealer works on `dir` (they finish in seconds; 10 min at most). */
  const sealed = (dir: string) => {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; runningSealer(dir) !== undefined; i++) {
      if (i > 30_000) throw new Error(`the sealer of ${dir} never finished`);
      Atomics.wait(pause, 0, 0, 20);
    }
  };
  const ours: number[] = [];
  const oursDump: number[] = [];
  const raw: number[] = [];
  const rawDir = join(work, 'raw');
  const checkpoints = join(work, 'home', 'jobs', id, 'checkpoints');
  const cryopipeRound = () => {
    let record: { checkpoint: number; dumpMs: number } | undefined;
    ours.push(timeMs(() => (record = cliJson('checkpoint', 'bench', '--leave-running'))));
    oursDump.push(record!.dumpMs);
    // Untimed: the checkpoint's background sealer must not compete with the next candidate.
    sealed(join(checkpoints, String(record!.checkpoint)));
    // Keep one image set on disk at a time for both candidates: piling up
    // checkpoints would make writeback pressure grow on our side only.
    rmSync(join(checkpoints, String(record!.checkpoint)), { recursive: true, force: true });
  };
  const criuRound = () => {
    rmSync(rawDir, { recursive: true, force: true });
    run('mkdir', ['-p', rawDir]);
    raw.push(
      timeMs(() =>
        run('criu', [
          'dump',
          '-t',
          String(rootPid),
          '-D',
          rawDir,
          '--leave-running',
          '-o',
          'dump.log',
        ]),
      ),
    );
  };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate who goes first, so neither always meets the other's writeback.
    if (i % 2) {
      criuRound();
      cryopipeRound();
    } else {
      cryopipeRound();
      criuRound();
    }
  }
  const imageBytes = dirBytes(rawDir);
  console.log(
    `\ncheckpoint of a ${Math.round(imageBytes / 2 ** 20)} MiB job (leave running), median of ${ROUNDS}:`,
  );
  console.log(
    `  cryopipe checkpoint (whole command) ${ms(median(ours))}  vs criu dump ${ms(median(raw))}  ratio ${ratio(median(ours), median(raw))}`,
  );
  console.log(
    `  cryopipe's dump request alone       ${ms(median(oursDump))}  vs criu dump ${ms(median(raw))}  ratio ${ratio(median(oursDump), median(raw))}`,
  );

  // 2. restore from the same images: stop the job with a final checkpoint, then alternate.
  const last = cliJson<{ checkpoint: number }>('checkpoint', 'bench');
  const images = join(work, 'home', 'jobs', id, 'checkpoints', String(last.checkpoint));
  sealed(images);
  const oursRestore: number[] = [];
  const rawRestore: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let pid = 0;
    oursRestore.push(
      timeMs(() => (pid = cliJson<{ rootPid: number }>('restore', 'bench').rootPid)),
    );
    killTree(pid);
    await new Promise((r) => setTimeout(r, 200));
    const pidfile = join(work, 'raw.pid');
    // -W: criu's log and stats go elsewhere, so the checkpoint stays exactly as cryopipe wrote it.
    rawRestore.push(
      timeMs(() =>
        run('criu', [
          'restore',
          '-d',
          '-D',
          images,
          '-W',
          work,
          '-o',
          'restore.log',
          '--pidfile',
          pidfile,
        ]),
      ),
    );
    killTree(Number(readFileSync(pidfile, 'utf8')));
    rmSync(pidfile, { force: true });
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`\nrestore of the same images, median of ${ROUNDS}:`);
  console.log(
    `  cryopipe restore ${ms(median(oursRestore))}  vs criu restore -d ${ms(median(rawRestore))}  ratio ${ratio(median(oursRestore), median(rawRestore))}`,
  );

  // 3. image write throughput against dd writing as many bytes into the same directory.
  const cpRecords = readdirSync(checkpoints)
    .filter((n) => /^\d+$/.test(n))
    .map(
      (n) =>
        JSON.parse(readFileSync(join(checkpoints, n, 'checkpoint.json'), 'utf8')) as {
          imageBytes: number;
          dumpMs: number;
          frozenMs?: number;
        },
    );
  const ddMs: number[] = [];
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    const out = join(images, `dd-${i}.bin`);
    ddMs.push(
      timeMs(() =>
        run(
          'dd',
          ['if=/dev/zero', `of=${out}`, 'bs=1M', `count=${Math.round(imageBytes / 2 ** 20)}`],
          env,
        ),
      ),
    );
    rmSync(out);
  }
  const ourMiBs = median(cpRecords.map((c) => c.imageBytes / 2 ** 20 / (c.dumpMs / 1000)));
  const ddMiBs = imageBytes / 2 ** 20 / (median(ddMs) / 1000);
  console.log(
    `\nimage write throughput (the whole dump request: freeze, collect, write) vs dd of the same size (page cache, no fsync), same directory:`,
  );
  console.log(
    `  cryopipe ${ourMiBs.toFixed(0)} MiB/s  vs dd ${ddMiBs.toFixed(0)} MiB/s  ratio ${(ourMiBs / ddMiBs).toFixed(2)}`,
  );
} finally {
  try {
    for (const j of cliJson<{ rootPid?: number }[]>('ps')) if (j.rootPid) killTree(j.rootPid);
  } catch {}
  rmSync(work, { recursive: true, force: true });
}

// Full scan of every process: stat plus every descriptor (target, kind, access mode; position for files).
// Run: pnpm --filter @cryopipe/procfs bench   (as root, so every process is readable)
// Quick mode (BENCH_QUICK=1, or `bench -- --quick`): one scan each, no warm-up, to prove the bench
// still runs (scan.bench.test.ts does this in CI); its numbers mean nothing.
import { createRequire } from 'node:module';
import { Procfs } from '../src/index.ts';

const require = createRequire(import.meta.url);
const { Procfs: Stroncium } = require('@stroncium/procfs') as {
  Procfs: new () => {
    processes(): number[];
    processStat(pid: number): unknown;
    processFds(pid: number): number[];
    processFd(fd: number, pid: number): unknown;
    processFdinfo(fd: number, pid: number): unknown;
  };
};

const ours = new Procfs();
const theirs = new Stroncium();

/** @cryopipe/procfs: stat + classified descriptors (readlink, lstat or stat+fdinfo per kind). */
async function scanOurs(): Promise<number> {
  let fds = 0;
  for (const pid of await ours.pids()) {
    const p = ours.process(pid);
    try {
      await p.stat();
      fds += (await p.fds({ sockets: false })).length;
    } catch {
      // exited, or a non-dumpable process: skipped by both candidates alike
    }
  }
  return fds;
}

/** @stroncium/procfs: its documented way to get the same facts: processFd (readlink) + processFdinfo (flags, pos). */
function scanTheirs(): number {
  let fds = 0;
  for (const pid of theirs.processes()) {
    try {
      theirs.processStat(pid);
      for (const fd of theirs.processFds(pid)) {
        try {
          theirs.processFd(fd, pid);
          // processFdinfo rejects fd 0 (it checks fd <= 0); the access mode of fd 0 is then unknown.
          if (fd > 0) theirs.processFdinfo(fd, pid);
          fds++;
        } catch {}
      }
    } catch {}
  }
  return fds;
}

async function time(run: () => unknown, rounds: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await run();
  return Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
}

const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
/** Warm-up scans, interleaved rounds and scans per round. */
const plan = quick ? { warmup: 0, rounds: 1, scans: 1 } : { warmup: 20, rounds: 15, scans: 10 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const pids = (await ours.pids()).length;
  const fds = await scanOurs();
  await time(scanOurs, plan.warmup);
  await time(scanTheirs, plan.warmup);
  const a: number[] = [];
  const b: number[] = [];
  // Interleaved rounds, so machine noise hits both candidates alike.
  for (let i = 0; i < plan.rounds; i++) {
    a.push(await time(scanOurs, plan.scans));
    b.push(await time(scanTheirs, plan.scans));
  }
  const ma = median(a);
  const mb = median(b);
  const of = `median of ${plan.rounds} x ${plan.scans}`;
  if (quick)
    console.log('quick mode: one scan each, to check the bench runs; the numbers mean nothing');
  console.log(`processes: ${pids}, descriptors: ${fds}, node ${process.version}`);
  console.log(`@cryopipe/procfs   ${ma.toFixed(2)} ms per full scan (${of})`);
  console.log(`@stroncium/procfs  ${mb.toFixed(2)} ms per full scan (${of})`);
  console.log(`ratio: @cryopipe/procfs is ${(mb / ma).toFixed(2)}x as fast`);
}

await main();

// Full scan of every process: stat plus every descriptor (target, kind, access mode; position for files).
// Run: pnpm --filter @cryopipe/procfs bench   (as root, so every process is readable)
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const pids = (await ours.pids()).length;
  const fds = await scanOurs();
  await time(scanOurs, 20);
  await time(scanTheirs, 20);
  const a: number[] = [];
  const b: number[] = [];
  // Interleaved rounds, so machine noise hits both candidates alike.
  for (let i = 0; i < 15; i++) {
    a.push(await time(scanOurs, 10));
    b.push(await time(scanTheirs, 10));
  }
  const ma = median(a);
  const mb = median(b);
  console.log(`processes: ${pids}, descriptors: ${fds}, node ${process.version}`);
  console.log(`@cryopipe/procfs   ${ma.toFixed(2)} ms per full scan (median of 15 x 10)`);
  console.log(`@stroncium/procfs  ${mb.toFixed(2)} ms per full scan (median of 15 x 10)`);
  console.log(`ratio: @cryopipe/procfs is ${(mb / ma).toFixed(2)}x as fast`);
}

await main();

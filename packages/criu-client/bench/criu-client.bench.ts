// Side-by-side timings of @cryopipe/criu-client against the raw criu CLI.
// Run as root: pnpm --filter @cryopipe/criu-client bench
// Quick mode (BENCH_QUICK=1, or `bench -- --quick`): a few samples of each, to
// prove the bench still runs (tools/bench/test/benches-quick.test.ts, in CI);
// its numbers mean nothing.
// Candidates alternate within one run so machine noise hits both alike.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CriuClient, findCriu } from '../src/index.ts';

const run = promisify(execFile);
const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
/** Samples per row: open-session requests, spawns, dumps. */
const n = quick ? { version: 20, spawn: 3, dump: 2 } : { version: 500, spawn: 40, dump: 25 };
if (quick)
  console.log('quick mode: a few samples each, to check the bench runs; the numbers mean nothing');
const criu = findCriu();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(ms < 1 ? 3 : 1)} ms`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function report(name: string, ours: number[], theirs?: { name: string; samples: number[] }): void {
  const line = `${name}: median ${fmt(median(ours))} (n=${ours.length})`;
  if (!theirs) {
    console.log(line);
    return;
  }
  const ratio = median(ours) / median(theirs.samples);
  console.log(
    `${line} vs ${theirs.name} ${fmt(median(theirs.samples))} -> ratio ${ratio.toFixed(3)}`,
  );
}

// 1. A request on an already open session.
{
  const client = CriuClient.swrk();
  await client.version();
  const samples: number[] = [];
  for (let i = 0; i < n.version; i++) samples.push(await time(() => client.version()));
  client.close();
  report('VERSION on an open swrk session', samples);
}

// 2. Spawning criu swrk plus one VERSION, against `criu --version`.
{
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < n.spawn; i++) {
    ours.push(
      await time(async () => {
        const client = CriuClient.swrk({ disableBreakpoints: false });
        await client.version();
        client.close();
      }),
    );
    theirs.push(await time(() => run(criu, ['--version'])));
  }
  report('spawn criu swrk + VERSION', ours, { name: '`criu --version`', samples: theirs });
}

// 3. Dump (leave running) of the same kind of tree: client vs `criu dump`.
{
  const dir = mkdtempSync(join(tmpdir(), 'criu-bench-'));
  const tree = spawn('setsid', ['sh', '-c', `yes | gzip -1 > ${join(dir, 'out.gz')}`], {
    stdio: 'ignore',
  });
  const pid = tree.pid!;
  await new Promise((resolve) => setTimeout(resolve, 300));
  const client = CriuClient.swrk({ disableBreakpoints: false });
  await client.version(); // the client checks the version once per client; keep that out of the loop
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let i = 0; i < n.dump; i++) {
      const a = join(dir, `client-${i}`);
      const b = join(dir, `cli-${i}`);
      mkdirSync(a);
      mkdirSync(b);
      ours.push(await time(() => client.dump({ pid, imagesDir: a, leaveRunning: true })));
      theirs.push(
        await time(() =>
          run(criu, ['dump', '-t', String(pid), '-D', b, '-o', 'dump.log', '--leave-running']),
        ),
      );
      rmSync(a, { recursive: true });
      rmSync(b, { recursive: true });
    }
  } finally {
    client.close();
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    for (const p of [...children.map(Number), pid]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
  }
  report('dump --leave-running via client', ours, { name: '`criu dump`', samples: theirs });
}

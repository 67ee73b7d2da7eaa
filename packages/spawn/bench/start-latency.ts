// Start latency of a two-stage pipeline, candidates interleaved round by round
// in one process: cryopipe (plain and PID-namespace mode) vs `sh -c 'a | b'`
// vs execa piping. Every candidate runs `true | true` to completion (sh and
// execa expose no "stages started" moment); the "started" rows time
// spawnPipeline() alone. Same I/O for all: stdout/stderr to /dev/null, as sh
// gets with stdio 'ignore'; one extra row keeps cryopipe's defaults
// (RUNDIR/stdout and RUNDIR/stage-N.stderr files).
// Run: ROUNDS=200 pnpm --filter @cryopipe/spawn bench   (as root for pidns)
// Quick mode (BENCH_QUICK=1, or `bench -- --quick`): 3 rounds, to prove the
// bench still runs (tools/bench/test/benches-quick.test.ts does this in CI);
// its numbers mean nothing.
// RUN_BASE=/dev/shm puts the run directories on tmpfs, to separate the cost
// of creating files on the real file system from everything else; the last
// row times creating one empty file there (cryopipe creates at least four on
// the way to "started": RUNDIR, spec, launcher.log, status).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type PipelineSpec, spawnPipeline } from '../src/index.ts';

const quick = process.env['BENCH_QUICK'] === '1' || process.argv.includes('--quick');
const ROUNDS = Number(process.env['ROUNDS'] ?? (quick ? 3 : 200));
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };
const work = mkdtempSync(join(process.env['RUN_BASE'] ?? tmpdir(), 'cryopipe-bench-'));
let counter = 0;

const SH = 'sh -c "true | true"';
const stages: PipelineSpec['stages'] = [{ argv: ['true'] }, { argv: ['true'] }];
const devNull: PipelineSpec = {
  stages,
  env: ENV,
  stdout: { type: 'null' },
  stderr: { type: 'null' },
};
const defaults: PipelineSpec = { stages, env: ENV };

function shell(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'true | true'], { stdio: 'ignore', env: ENV });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sh exited ${code}`))));
  });
}

async function execaPipe(): Promise<void> {
  await execa('true', { env: ENV, extendEnv: false }).pipe('true', [], {
    env: ENV,
    extendEnv: false,
  });
}

/** Full run; also records the time until spawnPipeline() resolved under `startedName`. */
function cryopipe(spec: PipelineSpec, pidNamespace: boolean, startedName: string) {
  return async (): Promise<void> => {
    const start = process.hrtime.bigint();
    const handle = await spawnPipeline(spec, {
      runDir: join(work, `run-${counter++}`),
      pidNamespace,
    });
    samples.get(startedName)?.push(Number(process.hrtime.bigint() - start) / 1e6);
    await handle.wait();
  };
}

/** Not a pipeline: the file system's price for one new file, measured alongside. */
async function createOneFile(): Promise<void> {
  closeSync(openSync(join(work, `file-${counter++}`), 'wx', 0o600));
}
const CREATE = 'reference: create one empty file in the run-dir file system';

const candidates: [string, () => Promise<void>][] = [
  [SH, shell],
  ['execa true.pipe(true)', execaPipe],
  ['cryopipe plain', cryopipe(devNull, false, 'cryopipe plain: started')],
];
if (process.getuid?.() === 0)
  candidates.push(
    ['cryopipe pidns', cryopipe(devNull, true, 'cryopipe pidns: started')],
    [
      'cryopipe pidns, default output files',
      cryopipe(defaults, true, 'cryopipe pidns, default output files: started'),
    ],
  );

const names = candidates.map(([name]) => name);
for (const [name] of candidates) if (name.startsWith('cryopipe')) names.push(`${name}: started`);
candidates.push([CREATE, createOneFile]);
names.push(CREATE);
const samples = new Map<string, number[]>(names.map((name) => [name, []]));

for (const [, run] of candidates) await run(); // warm up
for (const xs of samples.values()) xs.length = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of candidates) {
    const start = process.hrtime.bigint();
    await run();
    samples.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}
rmSync(work, { recursive: true, force: true });

const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const base = quantile(samples.get(SH)!, 0.5);
if (quick) console.log('quick mode: 3 rounds, to check the bench runs; the numbers mean nothing');
console.log(
  `rounds: ${ROUNDS}, node ${process.version}, run dirs in ${work}, two-stage pipeline (true | true)`,
);
console.log('| candidate | p10 ms | median ms | p90 ms | median vs sh |');
console.log('|---|---|---|---|---|');
for (const [name, xs] of samples) {
  const cells = [0.1, 0.5, 0.9].map((q) => quantile(xs, q).toFixed(2));
  const ratio = name === CREATE ? '' : `${(quantile(xs, 0.5) / base).toFixed(2)}x`;
  console.log(`| ${name.replaceAll('|', '\\|')} | ${cells.join(' | ')} | ${ratio} |`);
}

// Start latency of a two-stage pipeline, candidates interleaved in one run:
//   cryopipe (pidns and plain) vs `sh -c 'a | b'` vs execa piping.
// "Start" = until both stages are running the command (cryopipe: spawnPipeline
// resolves; sh/execa: until the pipeline finishes, since they expose no
// "started" event — so we also time a full run of a trivial pipeline for all).
// Run: pnpm --filter @cryopipe/spawn bench   (as root for the pidns candidate)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { spawnPipeline } from '../src/index.ts';

const ROUNDS = Number(process.env['ROUNDS'] ?? 200);
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };
const work = mkdtempSync(join(tmpdir(), 'cryopipe-bench-'));
let counter = 0;
/** spawnPipeline() until it resolves (stages started), per mode. */
const startOnly = new Map<boolean, number[]>([
  [false, []],
  [true, []],
]);

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

async function cryopipe(pidNamespace: boolean): Promise<void> {
  const runDir = join(work, `run-${counter++}`);
  const start = process.hrtime.bigint();
  const handle = await spawnPipeline(
    { stages: [{ argv: ['true'] }, { argv: ['true'] }], env: ENV },
    { runDir, pidNamespace },
  );
  startOnly.get(pidNamespace)!.push(Number(process.hrtime.bigint() - start) / 1e6);
  await handle.wait();
}

const candidates: [string, () => Promise<void>][] = [
  ['sh -c "true | true"', shell],
  ['execa true.pipe(true)', execaPipe],
  ['cryopipe plain', () => cryopipe(false)],
];
if (process.getuid?.() === 0) candidates.push(['cryopipe pidns', () => cryopipe(true)]);

const samples = new Map<string, number[]>(candidates.map(([name]) => [name, []]));
for (const [, run] of candidates) await run(); // warm up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of candidates) {
    const start = process.hrtime.bigint();
    await run();
    samples.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
}
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
const base = median(samples.get('sh -c "true | true"')!);
console.log(
  `rounds: ${ROUNDS}, node ${process.version}, full run of a two-stage pipeline (true | true)`,
);
console.log('| candidate | median ms | p90 ms | median vs sh |');
console.log('|---|---|---|---|');
for (const [name, xs] of samples)
  console.log(
    `| ${name} | ${median(xs).toFixed(2)} | ${p90(xs).toFixed(2)} | ${(median(xs) / base).toFixed(2)}x |`,
  );
for (const [pidns, xs] of startOnly)
  if (xs.length > 0)
    console.log(
      `| cryopipe ${pidns ? 'pidns' : 'plain'}: spawnPipeline() resolved (stages started) | ${median(xs).toFixed(2)} | ${p90(xs).toFixed(2)} | ${(median(xs) / base).toFixed(2)}x |`,
    );

/**
 * What each command costs before it does anything: Node's own start
 * (`node -e ''`) against `cryopipe --version`, `--help`, `ps` with 10
 * jobs, `logs`, `wait` and `restore --help` (the engine's modules with
 * criu-client, which every checkpoint and restore loads), alternating, and which packages each one loads (through the modules
 * Node opened: strace when present). Target (issue 20): `ps` ≤ 2× `node -e ''`.
 *
 *   pnpm --filter @cryopipe/bench exec tsx src/startup.bench.ts   (ROUNDS=N)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, median, run } from './measure.ts';

// BENCH_QUICK=1: one round, 3 jobs (the CI smoke run, test/benches-quick.test.ts).
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 20));
const JOBS = QUICK ? 3 : 10;
const cliPath = join(import.meta.dirname, '../../../packages/cli/dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'cryopipe-startup-'));
const env = { ...process.env, CRYOPIPE_HOME: join(work, 'home'), NO_COLOR: '1' };
const candidates: [string, string[]][] = [
  ["node -e ''", ['-e', '']],
  ['cryopipe --version', [cliPath, '--version']],
  ['cryopipe --help', [cliPath, '--help']],
  [`cryopipe ps (${JOBS} jobs)`, [cliPath, 'ps']],
  ['cryopipe logs j0', [cliPath, 'logs', 'j0']],
  ['cryopipe wait j0', [cliPath, 'wait', 'j0']],
  // What checkpoint, restore and the other engine commands load before they work.
  ['cryopipe restore --help', [cliPath, 'restore', '--help']],
];

/** The packages whose modules a command opens (from strace's openat lines). */
function packagesLoaded(args: string[]): string {
  const r = spawnSync('strace', ['-f', '-e', 'trace=openat', process.execPath, ...args], {
    env,
    encoding: 'utf8',
  });
  if (r.error) return '(strace not installed)';
  const seen = new Map<string, number>();
  for (const m of r.stderr.matchAll(/"([^"]+\.js)"/g)) {
    if (/ENOENT/.test(m.input!.slice(m.index!, r.stderr.indexOf('\n', m.index!)))) continue;
    const path = m[1]!;
    const name =
      path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/)?.[1] ??
      path.match(/packages\/([^/]+)\/dist\//)?.[1]?.replace(/^/, '@cryopipe/') ??
      path;
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  return [...seen].map(([n, c]) => `${n} (${c})`).join(', ');
}

try {
  for (let i = 0; i < JOBS; i++)
    run(process.execPath, [cliPath, 'run', '--name', `j${i}`, '--', 'true'], env);
  const times = new Map<string, number[]>(candidates.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, args] of candidates) {
      const t0 = performance.now();
      run(process.execPath, args, env);
      times.get(name)!.push(performance.now() - t0);
    }
  }
  console.log(
    `machine: ${machine()}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(`${ROUNDS} rounds, candidates alternating, medians`);
  const base = median(times.get("node -e ''")!);
  for (const [name, args] of candidates) {
    const m = median(times.get(name)!);
    console.log(`  ${name.padEnd(24)} ${m.toFixed(0).padStart(5)} ms  ${(m / base).toFixed(2)}×`);
    if (name !== "node -e ''") console.log(`    loads: ${packagesLoaded(args)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

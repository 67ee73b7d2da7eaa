/**
 * Issue 20's table: whole cryopipe commands against raw criu as the job's
 * memory grows (default 256 MiB, 1 GiB, 4 GiB; QUICK=1: 64 and 128 MiB).
 * For each size, one job (python3 holding N MiB of touched memory, started
 * with `cryopipe run`, so PID 1 of its own PID namespace) and, alternating
 * per round, with `sync` before each candidate and one image set on disk
 * at a time:
 *   - `cryopipe checkpoint --leave-running` vs `criu dump --leave-running`
 *     (whole command; frozen time from each one's criu stats)
 *   - `cryopipe restore` vs `criu restore -d --pidfile` from the same size
 *     of images (the raw copy is killed through its pidfile: its root is
 *     PID 1 of its PID namespace, so that ends the whole copy)
 * cryopipe's checkpoint returns when criu is done and leaves the content
 * hashes to a detached low-priority sealer: after each cryopipe checkpoint
 * the benchmark waits (untimed) until that sealer has finished, so it never
 * competes with the next candidate, and reports how long sealing took.
 * The limit is the disk itself: dd writing N MiB with conv=fsync and reading
 * it back with iflag=direct.
 *
 *   pnpm --filter @cryopipe/bench exec tsx src/scale.bench.ts   (root; SIZES=256,1024 ROUNDS=3 QUICK=1)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readStats } from '../../../packages/criu-client/src/stats.ts';
import { waitForSealer } from '../../../packages/jobs/src/integrity/seal.ts';
import { machine, median, run } from './measure.ts';

const QUICK = process.env.QUICK === '1';
// BENCH_QUICK=1: one 32 MiB job, one round (the CI smoke run, test/benches-quick.test.ts).
const SMOKE = process.env.BENCH_QUICK === '1';
const SIZES = (process.env.SIZES ?? (SMOKE ? '32' : QUICK ? '64,128' : '256,1024,4096'))
  .split(',')
  .map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK || SMOKE ? 1 : 3));
const cliPath = join(import.meta.dirname, '../../../packages/cli/dist/cli.js');
const work = mkdtempSync(join('/var/tmp', 'cryopipe-scale-'));
const env = { ...process.env, CRYOPIPE_HOME: join(work, 'home'), NO_COLOR: '1' };
const cli = (...args: string[]) => run(process.execPath, [cliPath, ...args], env);
const cliJson = <T>(command: string, ...args: string[]) =>
  JSON.parse(cli(command, '--json', ...args)) as T;
const sync = () => execFileSync('sync');
const timed = (action: () => void) => {
  const t0 = performance.now();
  action();
  return performance.now() - t0;
};
const kill = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
};
const ms = (n: number) => `${n.toFixed(0)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

interface Stats {
  freezingTimeUs: number;
  frozenTimeUs: number;
  memdumpTimeUs: number;
  memwriteTimeUs: number;
}
interface Phases {
  freezing: number;
  memdump: number;
  memwrite: number;
  /** The rest of criu's frozen time (collecting the tree's state, the small images, notify round trips). */
  other: number;
  hook?: number;
}
const phases = (s: Stats, hookMs?: number): Phases => {
  const [freezing, memdump, memwrite] = [s.freezingTimeUs, s.memdumpTimeUs, s.memwriteTimeUs].map(
    (us) => us / 1000,
  ) as [number, number, number];
  // memwrite is part of memdump (criu times xfer_pages inside its memory dump).
  const other = s.frozenTimeUs / 1000 - freezing - memdump - (hookMs ?? 0);
  return { freezing, memdump, memwrite, other, ...(hookMs !== undefined ? { hook: hookMs } : {}) };
};
const describePhases = (all: Phases[]) => {
  const of = (k: keyof Phases) => median(all.map((p) => p[k] ?? Number.NaN)).toFixed(0);
  const hook = all.some((p) => p.hook !== undefined) ? `, cryopipe's hook ${of('hook')}` : '';
  return `freezing ${of('freezing')}, memdump ${of('memdump')} (of which memwrite ${of('memwrite')})${hook}, rest ${of('other')} ms`;
};
const breakdown: string[] = [];

/** MiB/s of dd writing `mib` MiB to the images' disk (fsync'ed), then reading it back uncached. */
function diskBandwidth(mib: number): { write: number; read: number } {
  const file = join(work, 'dd.bin');
  sync();
  const w = timed(() =>
    run('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, 'conv=fsync']),
  );
  const r = timed(() => run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'iflag=direct']));
  rmSync(file);
  return { write: (mib / w) * 1000, read: (mib / r) * 1000 };
}

async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++)
    await new Promise((r) => setTimeout(r, 50));
}

const started: string[] = [];
/** Per size: how long the background sealer took after the command returned (median). */
const sealing: string[] = [];
const rawCopies: number[] = [];

async function measure(mib: number): Promise<string[]> {
  const raw = join(work, 'raw');
  started.push(`big${mib}`);
  const { id } = cliJson<{ id: string }>(
    'run',
    '--name',
    `big${mib}`,
    '--',
    'python3',
    '-c',
    `import time; x=bytearray(${mib}<<20); x[::4096]=b'x'*len(x[::4096]); time.sleep(10**6)`,
  );
  const name = `big${mib}`;
  // Wait until the memory is touched: RSS of the tree reaches the size.
  for (let i = 0; i < 600; i++) {
    const rss = Number(
      execFileSync(
        'sh',
        [
          '-c',
          `ps -eo rss,args | grep -F "bytearray(${mib}<<20)" | grep -v grep | awk '{s+=$1} END {print s+0}'`,
        ],
        {
          encoding: 'utf8',
        },
      ),
    );
    if (rss >= mib * 1024 * 0.95) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const rootPid = cliJson<{ id: string; rootPid: number }[]>('ps').find(
    (j) => j.id === id,
  )!.rootPid;
  const cp = {
    ours: [] as number[],
    raw: [] as number[],
    oursFrozen: [] as number[],
    rawFrozen: [] as number[],
    /** Where each candidate's frozen time went: criu's phases, and our hook. */
    oursPhases: [] as Phases[],
    rawPhases: [] as Phases[],
    sealed: [] as number[],
  };
  /** Untimed: the background sealer of checkpoint n must not run into the next candidate. */
  const sealedAfter = async (n: number) => {
    const t0 = performance.now();
    if (!(await waitForSealer(cpDir(n), 30 * 60_000)))
      throw new Error(`checkpoint ${n} never sealed`);
    cp.sealed.push(performance.now() - t0);
  };
  const cpDir = (n: number) => join(env.CRYOPIPE_HOME, 'jobs', id, 'checkpoints', String(n));
  let last = 0;
  for (let r = 0; r < ROUNDS; r++) {
    rmSync(raw, { recursive: true, force: true });
    if (last) rmSync(cpDir(last), { recursive: true, force: true });
    sync();
    let out: { checkpoint: number; frozenMs: number; hookMs?: number; stats?: Stats } | undefined;
    cp.ours.push(timed(() => (out = cliJson('checkpoint', name, '--leave-running'))));
    last = out!.checkpoint;
    cp.oursFrozen.push(out!.frozenMs);
    if (out!.stats) cp.oursPhases.push(phases(out!.stats, out!.hookMs));
    await sealedAfter(last);
    rmSync(cpDir(last), { recursive: true, force: true });
    mkdirSync(raw);
    sync();
    cp.raw.push(
      timed(() =>
        run('criu', [
          'dump',
          '-t',
          String(rootPid),
          '-D',
          raw,
          '--leave-running',
          '-o',
          'dump.log',
        ]),
      ),
    );
    const rawStats = (await readStats(raw, 'dump')).dump!;
    cp.rawFrozen.push(rawStats.frozenTimeUs / 1000);
    cp.rawPhases.push(phases(rawStats));
    if (r < ROUNDS - 1) continue;
    // The last round keeps both image sets: the restores start from them.
    rmSync(raw, { recursive: true, force: true });
    mkdirSync(raw);
    run('criu', ['dump', '-t', String(rootPid), '-D', raw, '--leave-running', '-o', 'dump.log']);
    last = cliJson<{ checkpoint: number }>('checkpoint', name, '--leave-running').checkpoint;
    await sealedAfter(last);
  }
  cli('kill', name, '-s', 'KILL');
  await gone(rootPid);
  const rs = { ours: [] as number[], raw: [] as number[], verified: new Set<string>() };
  for (let r = 0; r < ROUNDS; r++) {
    sync();
    let pid = 0;
    rs.ours.push(
      timed(() => {
        const o = cliJson<{ rootPid: number; verified?: string }>('restore', name);
        pid = o.rootPid;
        rs.verified.add(o.verified ?? 'content');
      }),
    );
    cli('kill', name, '-s', 'KILL');
    await gone(pid);
    const pidfile = join(work, 'raw.pid');
    rmSync(pidfile, { force: true });
    sync();
    rs.raw.push(
      timed(() =>
        run('criu', ['restore', '-D', raw, '-d', '--pidfile', pidfile, '-o', 'restore.log']),
      ),
    );
    const rawPid = Number(readFileSync(pidfile, 'utf8'));
    rawCopies.push(rawPid);
    kill(rawPid);
    await gone(rawPid);
  }
  const imageMiB = Number(execFileSync('du', ['-sm', raw], { encoding: 'utf8' }).split('\t')[0]);
  rmSync(raw, { recursive: true, force: true });
  try {
    cli('rm', name);
  } catch {
    // Still settling after the kill: the work directory goes at the end anyway.
  }
  const disk = diskBandwidth(mib);
  const a = median(cp.ours);
  const b = median(cp.raw);
  const c = median(rs.ours);
  const d = median(rs.raw);
  sealing.push(`${mib} MiB: ${ms(median(cp.sealed))}`);
  breakdown.push(
    `${mib} MiB: cryopipe ${describePhases(cp.oursPhases)}; criu ${describePhases(cp.rawPhases)}`,
  );
  return [
    `| ${mib} MiB | ${ms(a)} vs ${ms(b)} (${ratio(a, b)}, +${ms(a - b)}) | ${median(cp.oursFrozen).toFixed(0)} vs ${median(cp.rawFrozen).toFixed(0)} ms (${ratio(median(cp.oursFrozen), median(cp.rawFrozen))}) | ${ms(c)} vs ${ms(d)} (${ratio(c, d)}, +${ms(c - d)}), verified by ${[...rs.verified].join('/')} | ${disk.write.toFixed(0)} / ${disk.read.toFixed(0)} MiB/s (${ms((imageMiB / disk.write) * 1000)} / ${ms((imageMiB / disk.read) * 1000)}) |`,
  ];
}

try {
  console.log(
    `machine: ${machine()}; load at start ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(`${ROUNDS} rounds per size, candidates alternating, sync before each, medians`);
  console.log('');
  console.log(
    '| job | `checkpoint --leave-running` vs `criu dump --leave-running` | frozen (criu stats) cryopipe vs criu | `restore` vs `criu restore -d` | disk write / read (dd; time for the job size) |',
  );
  console.log('|---|---|---|---|---|');
  for (const mib of SIZES) for (const row of await measure(mib)) console.log(row);
  console.log('');
  console.log(`frozen time by phase (criu stats; medians): ${breakdown.join('; ')}`);
  console.log(
    `background sealing after cryopipe's checkpoint returned (waited for, untimed, before the next candidate): ${sealing.join(', ')}`,
  );
  console.log(
    `load at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  for (const pid of rawCopies) kill(pid);
  for (const name of started)
    spawnSync(process.execPath, [cliPath, 'kill', name, '-s', 'KILL'], { env, stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}

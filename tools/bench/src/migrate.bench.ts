/**
 * Downtime of moving a running job between two "hosts" (network namespaces
 * joined by a veth, one sshd each: tools/testkit two-hosts.ts), side by side
 * in one run, candidates alternating each round:
 *   - `cryopipe migrate` (criu page server on the destination, reached
 *     through the SSH connection's port forward);
 *   - `cryopipe migrate --via-archive` (export → stream → import → restore);
 *   - raw criu: `criu page-server` on the destination, `criu dump
 *     --page-server` over plain TCP, the small images copied, `criu restore -d`
 *     (no job store, no encryption: the floor).
 * The link's bandwidth is measured in the same run: plain TCP over the veth,
 * and through ssh with the cipher migrate asks for.
 *
 *   pnpm --filter @cryopipe/bench exec tsx src/migrate.bench.ts   (root; SIZES=200,1024 ROUNDS=3)
 *
 * BENCH_QUICK=1: a 16 MiB job, one round, a 32 MiB link test (the CI smoke run).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Host, killJobRoot, twoHosts } from '@cryopipe/testkit';
import { machine, median } from './measure.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const SIZES = (process.env.SIZES ?? (QUICK ? '16' : '200,1024')).split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 3));
const LINK_TEST_MIB = QUICK ? 32 : 256;
const cliPath = join(import.meta.dirname, '../../../packages/cli/dist/cli.js');
const remote = `${process.execPath} ${cliPath}`;
const CIPHERS =
  'Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com';

const hosts = await twoHosts();

function on(host: Host, cmd: string, args: string[], input?: string): string {
  const r = spawnSync(host.enter[0]!, [...host.enter.slice(1), cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...host.env, NO_COLOR: '1' },
    maxBuffer: 64 << 20,
    ...(input !== undefined ? { input } : {}),
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}
const cryopipe = (host: Host, ...args: string[]) => on(host, process.execPath, [cliPath, ...args]);

/** A job holding `mib` MiB of resident memory, started on A; resolves with its root pid. */
async function startJob(mib: number): Promise<{ id: string; rootPid: number }> {
  const job = JSON.parse(
    cryopipe(
      hosts.a,
      'run',
      '--json',
      '--',
      'python3',
      '-c',
      `import time; x = bytearray(${mib} << 20); x[::4096] = b"x" * len(x[::4096]); time.sleep(10**6)`,
    ),
  ) as { id: string; rootPid: number };
  // Until its memory is resident (python writes it first).
  await new Promise((r) => setTimeout(r, 1500 + mib * 5));
  return job;
}

/** Kills whatever runs of `id` on `host` and forgets it there. */
function discard(host: Host, id: string): void {
  try {
    const jobs = JSON.parse(cryopipe(host, 'ps', '--json')) as { id: string; rootPid?: number }[];
    // Only a pid that is still this job's launcher: a migrated job's recorded pid
    // can belong to anyone by now (a blind group kill here once took down shells).
    for (const j of jobs.filter((j) => j.id === id)) killJobRoot(j.rootPid, j.id);
    spawnSync(host.enter[0]!, [...host.enter.slice(1), process.execPath, cliPath, 'rm', id], {
      env: { ...process.env, ...host.env },
    });
  } catch {
    // Nothing there.
  }
}

function migrateDowntime(mib: number, viaArchive: boolean) {
  return async () => {
    const job = await startJob(mib);
    const out = JSON.parse(
      cryopipe(
        hosts.a,
        'migrate',
        job.id,
        hosts.b.dest,
        '--remote-cryopipe',
        remote,
        ...hosts.b.sshArgs,
        '--json',
        ...(viaArchive ? ['--via-archive'] : []),
      ),
    ) as { downtime: { totalMs: number; frozenMs: number; transferMs: number; restoreMs: number } };
    discard(hosts.b, job.id);
    discard(hosts.a, job.id);
    return out.downtime;
  };
}

function rawCriu(mib: number) {
  return async () => {
    const job = await startJob(mib);
    const dir = join(hosts.dir, `raw-${Date.now()}`);
    const [src, dst] = [join(dir, 'a'), join(dir, 'b')];
    mkdirSync(src, { recursive: true });
    mkdirSync(dst, { recursive: true });
    const port = String(30000 + Math.floor(Math.random() * 20000));
    // -d: criu daemonizes once it listens; it must not hold our pipes open.
    const args = ['page-server', '-D', dst, '--address', hosts.b.address, '--port', port, '-d'];
    const served = spawnSync(hosts.b.enter[0]!, [...hosts.b.enter.slice(1), 'criu', ...args], {
      stdio: 'ignore',
    });
    if (served.status !== 0) throw new Error(`criu page-server exited ${served.status}`);
    const t0 = performance.now();
    on(hosts.a, 'criu', [
      'dump',
      '-t',
      String(job.rootPid),
      '-D',
      src,
      '--page-server',
      '--address',
      hosts.b.address,
      '--port',
      port,
    ]);
    const dumped = performance.now();
    for (const f of readdirSync(src)) execFileSync('cp', [join(src, f), join(dst, f)]);
    const copied = performance.now();
    on(hosts.b, 'criu', ['restore', '-D', dst, '-d', '--pidfile', join(dst, 'pid')]);
    const t1 = performance.now();
    spawnSync('kill', ['-KILL', readFileSync(join(dst, 'pid'), 'utf8').trim()]);
    discard(hosts.a, job.id);
    rmSync(dir, { recursive: true, force: true });
    return {
      totalMs: t1 - t0,
      frozenMs: dumped - t0,
      transferMs: copied - dumped,
      restoreMs: t1 - copied,
    };
  };
}

/** MiB/s over plain TCP on the veth (python3 on both ends) and through ssh with migrate's cipher choice. */
async function bandwidth(mib: number): Promise<{ tcp: number; ssh: number }> {
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = `import socket
s = socket.socket(socket.AF_INET6); s.bind(('${hosts.b.address}', ${port})); s.listen(1)
c, _ = s.accept()
while c.recv(1 << 20): pass
c.close()`;
  const listener = spawn(hosts.b.enter[0]!, [...hosts.b.enter.slice(1), 'python3', '-c', server], {
    stdio: 'ignore',
  });
  const served = new Promise((r) => listener.once('exit', r));
  await new Promise((r) => setTimeout(r, 500));
  const client = `import socket, time
c = socket.create_connection(('${hosts.b.address}', ${port}))
buf = bytes(1 << 20); t0 = time.monotonic()
for _ in range(${mib}): c.sendall(buf)
c.shutdown(socket.SHUT_WR); c.recv(1); print(time.monotonic() - t0)`;
  const tcpS = Number(on(hosts.a, 'python3', ['-c', client]).trim());
  // Through ssh, without its connection set-up: the time for no bytes is taken off.
  const viaSsh = (bytes: number) => {
    const t0 = performance.now();
    execFileSync('sh', [
      '-c',
      `head -c ${bytes} /dev/zero | ${hosts.a.enter.join(' ')} ssh ${hosts.b.sshArgs.join(' ')} -o ${CIPHERS} -o Compression=no ${hosts.b.dest} 'cat > /dev/null'`,
    ]);
    return performance.now() - t0;
  };
  const sshS = Math.max(1, viaSsh(mib << 20) - median([viaSsh(0), viaSsh(0), viaSsh(0)])) / 1000;
  await served;
  return { tcp: mib / tcpS, ssh: mib / sshS };
}

const ms = (n: number) => `${n.toFixed(0)} ms`;
try {
  console.log(`machine: ${machine()}; ${ROUNDS} rounds, candidates alternating`);
  const bw = await bandwidth(LINK_TEST_MIB);
  console.log(
    `link (veth between two network namespaces), ${LINK_TEST_MIB} MiB: plain TCP ${bw.tcp.toFixed(0)} MiB/s, ssh (${CIPHERS.split('=')[1]!.split(',')[0]}) ${bw.ssh.toFixed(0)} MiB/s`,
  );
  for (const mib of SIZES) {
    const candidates = [
      { name: 'cryopipe migrate', run: migrateDowntime(mib, false), got: [] as Downtime[] },
      {
        name: 'cryopipe migrate --via-archive',
        run: migrateDowntime(mib, true),
        got: [] as Downtime[],
      },
      { name: 'raw criu page-server', run: rawCriu(mib), got: [] as Downtime[] },
    ];
    for (let round = 0; round < ROUNDS; round++)
      for (const c of candidates) c.got.push(await c.run());
    console.log(
      `\ndowntime moving a ${mib} MiB job A→B, median of ${ROUNDS} (frozen / transfer / restore):`,
    );
    for (const c of candidates) {
      const m = (k: keyof Downtime) => median(c.got.map((d) => d[k]));
      console.log(
        `  ${c.name.padEnd(31)} ${ms(m('totalMs')).padStart(8)}  (${ms(m('frozenMs'))} / ${ms(m('transferMs'))} / ${ms(m('restoreMs'))})`,
      );
    }
    const ratio =
      median(candidates[0]!.got.map((d) => d.totalMs)) /
      median(candidates[2]!.got.map((d) => d.totalMs));
    console.log(`  migrate vs raw criu: ratio ${ratio.toFixed(2)}×`);
  }
} finally {
  await hosts.close();
}

interface Downtime {
  totalMs: number;
  frozenMs: number;
  transferMs: number;
  restoreMs: number;
}

// An arm64 Node to run under qemu-user: Debian 12's own nodejs and the
// libraries it needs, downloaded with apt-get into a private state directory
// (the system's apt configuration and dpkg database are not touched: no
// `dpkg --add-architecture`) and unpacked into a sysroot that qemu uses as
// its library prefix (QEMU_LD_PREFIX). Cached under $CRYOPIPE_CACHE
// (default /var/cache/cryopipe), so the download happens once per machine.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES = [
  'nodejs',
  'libnode108',
  'node-acorn',
  'node-cjs-module-lexer',
  'node-undici',
  'libc6',
  'libgcc-s1',
  'libstdc++6',
  'libbrotli1',
  'libc-ares2',
  'libicu72',
  'libnghttp2-14',
  'libssl3',
  'libuv1',
  'zlib1g',
];

/** The sysroot holding usr/bin/node for arm64; downloads it on first use. */
export function arm64NodeRoot(): string {
  const cache = join(process.env.CRYOPIPE_CACHE ?? '/var/cache/cryopipe', 'arm64-node');
  const root = join(cache, 'root');
  if (existsSync(join(root, 'usr/bin/node'))) return root;
  const state = join(cache, 'apt');
  const debs = join(cache, 'debs');
  for (const d of [join(state, 'lists/partial'), join(state, 'cache/archives/partial'), debs])
    mkdirSync(d, { recursive: true });
  execFileSync('touch', [join(state, 'status')]);
  const apt = [
    '-q',
    '-o',
    'APT::Architecture=arm64',
    '-o',
    'APT::Architectures=arm64',
    '-o',
    `Dir::State::Lists=${join(state, 'lists')}`,
    '-o',
    `Dir::Cache=${join(state, 'cache')}`,
    '-o',
    `Dir::State::status=${join(state, 'status')}`,
  ];
  try {
    execFileSync('apt-get', [...apt, 'update'], { stdio: 'pipe', timeout: 300_000 });
    execFileSync('apt-get', [...apt, 'download', ...PACKAGES], {
      cwd: debs,
      stdio: 'pipe',
      timeout: 300_000,
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(
      `could not download Debian's arm64 nodejs into ${cache} (needs the Debian archive): ` +
        `${e.stderr?.toString() || e.message}`,
    );
  }
  const partial = `${root}.partial`;
  rmSync(partial, { recursive: true, force: true });
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb')))
    execFileSync('dpkg-deb', ['-x', join(debs, deb), partial]);
  renameSync(partial, root);
  return root;
}

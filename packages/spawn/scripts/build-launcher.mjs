// Builds native/launcher.c (with keeper.c, its --keep mode) into dist/bin/linux-<arch>/cryopipe-launch, static.
// musl-gcc gives a ~80 KB binary; static glibc is the fallback when musl is absent.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['launcher.c', 'keeper.c'].map((f) => join(pkg, 'native', f));
const out = join(pkg, 'dist', 'bin', `linux-${process.arch}`, 'cryopipe-launch');
const flags = ['-static', '-Os', '-Wall', '-Wextra', '-Werror', '-o', out, ...sources];

function has(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const compiler = has('musl-gcc') ? 'musl-gcc' : has('gcc') ? 'gcc' : undefined;
if (!compiler) {
  console.error(
    'build-launcher: neither musl-gcc nor gcc found; install musl-tools or build-essential',
  );
  process.exit(1);
}
mkdirSync(dirname(out), { recursive: true });
execFileSync(compiler, flags, { stdio: 'inherit' });
if (compiler === 'gcc') execFileSync('strip', [out]);
chmodSync(out, 0o755);
if (!process.argv.includes('--quiet')) console.log(`build-launcher: ${compiler} -> ${out}`);

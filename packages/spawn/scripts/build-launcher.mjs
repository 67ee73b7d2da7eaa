// Builds native/launcher.c (with keeper.c, its --keep mode, and status.c, the
// status writer both share) into dist/bin/linux-<arch>/cryopipe-launch, static.
// musl-gcc gives a ~80 KB binary; static glibc is the fallback when musl is absent.
//
// The facts the launcher shares with the TypeScript side (limits, the default
// PATH, RUN_DIR_FD, the spec header) are read from src/facts.json, the one place
// they are written, and passed as -D flags; native/facts.h names them.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['launcher.c', 'keeper.c', 'status.c'].map((f) => join(pkg, 'native', f));
const out = join(pkg, 'dist', 'bin', `linux-${process.arch}`, 'cryopipe-launch');

/** A -D flag: numbers as they are, strings as C string literals (printable ASCII only). */
function define(name, value) {
  if (Number.isInteger(value)) return `-D${name}=${value}`;
  if (typeof value === 'string' && /^[\x20-\x7e]*$/.test(value) && !/["\\]/.test(value))
    return `-D${name}="${value}"`;
  throw new Error(`build-launcher: ${name} must be an integer or a plain string, not ${value}`);
}

const facts = JSON.parse(readFileSync(join(pkg, 'src', 'facts.json'), 'utf8'));
const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
const defines = [
  define('FACT_VERSION', version),
  define('FACT_SPEC_HEADER', facts.specHeader),
  define('FACT_MAX_STAGES', facts.maxStages),
  define('FACT_MAX_FDS_PER_STAGE', facts.maxFdsPerStage),
  define('FACT_MAX_FD', facts.maxFd),
  define('FACT_MAX_PIPES', facts.maxPipes),
  define('FACT_RUN_DIR_FD', facts.runDirFd),
  define('FACT_DEFAULT_PATH', facts.defaultPath),
];
const flags = ['-static', '-Os', '-Wall', '-Wextra', '-Werror', ...defines, '-o', out, ...sources];

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

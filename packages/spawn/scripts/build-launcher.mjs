// Builds native/launcher.c (with keeper.c, its --keep mode, and status.c, the
// status writer both share) into dist/bin/linux-<arch>/cryopipe-launch, static
// and stripped, for every architecture in scripts/targets.mjs (x64 and arm64)
// from whatever Linux host runs it. x64: musl-gcc gives a ~75 KB binary, static
// glibc is the fallback; arm64: Debian's aarch64-linux-gnu-gcc, static glibc.
//
//   node scripts/build-launcher.mjs               every target (CI=true: all required)
//   node scripts/build-launcher.mjs --arch arm64  only these targets
//   node scripts/build-launcher.mjs --check       build nothing; fail unless every
//                                                 target's binary is present (prepack)
//
// Outside CI a target whose cross toolchain is missing is skipped with a
// warning, so a laptop without cross compilers still builds its own launcher;
// `pnpm pack` refuses to pack a package missing one (the prepack --check).
//
// The facts the launcher shares with the TypeScript side (limits, the default
// PATH, RUN_DIR_FD, the spec header) are read from src/facts.json, the one place
// they are written, and passed as -D flags; native/facts.h names them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crossBuild } from '../../../scripts/cross-build.mjs';
import { TARGETS } from './targets.mjs';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['launcher.c', 'keeper.c', 'status.c'].map((f) => join(pkg, 'native', f));
const outFor = (arch) => join(pkg, 'dist', 'bin', `linux-${arch}`, 'cryopipe-launch');

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
crossBuild({
  tool: 'build-launcher',
  what: 'launcher',
  targets: TARGETS,
  arches: process.env.CRYOPIPE_ARCHES,
  outFor,
  compile: (cc, out) =>
    execFileSync(
      cc,
      ['-static', '-Os', '-Wall', '-Wextra', '-Werror', ...defines, '-o', out, ...sources],
      {
        stdio: 'inherit',
      },
    ),
  stripFlags: ['--strip-all'],
  mode: 0o755,
});

// Compiles native/seqpacket.c into dist/native/seqpacket-linux-<arch>.node for
// every shipped architecture (x64 and arm64), from whatever Linux host runs it,
// with Debian's C compilers (the native `cc`, or gcc-aarch64-linux-gnu /
// gcc-x86-64-linux-gnu as cross compilers), then strips it. Needs only Node's
// headers, which are the same on every architecture (Debian's nodejs and the
// nodesource packages put them in <prefix>/include/node): no node-gyp, no
// network. Run after tsup, whose `clean` empties dist/.
//
//   node scripts/build-native.mjs               every target (CI=true: all required)
//   node scripts/build-native.mjs --arch arm64  only these targets
//   node scripts/build-native.mjs --check       build nothing; fail unless every
//                                               target's addon is present (prepack)
//
// The addon links dynamically against glibc (it is loaded into Node, which on
// musl systems such as Alpine is itself musl-linked: that is not supported).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageDir, 'native', 'seqpacket.c');
const outDir = join(packageDir, 'dist', 'native');
const outFor = (arch) => join(outDir, `seqpacket-linux-${arch}.node`);

/** ELF e_machine of each architecture (elf.h: EM_X86_64, EM_AARCH64). */
const ELF_MACHINE = { x64: 62, arm64: 183 };
const TARGETS = [
  {
    arch: 'x64',
    toolchains: [
      { cc: process.env.CC ?? 'cc', strip: 'strip', host: 'x64' },
      { cc: 'x86_64-linux-gnu-gcc', strip: 'x86_64-linux-gnu-strip' },
    ],
    debian: 'build-essential (or gcc-x86-64-linux-gnu on another host)',
  },
  {
    arch: 'arm64',
    toolchains: [
      { cc: 'aarch64-linux-gnu-gcc', strip: 'aarch64-linux-gnu-strip' },
      { cc: process.env.CC ?? 'cc', strip: 'strip', host: 'arm64' },
    ],
    debian: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
];

function has(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function elfMachine(buffer) {
  if (buffer.length < 20 || buffer.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return buffer[5] === 2 ? buffer.readUInt16BE(18) : buffer.readUInt16LE(18);
}

function selectedTargets() {
  const i = process.argv.indexOf('--arch');
  const list = i >= 0 ? process.argv[i + 1] : process.env.CRYOPIPE_ARCHES;
  if (!list) return TARGETS;
  const wanted = list.split(',').map((s) => s.trim());
  const unknown = wanted.filter((arch) => !TARGETS.some((t) => t.arch === arch));
  if (unknown.length > 0)
    throw new Error(`unknown arch ${unknown.join(', ')}; supported: x64, arm64`);
  return TARGETS.filter((t) => wanted.includes(t.arch));
}

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) {
    throw new Error(
      `node_api.h not found (looked in ${candidates.join(', ')}); install Node's headers ` +
        '(Debian: the nodejs package ships them) or set npm_config_nodedir',
    );
  }
  return found;
}

const targets = selectedTargets();
if (process.argv.includes('--check')) {
  const bad = targets.filter((t) => {
    const out = outFor(t.arch);
    return !existsSync(out) || elfMachine(readFileSync(out)) !== ELF_MACHINE[t.arch];
  });
  if (bad.length > 0) {
    console.error(
      `build-native: missing or wrong addon for ${bad.map((t) => `linux-${t.arch}`).join(', ')}; ` +
        `install ${bad.map((t) => t.debian).join(' ')} (scripts/setup.sh does) and run \`pnpm build\``,
    );
    process.exit(1);
  }
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
const headers = nodeHeaders();
let failed = false;
for (const target of targets) {
  const toolchain = target.toolchains.find(
    (t) => (t.host === undefined || t.host === process.arch) && has(t.cc) && has(t.strip),
  );
  if (!toolchain) {
    const required = target.arch === process.arch || process.env.CI === 'true';
    console.error(
      `build-native: ${required ? 'error' : 'warning'}: no C compiler for linux-${target.arch} ` +
        `(tried ${target.toolchains.map((t) => t.cc).join(', ')}); install ${target.debian}` +
        (required ? '' : '; skipped (required when CI=true)'),
    );
    if (required) failed = true;
    continue;
  }
  const output = outFor(target.arch);
  execFileSync(
    toolchain.cc,
    [
      '-shared',
      '-fPIC',
      '-O2',
      '-std=gnu11',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-DNODE_GYP_MODULE_NAME=seqpacket',
      '-DNAPI_VERSION=8',
      `-I${headers}`,
      '-o',
      output,
      source,
    ],
    { stdio: 'inherit' },
  );
  // --strip-unneeded keeps the dynamic symbols Node looks up (napi_register_module_v1).
  execFileSync(toolchain.strip, ['--strip-unneeded', output]);
  if (!process.argv.includes('--quiet')) console.log(`built ${output} (${toolchain.cc})`);
}
if (failed) process.exit(1);

// The platforms whose launcher ships in @cryopipe/spawn, and the C toolchains
// that build each one from any Linux host. Shared by build-launcher.mjs and
// the packaging tests (tools/packaging), so the list is written once.
import { execFileSync } from 'node:child_process';

/** ELF e_machine of each architecture (elf.h: EM_X86_64, EM_AARCH64). */
export const ELF_MACHINE = { x64: 62, arm64: 183 };

/**
 * Every shipped architecture with the compilers tried in order. musl-gcc is
 * only a choice on an x64 host (Debian's musl-tools is native only); arm64 is
 * linked statically against glibc with Debian's gcc-aarch64-linux-gnu and
 * libc6-dev-arm64-cross: the launcher uses no NSS, so static glibc is safe.
 */
export const TARGETS = [
  {
    arch: 'x64',
    toolchains: [
      { cc: 'musl-gcc', strip: 'strip', host: 'x64' },
      { cc: 'gcc', strip: 'strip', host: 'x64' },
      { cc: 'x86_64-linux-gnu-gcc', strip: 'x86_64-linux-gnu-strip' },
    ],
    debian: 'musl-tools (or gcc-x86-64-linux-gnu on another host)',
  },
  {
    arch: 'arm64',
    toolchains: [
      { cc: 'aarch64-linux-gnu-gcc', strip: 'aarch64-linux-gnu-strip' },
      { cc: 'gcc', strip: 'strip', host: 'arm64' },
    ],
    debian: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
];

/** True when `cmd --version` runs. */
export function has(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The first usable toolchain for a target on this host, or undefined. */
export function toolchainFor(target) {
  return target.toolchains.find(
    (t) => (t.host === undefined || t.host === process.arch) && has(t.cc) && has(t.strip),
  );
}

/**
 * Which targets to build: `--arch x64,arm64` on the command line, else
 * $CRYOPIPE_ARCHES, else all of them.
 */
export function selectedTargets(argv = process.argv) {
  const i = argv.indexOf('--arch');
  const list = i >= 0 ? argv[i + 1] : process.env.CRYOPIPE_ARCHES;
  if (!list) return TARGETS;
  const wanted = list.split(',').map((s) => s.trim());
  for (const arch of wanted) {
    if (!TARGETS.some((t) => t.arch === arch))
      throw new Error(`unknown arch ${arch}; supported: ${TARGETS.map((t) => t.arch).join(', ')}`);
  }
  return TARGETS.filter((t) => wanted.includes(t.arch));
}

/** ELF e_machine of a file's header, or undefined when it is not ELF. */
export function elfMachine(buffer) {
  if (buffer.length < 20 || buffer.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return buffer[5] === 2 ? buffer.readUInt16BE(18) : buffer.readUInt16LE(18);
}

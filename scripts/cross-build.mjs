// The cross-compile loop shared by the two native builds of the monorepo
// (packages/spawn/scripts/build-launcher.mjs: the static launcher;
// packages/criu-client/scripts/build-native.mjs: the N-API addon). Each
// names its targets (architectures and the C toolchains tried for each) and
// how to compile one output; this runs the rest the same way for both:
//
//   --arch x64,arm64   only these targets (else the caller's `arches`, from
//                      $CRYOPIPE_ARCHES, else all)
//   --check            build nothing; exit 1 unless every target's output is
//                      present and is an ELF file for its architecture (prepack)
//   --quiet            no line per built output
//
// A target without a toolchain is an error for the host's own architecture
// and under CI=true; elsewhere a warning, so a laptop without cross compilers
// still builds for itself (and `pnpm pack` then refuses, through --check).

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** ELF e_machine of each architecture (elf.h: EM_X86_64, EM_AARCH64). */
export const ELF_MACHINE = { x64: 62, arm64: 183 };

/** True when `cmd --version` runs. */
export function has(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** ELF e_machine of a file's header, or undefined when it is not ELF. */
export function elfMachine(buffer) {
  if (buffer.length < 20 || buffer.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return buffer[5] === 2 ? buffer.readUInt16BE(18) : buffer.readUInt16LE(18);
}

/**
 * The first usable toolchain of a target on this host (`host` set: only on
 * that architecture; compiler and strip both present), or undefined.
 */
export function toolchainFor(target) {
  return target.toolchains.find(
    (t) => (t.host === undefined || t.host === process.arch) && has(t.cc) && has(t.strip),
  );
}

/**
 * Which of `targets` to build: `--arch x64,arm64` on the command line, else
 * the comma-separated `arches` (the caller's $CRYOPIPE_ARCHES), else all.
 */
export function selectedTargets(targets, argv = process.argv, arches = undefined) {
  const i = argv.indexOf('--arch');
  const list = i >= 0 ? argv[i + 1] : arches;
  if (!list) return targets;
  const wanted = list.split(',').map((s) => s.trim());
  for (const arch of wanted) {
    if (!targets.some((t) => t.arch === arch))
      throw new Error(`unknown arch ${arch}; supported: ${targets.map((t) => t.arch).join(', ')}`);
  }
  return targets.filter((t) => wanted.includes(t.arch));
}

/**
 * Builds (or with --check, checks) one output per selected target, then
 * exits 1 if anything required failed.
 *
 * `tool` prefixes every message; `what` names the output ("launcher");
 * `outFor(arch)` is its path; `compile(cc, out)` runs the compiler;
 * `stripFlags` are strip's options; `mode`, when given, is chmod'ed after;
 * `arches` limits the targets when no --arch is given.
 */
export function crossBuild({
  tool,
  what,
  targets,
  outFor,
  compile,
  stripFlags,
  mode,
  arches,
  argv,
}) {
  argv ??= process.argv;
  const selected = selectedTargets(targets, argv, arches);
  if (argv.includes('--check')) {
    const bad = selected.filter((t) => {
      const out = outFor(t.arch);
      return !existsSync(out) || elfMachine(readFileSync(out)) !== ELF_MACHINE[t.arch];
    });
    if (bad.length > 0) {
      console.error(
        `${tool}: missing or wrong ${what} for ${bad.map((t) => `linux-${t.arch}`).join(', ')}; ` +
          `install ${bad.map((t) => t.debian).join(' ')} (scripts/setup.sh does) and run \`pnpm build\``,
      );
      process.exit(1);
    }
    process.exit(0);
  }
  let failed = false;
  for (const target of selected) {
    const toolchain = toolchainFor(target);
    if (!toolchain) {
      const required = target.arch === process.arch || process.env.CI === 'true';
      console.error(
        `${tool}: ${required ? 'error' : 'warning'}: no C toolchain for linux-${target.arch} ` +
          `(tried ${target.toolchains.map((t) => t.cc).join(', ')}); install ${target.debian}` +
          (required ? '' : '; skipped (required when CI=true)'),
      );
      if (required) failed = true;
      continue;
    }
    const out = outFor(target.arch);
    mkdirSync(dirname(out), { recursive: true });
    compile(toolchain.cc, out);
    execFileSync(toolchain.strip, [...stripFlags, out]);
    if (mode !== undefined) chmodSync(out, mode);
    if (!argv.includes('--quiet')) console.log(`${tool}: ${toolchain.cc} -> ${out}`);
  }
  if (failed) process.exit(1);
}

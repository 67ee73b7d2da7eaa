// Helpers for running the other architecture's binaries on this host: which
// qemu-user runs them, and building small static C probes for either arch.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { binary, type Requirement } from '@cryopipe/testkit';

export type Arch = 'x64' | 'arm64';

/** ELF e_machine of each architecture (elf.h: EM_X86_64, EM_AARCH64). */
export const ELF_MACHINE: Record<Arch, number> = { x64: 62, arm64: 183 };

/** The repository's root. */
export const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** e_machine from an ELF header, or undefined when the bytes are not ELF. */
export function elfMachine(bytes: Buffer): number | undefined {
  if (bytes.length < 20 || bytes.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return bytes[5] === 2 ? bytes.readUInt16BE(18) : bytes.readUInt16LE(18);
}

/** e_machine of a file. */
export function elfMachineOf(path: string): number | undefined {
  return elfMachine(readFileSync(path));
}

/** The host's architecture, as Node names it (the tests assume x64 or arm64). */
export const hostArch = process.arch as Arch;

/** The other architecture: the one that runs under qemu here. */
export const foreignArch: Arch = hostArch === 'x64' ? 'arm64' : 'x64';

const qemuFor: Record<Arch, string> = { x64: 'qemu-x86_64-static', arm64: 'qemu-aarch64-static' };
const ccFor: Record<Arch, string> = { x64: 'x86_64-linux-gnu-gcc', arm64: 'aarch64-linux-gnu-gcc' };

/** qemu-user for the foreign arch (Debian's qemu-user-static). */
export const qemu = qemuFor[foreignArch];

/** What running foreign binaries needs: qemu and the cross compiler. */
export const crossRequirements: Requirement[] = [
  binary(qemu, 'apt-get install qemu-user-static (scripts/setup.sh does)'),
  binary(ccFor[foreignArch], `apt-get install ${ccFor[foreignArch].replace(/-gcc$/, '')}-gcc`),
];

/** argv prefix that runs a binary of `arch` here: nothing for the host, qemu for the other. */
export function runner(arch: Arch): string[] {
  return arch === hostArch ? [] : [qemu];
}

/** Compiles a C file statically for `arch` into `out`. */
export function buildStatic(arch: Arch, source: string, out: string): void {
  const cc = arch === hostArch ? 'gcc' : ccFor[arch];
  execFileSync(cc, ['-static', '-O2', '-Wall', '-Werror', '-o', out, source], { stdio: 'inherit' });
}

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BreakpointSupport,
  type CriuClient,
  probeHardwareBreakpoints,
  type VersionInfo,
} from '@cryopipe/criu-client';
import { writeJsonAtomic } from '../store/job-store.ts';

/**
 * What this boot of the machine can do, kept in `home/machine.json`: the
 * answers only change with a reboot (kernel, hypervisor) or another criu,
 * and asking costs a noticeable part of a small checkpoint — the hardware
 * breakpoint probe 8–10 ms, criu's feature check 23–31 ms, its version
 * (one more criu process) ~20 ms here.
 */
interface MachineFacts {
  bootId: string;
  breakpoints?: BreakpointSupport;
  criu?: { version: string; memTrack: boolean };
  /** The version of the criu binary at `path`, while it is that same file. */
  criuBinary?: { path: string; identity: string; version: VersionInfo };
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function load(home: string, boot: string): MachineFacts {
  try {
    const facts = JSON.parse(readFileSync(join(home, 'machine.json'), 'utf8')) as MachineFacts;
    if (facts.bootId === boot) return facts;
  } catch {
    // Nothing known yet (or a torn file): ask again.
  }
  return { bootId: boot };
}

function remember(home: string, facts: MachineFacts): void {
  try {
    writeJsonAtomic(join(home, 'machine.json'), facts);
  } catch {
    // A read-only home still gets the right answers, just not kept.
  }
}

/** probeHardwareBreakpoints(), once per boot. */
export function hardwareBreakpoints(home: string): BreakpointSupport {
  const boot = bootId();
  if (boot === undefined) return probeHardwareBreakpoints();
  const facts = load(home, boot);
  if (facts.breakpoints) return facts.breakpoints;
  const breakpoints = probeHardwareBreakpoints();
  remember(home, { ...facts, breakpoints });
  return breakpoints;
}

/** Can criu track dirty memory here (so pre-dumps pay off)? Its feature check, once per boot and criu version. */
export async function criuTracksMemory(
  criu: CriuClient,
  criuVersion: string,
  home: string,
): Promise<boolean> {
  const boot = bootId();
  const facts = boot === undefined ? undefined : load(home, boot);
  if (facts?.criu?.version === criuVersion) return facts.criu.memTrack;
  const { memTrack } = await criu.featureCheck({ memTrack: true });
  if (facts)
    remember(home, { ...load(home, facts.bootId), criu: { version: criuVersion, memTrack } });
  return memTrack;
}

/** A file's identity: another binary installed at the same path changes it. */
function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/** The version of the criu binary at `path`, as asked before this boot while the file is unchanged. */
export function knownCriuVersion(home: string, path: string): VersionInfo | undefined {
  const boot = bootId();
  if (boot === undefined) return undefined;
  const known = load(home, boot).criuBinary;
  const identity = fileIdentity(path);
  return known && identity !== undefined && known.path === path && known.identity === identity
    ? known.version
    : undefined;
}

/** `criu.version()`, kept for the next command's knownCriuVersion(). */
export async function criuVersion(criu: CriuClient, home: string): Promise<VersionInfo> {
  const version = await criu.version();
  const path = criu.criuPath;
  const boot = bootId();
  const identity = path === undefined ? undefined : fileIdentity(path);
  if (path === undefined || boot === undefined || identity === undefined) return version;
  const facts = load(home, boot);
  const known = facts.criuBinary;
  if (
    !known ||
    known.path !== path ||
    known.identity !== identity ||
    known.version.text !== version.text
  )
    remember(home, { ...facts, criuBinary: { path, identity, version } });
  return version;
}

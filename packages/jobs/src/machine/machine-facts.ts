import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BreakpointSupport,
  type CriuClient,
  probeHardwareBreakpoints,
} from '@cryopipe/criu-client';
import { writeJsonAtomic } from '../store/job-store.ts';

/**
 * What this boot of the machine can do, kept in `home/machine.json`: the
 * answers only change with a reboot (kernel, hypervisor) or another criu,
 * and asking costs a noticeable part of a small checkpoint — the hardware
 * breakpoint probe 8–10 ms, criu's feature check 23–31 ms here.
 */
interface MachineFacts {
  bootId: string;
  breakpoints?: BreakpointSupport;
  criu?: { version: string; memTrack: boolean };
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

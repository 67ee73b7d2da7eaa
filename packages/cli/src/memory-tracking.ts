import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CriuClient } from '@cryopipe/criu-client';
import { writeJsonAtomic } from './job-store.ts';

interface Cached {
  bootId: string;
  criuVersion: string;
  memTrack: boolean;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Can criu track dirty memory here (its feature check, so pre-dumps pay
 * off)? The check costs ~25 ms of criu probing the kernel — a tenth of a
 * small dump — and its answer only changes with the kernel or criu, so it
 * is kept in `home` per boot and criu version.
 */
export async function criuTracksMemory(
  criu: CriuClient,
  criuVersion: string,
  home: string,
): Promise<boolean> {
  const path = join(home, 'features.json');
  const boot = bootId();
  try {
    const cached = JSON.parse(readFileSync(path, 'utf8')) as Cached;
    if (cached.bootId === boot && cached.criuVersion === criuVersion && boot !== 'unknown')
      return cached.memTrack === true;
  } catch {
    // No answer yet (or a torn file): ask criu.
  }
  const { memTrack } = await criu.featureCheck({ memTrack: true });
  try {
    writeJsonAtomic(path, { bootId: boot, criuVersion, memTrack } satisfies Cached);
  } catch {
    // A read-only home still gets the right answer, just not cached.
  }
  return memTrack;
}

import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { JobError } from '../errors.ts';

/** One image file as the checkpoint wrote it. */
export interface ImageEntry {
  name: string;
  size: number;
  sha256: string;
}

/** Files in a checkpoint directory that are ours, not criu's images. */
const NOT_IMAGES = /^(checkpoint\.json|stats-dump|.*\.log|.*\.tmp-\d+)$/;

function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Name, size and sha256 of every image under `dir`, subdirectories included
 * ("pre/pages-1.img": the pre-dump a dump builds on); a symlink (criu's
 * "parent" link to it) is recorded by its target.
 */
export function imageManifest(dir: string, prefix = ''): ImageEntry[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !NOT_IMAGES.test(entry.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      const name = prefix + entry.name;
      if (entry.isDirectory()) return imageManifest(path, `${name}/`);
      if (entry.isSymbolicLink()) {
        const target = readlinkSync(path);
        return [
          { name, size: 0, sha256: createHash('sha256').update(`-> ${target}`).digest('hex') },
        ];
      }
      return [{ name, size: lstatSync(path).size, sha256: sha256File(path) }];
    });
}

/**
 * Refuses a checkpoint whose images are not exactly the ones written: a
 * truncated or corrupted image makes criu fail half-way, or worse, restore
 * something else. Reads only; never changes the images.
 */
export function assertImagesIntact(dir: string, expected: readonly ImageEntry[]): void {
  const problems: string[] = [];
  let actual: ImageEntry[];
  try {
    actual = imageManifest(dir);
  } catch (err) {
    throw new JobError(
      `the images in ${dir} can't be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'REFUSED',
    );
  }
  const byName = new Map(actual.map((e) => [e.name, e]));
  for (const want of expected) {
    const got = byName.get(want.name);
    byName.delete(want.name);
    if (!got) problems.push(`${want.name}: missing`);
    else if (got.size !== want.size)
      problems.push(
        `${want.name}: ${got.size < want.size ? 'truncated' : 'grown'} to ${got.size} bytes (was ${want.size})`,
      );
    else if (got.sha256 !== want.sha256) problems.push(`${want.name}: content changed (corrupted)`);
  }
  for (const extra of byName.keys()) problems.push(`${extra}: not part of this checkpoint`);
  if (problems.length > 0) {
    throw new JobError(
      `refusing to restore damaged images in ${dir}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      'REFUSED',
      'restore an older checkpoint with --from N; the images were not changed',
    );
  }
}

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { JobError } from '../errors.ts';
import { HashError, type HashFilesOptions, sha256File, sha256Files } from './image-hash.ts';

/**
 * Where one image file lives and when it last changed, as lstat(2) reports
 * it (numbers as decimal strings: nanoseconds don't fit a JSON number). Any
 * write(2), truncate(2) or rename over the file changes mtime or ctime, and
 * a copy (an import, `cp -a`) has another inode: an unchanged identity means
 * the bytes are the ones that were hashed, without reading them again.
 */
export interface ImageIdentity {
  dev: string;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** One image file as the checkpoint wrote it. */
export interface ImageEntry {
  name: string;
  size: number;
  /**
   * SHA-256 of the content (of "-> target" for a symlink). Absent only when
   * it could not be computed after the images were written (the images
   * changed meanwhile, or the process died in between): such an image
   * restores only while its identity is unchanged.
   */
  sha256?: string;
  /** Absent in checkpoints taken before identities were recorded: those are always re-hashed. */
  identity?: ImageIdentity;
}

/** How a restore knew the images were intact. */
export type Verification = 'identity' | 'content';

/** Files in a checkpoint directory that are ours, not criu's images. */
const NOT_IMAGES = /^(checkpoint\.json|seal\.pid|stats-dump|.*\.log|.*\.tmp-\d+)$/;

function linkDigest(target: string): string {
  return createHash('sha256').update(`-> ${target}`).digest('hex');
}

function identityOf(path: string): { size: number; identity: ImageIdentity } {
  const st = lstatSync(path, { bigint: true });
  return {
    size: Number(st.size),
    identity: {
      dev: String(st.dev),
      ino: String(st.ino),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
    },
  };
}

function sameIdentity(a: ImageIdentity | undefined, b: ImageIdentity | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * Name, size and identity of every image under `dir`, subdirectories
 * included ("pre/pages-1.img": the pre-dump a dump builds on), without
 * reading any content: O(files), cheap enough for criu's post-dump hook.
 * A symlink (criu's "parent" link) also gets its digest, from its target.
 */
export function imageIdentities(dir: string, prefix = ''): ImageEntry[] {
  return (
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !NOT_IMAGES.test(entry.name))
      // Code-unit order: localeCompare's first call loads ICU's collator (45 ms measured here under load).
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .flatMap((entry): ImageEntry[] => {
        const path = join(dir, entry.name);
        const name = prefix + entry.name;
        if (entry.isDirectory()) return imageIdentities(path, `${name}/`);
        const { size, identity } = identityOf(path);
        if (entry.isSymbolicLink())
          return [{ name, size: 0, sha256: linkDigest(readlinkSync(path)), identity }];
        return [{ name, size, identity }];
      })
  );
}

/**
 * Adds the SHA-256 of every image in `entries` that lacks one (large images
 * in parallel worker threads). An image whose identity is not the recorded
 * one any more, before or after its hashing, gets no digest: what was read
 * may not be what criu wrote.
 */
export async function hashImages(
  dir: string,
  entries: readonly ImageEntry[],
  options: HashFilesOptions = {},
): Promise<ImageEntry[]> {
  const stable = (e: ImageEntry) => {
    try {
      return sameIdentity(identityOf(join(dir, e.name)).identity, e.identity);
    } catch {
      return false;
    }
  };
  const todo = entries.filter((e) => e.sha256 === undefined && stable(e));
  const digests = await sha256Files(
    todo.map((e) => ({ path: join(dir, e.name), size: e.size })),
    options,
  );
  const byName = new Map(todo.map((e, i) => [e.name, digests[i]!]));
  return entries.map((e) => {
    const sha256 = byName.get(e.name);
    return sha256 !== undefined && stable(e) ? { ...e, sha256 } : e;
  });
}

/** Identity and SHA-256 of every image under `dir`, on this thread. */
export function imageManifest(dir: string): ImageEntry[] {
  return imageIdentities(dir).map((e) =>
    e.sha256 === undefined ? { ...e, sha256: sha256File(join(dir, e.name)) } : e,
  );
}

function unreadable(dir: string, err: unknown): JobError {
  const code =
    err instanceof HashError
      ? `${err.path}: ${err.code}`
      : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  return new JobError(`the images in ${dir} can't be read (${code})`, 'REFUSED');
}

function refuse(dir: string, problems: string[]): JobError {
  return new JobError(
    `refusing to restore damaged images in ${dir}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    'REFUSED',
    'restore an older checkpoint with --from N; the images were not changed',
  );
}

/** Missing, resized and extra images; `same` decides for the rest. */
function compare(
  expected: readonly ImageEntry[],
  actual: readonly ImageEntry[],
  same: (want: ImageEntry, got: ImageEntry) => string | undefined,
): string[] {
  const problems: string[] = [];
  const byName = new Map(actual.map((e) => [e.name, e]));
  for (const want of expected) {
    const got = byName.get(want.name);
    byName.delete(want.name);
    if (!got) problems.push(`${want.name}: missing`);
    else if (got.size !== want.size)
      problems.push(
        `${want.name}: ${got.size < want.size ? 'truncated' : 'grown'} to ${got.size} bytes (was ${want.size})`,
      );
    else {
      const problem = same(want, got);
      if (problem) problems.push(problem);
    }
  }
  for (const extra of byName.keys()) problems.push(`${extra}: not part of this checkpoint`);
  return problems;
}

function contentProblem(want: ImageEntry, got: ImageEntry): string | undefined {
  if (got.sha256 === want.sha256) return undefined;
  if (want.sha256 === undefined)
    return `${want.name}: changed since the checkpoint, whose content hash was never recorded`;
  return `${want.name}: content changed (corrupted)`;
}

/**
 * Refuses a checkpoint whose images are not exactly the ones written: a
 * truncated or corrupted image makes criu fail half-way, or worse, restore
 * something else. Reads only; never changes the images. Hashes every image.
 */
export function assertImagesIntact(dir: string, expected: readonly ImageEntry[]): void {
  let actual: ImageEntry[];
  try {
    actual = imageManifest(dir);
  } catch (err) {
    throw unreadable(dir, err);
  }
  const problems = compare(expected, actual, contentProblem);
  if (problems.length > 0) throw refuse(dir, problems);
}

export interface VerifyImagesOptions extends HashFilesOptions {
  /** Hash the content even when every identity is unchanged (`restore --verify`, an import). */
  content?: boolean;
}

/**
 * Like assertImagesIntact, at the cost of a stat per image when nothing
 * changed: every image with its recorded identity (same device, inode, size,
 * mtime and ctime) is the file that was hashed. Only when an identity differs
 * or is missing, or `content` asks for it, is every image's content hashed
 * and compared. Returns which of the two proved the images intact.
 */
export async function verifyImages(
  dir: string,
  expected: readonly ImageEntry[],
  options: VerifyImagesOptions = {},
): Promise<Verification> {
  let actual: ImageEntry[];
  try {
    actual = imageIdentities(dir);
  } catch (err) {
    throw unreadable(dir, err);
  }
  if (!options.content) {
    const changed = compare(expected, actual, (want, got) =>
      sameIdentity(want.identity, got.identity) ? undefined : want.name,
    );
    if (changed.length === 0) return 'identity';
  }
  try {
    actual = await hashImages(dir, actual, options);
  } catch (err) {
    throw unreadable(dir, err);
  }
  // An image whose identity moved while it was read has no digest here: it
  // is refused as changed. One not sealed yet (no recorded hash) passes only
  // with its recorded identity: then it is the file criu wrote, and what was
  // just read is its content.
  const problems = compare(expected, actual, (want, got) => {
    if (got.sha256 === undefined) return `${want.name}: changed while it was being checked`;
    if (want.sha256 === undefined && sameIdentity(want.identity, got.identity)) return undefined;
    return contentProblem(want, got);
  });
  if (problems.length > 0) throw refuse(dir, problems);
  return 'content';
}

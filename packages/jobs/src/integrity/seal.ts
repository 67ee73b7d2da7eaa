import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CheckpointMeta, parseCheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { faultPoint } from '../fault-point.ts';
import { writeJsonAtomic } from '../store/job-store.ts';
import { processExists } from '../store/process-exists.ts';
import { hashImages, type ImageEntry } from './image-manifest.ts';

/**
 * Sealing: adding the content hash (SHA-256) of every image to a checkpoint
 * after the checkpoint command has returned.
 *
 * A checkpoint is complete and restorable on this machine as soon as its
 * images' identities are recorded (restore compares identities, a stat per
 * image). The content hashes are needed only where identities can't prove
 * anything: an export (the importing machine has other inodes) and `restore
 * --verify`. So `checkpointJob()` starts a detached, low-priority sealer
 * (`node sealer.js DIR`, nice 19, best-effort I/O class at its lowest
 * priority) and returns; the hashing costs the job nothing while it is
 * frozen and costs the command nothing at all. Whoever needs the hashes
 * before the sealer is done computes the missing ones itself
 * (`sealCheckpoint()`, at full speed).
 *
 * Crash-safe: the hashes land in checkpoint.json by an atomic rename, so a
 * sealer killed half-way leaves the checkpoint as it was — complete, not yet
 * sealed. An image whose identity changed before or while it was read gets
 * no hash (what was read may not be what criu wrote): such a checkpoint
 * never becomes sealed, restores here only while identities match, and an
 * export of it is refused.
 */

/** The sealer's pid while it runs, in the checkpoint directory (not an image). */
export const SEAL_PID_FILE = 'seal.pid';

/** First argument of the sealer process, so `ps` shows what it is. */
export const SEALER_ARG = '--cryopipe-seal';

/** Whether every image of a checkpoint has its content hash. */
export function isSealed(meta: Pick<CheckpointMeta, 'images'>): boolean {
  return meta.images?.every((e) => e.sha256 !== undefined) ?? false;
}

/** Images of `meta` that still lack a content hash. */
function unsealed(meta: Pick<CheckpointMeta, 'images'>): ImageEntry[] {
  return (meta.images ?? []).filter((e) => e.sha256 === undefined);
}

/**
 * Hashes every image of the checkpoint in `dir` that has no content hash yet
 * and writes the hashes into its checkpoint.json (atomically). Returns the
 * metadata as written. Safe to run while another sealer runs on the same
 * checkpoint: both compute the same digests, and each merges into the
 * checkpoint.json it finds just before writing.
 */
export async function sealCheckpoint(
  dir: string,
  options: {
    /** Most threads to hash with; default: the idle CPUs (see image-hash.ts). */
    threads?: number;
  } = {},
): Promise<CheckpointMeta> {
  const path = join(dir, 'checkpoint.json');
  const before = parseCheckpointMeta(readFileSync(path, 'utf8'), path);
  if (isSealed(before) || before.images === undefined) return before;
  const hashed = await hashImages(dir, before.images, options);
  const digests = new Map(
    hashed.flatMap((e) => (e.sha256 !== undefined ? [[e.name, e] as const] : [])),
  );
  // Merge into what is there now (another sealer may have written meanwhile).
  const now = parseCheckpointMeta(readFileSync(path, 'utf8'), path);
  if (now.images === undefined) return now;
  let added = 0;
  const images = now.images.map((e) => {
    const d = digests.get(e.name);
    if (e.sha256 !== undefined || d === undefined || !sameEntry(e, d)) return e;
    added++;
    return { ...e, sha256: d.sha256 };
  });
  if (added === 0) return now;
  const sealed = { ...now, images };
  writeJsonAtomic(path, sealed);
  return sealed;
}

function sameEntry(a: ImageEntry, b: ImageEntry): boolean {
  return (
    a.size === b.size &&
    a.identity !== undefined &&
    b.identity !== undefined &&
    a.identity.dev === b.identity.dev &&
    a.identity.ino === b.identity.ino &&
    a.identity.mtimeNs === b.identity.mtimeNs &&
    a.identity.ctimeNs === b.identity.ctimeNs
  );
}

/** The pid of the sealer working on `dir`, if one runs. */
export function runningSealer(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, SEAL_PID_FILE), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && processExists(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Where the sealer's entry is: next to this module when built, else the package's dist. */
function sealerEntry(): string | undefined {
  for (const url of [
    new URL('./sealer.js', import.meta.url),
    new URL('../../dist/sealer.js', import.meta.url),
  ]) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  return undefined;
}

const IONICE = '/usr/bin/ionice';

/**
 * Starts a detached low-priority sealer for the checkpoint in `dir` and
 * returns its pid, or undefined when there is nothing to seal or the
 * sealer's entry is missing (the checkpoint then stays unsealed until an
 * export or `restore --verify` seals it). Never throws: a checkpoint is
 * complete without its seal.
 */
export function startSealer(dir: string, meta: Pick<CheckpointMeta, 'images'>): number | undefined {
  if (unsealed(meta).length === 0) return undefined;
  const entry = sealerEntry();
  if (entry === undefined) return undefined;
  try {
    // Best-effort class, lowest priority (not the idle class: under steady
    // writeback an idle-class reader may wait indefinitely).
    const [command, args] = existsSync(IONICE)
      ? [IONICE, ['-c', '2', '-n', '7', process.execPath, entry, SEALER_ARG, dir]]
      : [process.execPath, [entry, SEALER_ARG, dir]];
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    // Claimed here, not by the child once Node has started: whoever waits
    // for the seal right after the command sees the sealer at once.
    if (child.pid !== undefined)
      writeFileSync(join(dir, SEAL_PID_FILE), String(child.pid), { mode: 0o600 });
    return child.pid;
  } catch {
    return undefined;
  }
}

/**
 * The sealer process's work: claim `dir` (one sealer per checkpoint), lower
 * its own CPU priority, seal, release. Returns a line to log.
 */
export async function runSealer(dir: string): Promise<string> {
  const pidFile = join(dir, SEAL_PID_FILE);
  const other = runningSealer(dir);
  if (other !== undefined && other !== process.pid) return `sealer ${other} already runs on ${dir}`;
  writeFileSync(pidFile, String(process.pid), { mode: 0o600 });
  try {
    faultPoint('seal:hashing');
    const meta = await sealCheckpoint(dir, { threads: 1 });
    return isSealed(meta)
      ? `sealed ${dir}`
      : `${dir}: ${unsealed(meta).length} image(s) changed before they could be hashed; not sealed`;
  } finally {
    rmSync(pidFile, { force: true });
  }
}

/**
 * Waits until no sealer runs on `dir` (or `timeoutMs` passes). For
 * benchmarks and tests, which must not let one checkpoint's sealer compete
 * with what they measure next; returns whether the sealer is gone.
 */
export async function waitForSealer(dir: string, timeoutMs = 60_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (runningSealer(dir) !== undefined) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

import type { KeyObject } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pack } from 'tar-stream';
import { checkpointNumbers } from '../checkpoint/checkpoint-files.ts';
import { readCheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import { checkFile } from '../integrity/file-state.ts';
import { isSealed, SEAL_PID_FILE, sealCheckpoint } from '../integrity/seal.ts';
import type { Progress } from '../progress.ts';
import { isWithin } from '../restore/relocation.ts';
import { type JobRef, type JobStore, RESTORE_LOGS_DIR } from '../store/job-store.ts';
import { liveRoot } from '../store/liveness.ts';
import { acquireLock } from '../store/lock.ts';
import { encryptStream } from './archive-cipher.ts';
import { signingStream } from './archive-seal.ts';
import { IMPORT_RECORD, importedOutputMoves, strayFile } from './imported-job.ts';
import { type ArchivedOutput, type ExportManifest, MANIFEST_ENTRY } from './job-archive.ts';
import { zstdDone, zstdProcess } from './job-archive-zstd.ts';

/** Parts of a job directory that belong to one machine's moment, not to the job. */
const SKIPPED = new Set(['lock', 'periodic', RESTORE_LOGS_DIR]);

/** Options of `exportJob()`. */
export interface ExportOptions {
  /** Ed25519 private key: appends a signature trailer (see archive-seal.ts). */
  signWith?: KeyObject;
  /** 256-bit secret: encrypts the whole archive, trailer included (see archive-cipher.ts). */
  encryptWith?: Buffer;
  /** Told about checkpoints left out (they need files the archive does not carry). */
  onProgress?: Progress;
}

/**
 * Streams a stopped job as tar.zst into `sink`: tar-stream packs entries one
 * file at a time into the system zstd, whose output goes straight to the
 * sink. Holds the job lock throughout, so no checkpoint, restore or
 * retention changes what is being read.
 */
export async function exportJob(
  store: JobStore,
  ref: JobRef,
  sink: Writable,
  options: ExportOptions = {},
): Promise<ExportManifest> {
  const job = store.resolve(ref);
  // A checkpointer finishing its last checkpoint may hold the lock for a moment.
  const release = await acquireLock(store.lockPath(job.id), 'export', { waitMs: 30_000 });
  try {
    const fresh = store.load(job.id);
    if (liveRoot(store, fresh) !== undefined) {
      throw new JobError(
        `job ${fresh.id} is running: its outputs keep changing, so an export would not match any checkpoint`,
        'FAILED',
        `stop it with a checkpoint first ('cryopipe checkpoint ${fresh.id}'), then export`,
      );
    }
    const checkpoints = checkpointNumbers(store.checkpointsDir(fresh.id), true);
    if (checkpoints.length === 0) {
      throw new JobError(
        `job ${fresh.id} has no complete checkpoint: an export could not be restored`,
        'NOT_FOUND',
        `checkpoint it while it runs ('cryopipe checkpoint ${fresh.id}')`,
      );
    }
    const jobDir = store.jobDir(fresh.id);
    const newest = readCheckpointMeta(store.checkpointDir(fresh.id, checkpoints.at(-1)!));
    // An imported job not restored since keeps its outputs where the import put them.
    const movedTo = new Map(importedOutputMoves(jobDir, newest.files).map((m) => [m.from, m.to]));
    const source = (path: string) => movedTo.get(path) ?? path;
    // Its job files are those under the directory the images name (another home's, for an import).
    const ownDir = newest.jobDir ?? jobDir;
    const outputs: ArchivedOutput[] = newest.files
      .filter((f) => !isWithin(f.path, ownDir))
      .map((f, i) => ({ entry: `outputs/${i}`, ...f, mode: permissions(source(f.path)) }));
    // Older checkpoints that need files this archive does not carry would be refused by import.
    const carried = new Set(outputs.map((o) => o.path));
    const exported = checkpoints.filter((n) => {
      const stray = strayFile(
        readCheckpointMeta(store.checkpointDir(fresh.id, n)),
        jobDir,
        carried,
      );
      if (stray)
        options.onProgress?.(
          `checkpoint ${n} left out: it needs ${stray}, which this archive does not carry`,
        );
      return !stray;
    });
    await sealForExport(store, fresh.id, exported, options.onProgress);
    // Only the first `size` bytes go in: what the newest checkpoint expects.
    const problems = outputs
      .map((o) => checkFile({ ...o, path: source(o.path) }))
      .filter((c) => c.action === 'refuse')
      .map((c) => `  ${c.path}: ${(c as { reason: string }).reason}`);
    if (problems.length) {
      throw new JobError(
        `job ${fresh.id} can't be exported: its newest checkpoint no longer matches its outputs:\n${problems.join('\n')}`,
        'REFUSED',
        'put the files back as they were at the checkpoint',
      );
    }
    const manifest: ExportManifest = {
      format: 1,
      jobId: fresh.id,
      jobDir,
      exportedAt: new Date().toISOString(),
      checkpoints: exported,
      outputs,
    };

    const zstd = zstdProcess(['-c', '-T0'], 'pipe');
    const done = zstdDone(zstd);
    // zstd → signature trailer → encryption → sink, each optional, all streaming.
    const stages: Transform[] = [
      ...(options.signWith ? [signingStream(options.signWith)] : []),
      ...(options.encryptWith ? [encryptStream(options.encryptWith)] : []),
    ];
    const sent = (pipeline as (...s: unknown[]) => Promise<void>)(zstd.stdout!, ...stages, sink, {
      end: sink !== process.stdout,
    });
    // Loaded here, not at the top: no other command pays for tar-stream's modules.
    const { pack: tarPack } = await import('tar-stream');
    const pack = tarPack();
    const packed = pipeline(pack, zstd.stdin!);
    for (const p of [done, sent, packed]) p.catch(() => {}); // awaited below
    await addBuffer(pack, MANIFEST_ENTRY, Buffer.from(JSON.stringify(manifest, null, 2)));
    // Moved outputs travel once, as outputs/N, not also inside the job directory.
    const movedInside = new Set(
      [...movedTo.values()]
        .filter((p) => p.startsWith(`${jobDir}/`))
        .map((p) => relative(jobDir, p)),
    );
    await addTree(
      pack,
      jobDir,
      'job',
      (rel) => included(rel, exported) && !movedInside.has(rel) && rel !== IMPORT_RECORD,
    );
    for (const o of outputs) await addFile(pack, source(o.path), o.entry, o.size, 0o600);
    pack.finalize();
    await Promise.all([packed, done, sent]);
    return manifest;
  } finally {
    release();
  }
}

/**
 * The importing machine can check the images only by their content: every
 * exported checkpoint must be sealed. The background sealer has usually
 * done it; what it hasn't is hashed here, at full speed (the export then
 * costs that). A checkpoint whose images changed before they were hashed
 * can't be proven intact anywhere else: refused.
 */
async function sealForExport(
  store: JobStore,
  id: string,
  checkpoints: number[],
  progress: Progress | undefined,
): Promise<void> {
  for (const n of checkpoints) {
    const dir = store.checkpointDir(id, n);
    if (isSealed(readCheckpointMeta(dir))) continue;
    // A running sealer is at lowest priority: do the work here instead (same digests).
    progress?.(`hashing the images of checkpoint ${n} (not sealed yet)…`);
    const meta = await sealCheckpoint(dir);
    if (!isSealed(meta)) {
      const names = (meta.images ?? []).filter((e) => e.sha256 === undefined).map((e) => e.name);
      throw new JobError(
        `checkpoint ${n} of job ${id} can't be exported: ${names.join(', ')} changed after the checkpoint, before its content was hashed, so no other machine could check it`,
        'REFUSED',
        `take a new checkpoint and export that, or remove checkpoint ${n}`,
      );
    }
  }
}

/** Which paths of the job directory (relative to it) go into the archive. */
function included(rel: string, checkpoints: number[]): boolean {
  const [top, second] = rel.split('/');
  if (SKIPPED.has(top!) || top!.endsWith('.tmp') || /\.tmp-\d+$/.test(top!)) return false;
  // A sealer's claim and half-written metadata belong to this machine's moment.
  const base = rel.split('/').at(-1)!;
  if (base === SEAL_PID_FILE || /\.tmp-\d+$/.test(base)) return false;
  if (top === 'checkpoints' && second !== undefined)
    return checkpoints.includes(Number(second)) && /^\d+$/.test(second);
  return true;
}

function addBuffer(pack: Pack, name: string, data: Buffer, mode = 0o600): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, size: data.length, mode, type: 'file' }, data, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

async function addFile(
  pack: Pack,
  path: string,
  name: string,
  size: number,
  mode: number,
): Promise<void> {
  if (size === 0) return addBuffer(pack, name, Buffer.alloc(0), mode);
  let finished!: Promise<void>;
  const entry = (() => {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    finished = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return pack.entry({ name, size, mode, type: 'file' }, (err) => (err ? reject(err) : resolve()));
  })();
  await pipeline(createReadStream(path, { start: 0, end: size - 1 }), entry);
  await finished;
}

async function addTree(
  pack: Pack,
  dir: string,
  name: string,
  keep: (relative: string) => boolean,
  relative = '',
): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    pack.entry({ name: `${name}/`, mode: 0o700, type: 'directory' }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  for (const child of readdirSync(dir).sort()) {
    const rel = relative ? `${relative}/${child}` : child;
    if (!keep(rel)) continue;
    const path = join(dir, child);
    const st = lstatSync(path);
    if (st.isDirectory()) await addTree(pack, path, `${name}/${child}`, keep, rel);
    else if (st.isFile()) await addFile(pack, path, `${name}/${child}`, st.size, st.mode & 0o777);
    // Sockets, fifos and symlinks have no place in a job directory: left out.
  }
}

/** A file's permission bits (CRIU checks them on restore). */
function permissions(path: string): number {
  return statSync(path).mode & 0o777;
}

import { createHash } from 'node:crypto';
import {
  chmodSync,
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { readCheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import { checkFile } from '../integrity/file-state.ts';
import { mkdirPrivate } from '../store/home.ts';
import type { JobRecord, JobStore } from '../store/job-store.ts';
import { writeJsonAtomic } from '../store/job-store.ts';
import { type ExportManifest, entryTarget, MANIFEST_ENTRY, parseManifest } from './job-archive.ts';
import { zstdDone, zstdProcess } from './job-archive-zstd.ts';

export interface ImportOutcome {
  manifest: ExportManifest;
  /** Outputs written back; those already present with the same bytes are left alone. */
  placed: string[];
  unchanged: string[];
}

/**
 * Unpacks a `cryopipe export` stream into this CRYOPIPE_HOME. Everything is
 * unpacked into a private staging directory and checked first (every entry
 * path, every output's size and tail hash, no existing job with that id, no
 * existing different file at an output's path); only then are the outputs
 * put back and the job directory renamed into place.
 */
export async function importJob(store: JobStore, source: Readable): Promise<ImportOutcome> {
  mkdirPrivate(store.jobsDir);
  const staging = mkdirPrivate(join(store.jobsDir, `.import-${process.pid}-${Date.now()}`));
  const placed: string[] = [];
  try {
    const manifest = await unpack(store, source, staging);
    const staged = (o: ExportManifest['outputs'][number]) => join(staging, o.entry);
    for (const o of manifest.outputs) {
      if (!existsSync(staged(o)) || checkFile({ ...o, path: staged(o) }).action !== 'unchanged')
        throw new JobError(
          `the archive's copy of ${o.path} is missing or damaged`,
          'REFUSED',
          'export the job again',
        );
    }
    const unchanged: string[] = [];
    const clashes: string[] = [];
    for (const o of manifest.outputs) {
      if (!existsSync(o.path)) continue;
      // Same bytes and mode: CRIU accepts it as it is (it checks the mode too).
      if ((statSync(o.path).mode & 0o777) === o.mode && (await sameBytes(o.path, staged(o))))
        unchanged.push(o.path);
      else clashes.push(`  ${o.path}`);
    }
    if (clashes.length) {
      throw new JobError(
        `refusing to overwrite ${clashes.length === 1 ? 'a file that differs' : 'files that differ'} from the job's output:\n${clashes.join('\n')}`,
        'REFUSED',
        'move them away, then import again',
      );
    }
    if (existsSync(store.jobDir(manifest.jobId))) throw existingJob(manifest.jobId);
    if (store.jobDir(manifest.jobId) !== manifest.jobDir)
      assertRelocatable(staging, manifest, store);
    try {
      for (const o of manifest.outputs) {
        if (unchanged.includes(o.path)) continue;
        mkdirSync(dirname(o.path), { recursive: true });
        moveNew(staged(o), o.path);
        chmodSync(o.path, o.mode);
        placed.push(o.path);
      }
      renameSync(join(staging, 'job'), store.jobDir(manifest.jobId));
    } catch (err) {
      for (const p of placed) rmSync(p, { force: true });
      throw err;
    }
    return { manifest, placed, unchanged };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function unpack(store: JobStore, source: Readable, staging: string): Promise<ExportManifest> {
  const zstd = zstdProcess(['-d', '-c'], 'pipe');
  const done = zstdDone(zstd);
  const fed = pipeline(source, zstd.stdin!);
  const extract = tarExtract();
  const read = pipeline(zstd.stdout!, extract);
  // Awaited below; until then a failure must not count as unhandled.
  for (const p of [done, fed, read]) p.catch(() => {});
  let manifest: ExportManifest | undefined;
  try {
    for await (const entry of extract) {
      const { name, type } = entry.header;
      if (!manifest) {
        if (name !== MANIFEST_ENTRY || type !== 'file')
          throw new JobError(
            `not a cryopipe export: it starts with ${JSON.stringify(name)}, not ${MANIFEST_ENTRY}`,
            'REFUSED',
          );
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
        if (existsSync(store.jobDir(manifest.jobId))) throw existingJob(manifest.jobId);
        continue;
      }
      const target = entryTarget(name, manifest);
      const path =
        target.kind === 'job'
          ? join(staging, 'job', target.relative)
          : join(staging, target.output.entry);
      if (type === 'directory') {
        mkdirPrivate(path);
        entry.resume();
      } else if (type === 'file') {
        mkdirPrivate(dirname(path));
        // 'wx': an entry named twice is refused rather than silently replaced.
        await pipeline(entry, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
        // The recorded mode (CRIU checks it), but never writable by others nor set-id:
        // the job directory itself stays 0700.
        if (target.kind === 'job') chmodSync(path, (entry.header.mode ?? 0o600) & 0o755);
      } else {
        throw new JobError(
          `refusing archive entry ${JSON.stringify(name)}: a ${type}, where only files and directories belong`,
          'REFUSED',
        );
      }
    }
    await Promise.all([read, fed, done]);
  } catch (err) {
    zstd.kill('SIGKILL');
    source.destroy();
    throw err;
  }
  if (!manifest) throw new JobError('the archive is empty', 'REFUSED');
  if (!existsSync(join(staging, 'job', 'job.json')))
    throw new JobError('the archive has no job.json', 'REFUSED', 'export the job again');
  // Imported jobs are stopped at a checkpoint: say so, whatever state they were exported in.
  const jobJson = join(staging, 'job', 'job.json');
  const job = JSON.parse(readFileSync(jobJson, 'utf8')) as JobRecord;
  if (job.id !== manifest.jobId) throw new JobError('job.json names another job', 'REFUSED');
  writeJsonAtomic(jobJson, { ...job, phase: 'checkpointed', importedAt: new Date().toISOString() });
  return manifest;
}

function existingJob(id: string): JobError {
  return new JobError(
    `job ${id} already exists in this CRYOPIPE_HOME`,
    'REFUSED',
    `remove it first ('cryopipe rm ${id}') or import into another CRYOPIPE_HOME`,
  );
}

/**
 * A job imported under another path is restored with its files moved (see
 * relocation.ts), which needs every checkpoint to say where its job
 * directory was; checkpoints of older cryopipe versions don't.
 */
function assertRelocatable(staging: string, m: ExportManifest, store: JobStore): void {
  const checkpoints = join(staging, 'job', 'checkpoints');
  const old = (existsSync(checkpoints) ? readdirSync(checkpoints) : []).filter((n) => {
    try {
      return !readCheckpointMeta(join(checkpoints, n)).jobDir;
    } catch {
      return false; // an incomplete checkpoint is never restored anyway
    }
  });
  if (old.length === 0) return;
  throw new JobError(
    `job ${m.jobId} was exported from ${m.jobDir}; here it would be ${store.jobDir(m.jobId)}, and its checkpoint${old.length > 1 ? 's' : ''} ${old.join(', ')} (taken by an older cryopipe) can't be restored at another path`,
    'REFUSED',
    `import it with CRYOPIPE_HOME=${dirname(dirname(m.jobDir))}`,
  );
}

/** Renames when on the same filesystem, else copies; never replaces an existing file. */
function moveNew(from: string, to: string): void {
  if (existsSync(to)) throw new JobError(`${to} appeared during the import`, 'REFUSED');
  try {
    if (statSync(from).dev === statSync(dirname(to)).dev) {
      renameSync(from, to);
      return;
    }
  } catch {
    // Fall back to copying.
  }
  copyFileSync(from, to, constants.COPYFILE_EXCL);
  unlinkSync(from);
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  if (statSync(a).size !== statSync(b).size) return false;
  const [ha, hb] = await Promise.all([a, b].map(sha256));
  return ha === hb;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

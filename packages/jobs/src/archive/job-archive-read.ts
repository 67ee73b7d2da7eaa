import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CheckpointMeta, isCleanAbsolute, JOB_ID } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import { checkFile } from '../integrity/file-state.ts';
import { mkdirPrivate } from '../store/home.ts';
import type { JobRecord, JobStore } from '../store/job-store.ts';
import { writeJsonAtomic } from '../store/job-store.ts';
import { spoolArchive } from './archive-seal.ts';
import {
  IMPORT_RECORD,
  type ImportRecord,
  importedJobRecord,
  validateStagedCheckpoints,
} from './imported-job.ts';
import {
  type ExportManifest,
  entryTarget,
  MANIFEST_ENTRY,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from './job-archive.ts';
import { zstdDone } from './job-archive-zstd.ts';
import { type Authenticity, authenticate } from './trust.ts';

/** Where `import` puts the job's outputs (files the checkpoints recorded outside the job directory). */
export type OutputPlacement =
  /** Default: `JOBDIR/outputs/NAME`, nothing outside the new job directory. */
  | {
      /** Into the imported job's own directory. */
      to: 'job';
    }
  /** `DIR/NAME` (DIR is created 0700 if missing). */
  | {
      /** Into a directory of the caller's choice. */
      to: 'dir';
      /** That directory. */
      dir: string;
    }
  /** The paths the manifest records, as on the exporting machine. */
  | {
      /** Back to the paths recorded at export. */
      to: 'recorded';
    };

/** Options of `importJob()`. */
export interface ImportOptions {
  /** Accept an unsigned archive, or one signed by a key not in HOME/trusted-keys. */
  trustUnsigned?: boolean;
  /** The secret of an encrypted archive (see archive-cipher.ts). */
  decryptSecret?: Buffer;
  /** Where to place the job's output files (default: into the imported job's directory). */
  outputs?: OutputPlacement;
  /** Import under this name (the archive's name is taken here, or to rename it). */
  name?: string;
}

/** What `importJob()` made. */
export interface ImportOutcome {
  /** The archive's manifest. */
  manifest: ExportManifest;
  /** The imported job's name here, if it has one. */
  name?: string;
  /** Whether and by whom the archive was signed. */
  authenticity: Authenticity;
  /** Where each output went: `to` differs from `from` unless placed at its recorded path. */
  outputs: {
    /** The path recorded in the archive. */
    from: string;
    /** Where the output was placed. */
    to: string;
  }[];
  /** Outputs written (by their new path); those already present with the same bytes are left alone. */
  placed: string[];
  /** Outputs already present with the recorded content, left as they were. */
  unchanged: string[];
}

/**
 * Brings a `cryopipe export` stream into this CRYOPIPE_HOME, trusting
 * nothing in it:
 * 1. spool: the stream goes (decrypted if needed) into a private staging
 *    directory, hashed on the way;
 * 2. authenticate: its Ed25519 signature must verify and name a trusted
 *    key (or `trustUnsigned`); until then nothing parses its bytes;
 * 3. unpack into staging: only files and directories under `job/` and the
 *    manifest's `outputs/N`, created O_EXCL|O_NOFOLLOW, private;
 * 4. validate: job.json, every checkpoint.json, the outputs' sizes and
 *    hashes, the job id and name new here;
 * 5. place: outputs into the job directory (or where told), then one
 *    rename of the job directory into the store.
 * A failure at any step removes the staging directory and leaves the
 * store and the rest of the machine as they were.
 */
export async function importJob(
  store: JobStore,
  source: Readable,
  options: ImportOptions = {},
): Promise<ImportOutcome> {
  mkdirPrivate(store.jobsDir);
  const staging = join(store.jobsDir, `.import-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { mode: 0o700 }); // not recursive: must be new
  try {
    const spool = join(staging, 'archive.tar.zst');
    const spooled = await spoolArchive(source, spool, options.decryptSecret);
    const authenticity = authenticate(store.home, spooled, options.trustUnsigned ?? false);
    const manifest = await unpack(spool, staging);
    rmSync(spool);
    const stagedJob = join(staging, 'job');
    const job = importedJobRecord(readStagedFile(join(stagedJob, 'job.json')), manifest);
    if (options.name !== undefined) job.name = checkedName(options.name);
    assertNew(store, job);
    const checkpoints = validateStagedCheckpoints(stagedJob, manifest);
    if (store.jobDir(manifest.jobId) !== manifest.jobDir)
      assertRelocatable(checkpoints, manifest, store);
    assertOutputsIntact(staging, manifest);
    const plan = planOutputs(store, manifest, options.outputs ?? { to: 'job' });
    const { placed, unchanged } = await placeOutputs(
      staging,
      manifest,
      plan,
      store.jobDir(manifest.jobId),
    );
    try {
      const record: ImportRecord = {
        format: 1,
        importedAt: new Date().toISOString(),
        ...(authenticity.kind === 'signed' ? { signedBy: authenticity.keyId } : {}),
        outputs: manifest.outputs.map((o, i) => ({ from: o.path, to: plan[i]! })),
      };
      rmSync(join(stagedJob, IMPORT_RECORD), { force: true }); // an earlier import's record
      writeJsonAtomic(join(stagedJob, IMPORT_RECORD), record);
      writeJsonAtomic(join(stagedJob, 'job.json'), job);
      assertNew(store, job); // again, just before the rename: another import may have won
      renameSync(stagedJob, store.jobDir(manifest.jobId));
    } catch (err) {
      for (const p of placed) if (!p.startsWith(`${staging}/`)) rmSync(p, { force: true });
      throw err;
    }
    return {
      manifest,
      ...(job.name !== undefined ? { name: job.name } : {}),
      authenticity,
      outputs: manifest.outputs.map((o, i) => ({ from: o.path, to: plan[i]! })),
      placed: placed.map((p) => p.replace(stagedJob, store.jobDir(manifest.jobId))),
      unchanged,
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Unpacks the verified spool into `staging/job` and `staging/outputs`. */
async function unpack(spool: string, staging: string): Promise<ExportManifest> {
  // Loaded here, not at the top: no other command pays for tar-stream's modules.
  const { extract: tarExtract } = await import('tar-stream');
  const input = openSync(spool, constants.O_RDONLY | constants.O_NOFOLLOW);
  const zstd = spawn('zstd', ['-q', '-d', '-c'], { stdio: [input, 'pipe', 'pipe'] });
  closeSync(input);
  const done = zstdDone(zstd);
  const extract = tarExtract();
  const read = pipeline(zstd.stdout!, extract);
  for (const p of [done, read]) p.catch(() => {}); // awaited below
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
        if ((entry.header.size ?? 0) > MAX_MANIFEST_BYTES)
          throw new JobError('not a cryopipe export: its manifest is too large', 'REFUSED');
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
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
        // O_EXCL: an entry named twice is refused rather than replaced; O_NOFOLLOW:
        // never through a link (none can exist in staging, whose entries are ours).
        const fd = openSync(
          path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        await pipeline(entry, createWriteStream('', { fd }));
        // The recorded permission bits (CRIU checks them), never set-id nor
        // writable by others; the job directory itself stays 0700.
        if (target.kind === 'job') chmodSync(path, (entry.header.mode ?? 0o600) & 0o755);
      } else {
        throw new JobError(
          `refusing archive entry ${JSON.stringify(name)}: a ${type}, where only files and directories belong`,
          'REFUSED',
          'import only archives made by cryopipe export',
        );
      }
    }
    await Promise.all([read, done]);
  } catch (err) {
    zstd.kill('SIGKILL');
    await done.catch(() => {});
    throw asDamaged(err);
  }
  if (!manifest) throw new JobError('the archive is empty', 'REFUSED');
  if (!existsSync(join(staging, 'job', 'job.json')))
    throw new JobError('the archive has no job.json', 'REFUSED', 'export the job again');
  return manifest;
}

/**
 * What zstd or the tar parser say about bytes that are not an archive (only
 * reachable for archives taken with --trust-unsigned: a signed one was
 * verified first) is a refusal of the archive, not a failure of cryopipe.
 */
function asDamaged(err: unknown): unknown {
  if (JobError.is(err) && err.code !== 'FAILED') return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT') return err;
  return new JobError(
    `not a cryopipe export, or a damaged one: ${(err as Error).message}`,
    'REFUSED',
    'export it again',
  );
}

function readStagedFile(path: string): string {
  if (!lstatSync(path).isFile()) throw new JobError(`${basename(path)} is not a file`, 'REFUSED');
  return readFileSync(path, 'utf8');
}

function checkedName(name: string): string {
  if (!JOB_ID.test(name))
    throw new JobError(
      `invalid job name '${name}': use lower-case letters, digits, '.', '_' and '-' (at most 64)`,
      'USAGE',
    );
  return name;
}

/** The id must be new here, and so must the name: two jobs of one name make `kill NAME` a guess. */
function assertNew(store: JobStore, job: JobRecord): void {
  if (existsSync(store.jobDir(job.id)))
    throw new JobError(
      `job ${job.id} already exists in this CRYOPIPE_HOME`,
      'REFUSED',
      `remove it first ('cryopipe rm ${job.id}') or import into another CRYOPIPE_HOME`,
    );
  if (job.name === undefined) return;
  const other = store.list().find((j) => j.name === job.name || j.id === job.name);
  if (other)
    throw new JobError(
      `a job named '${job.name}' already exists here (${other.id})`,
      'REFUSED',
      `import it under another name with --name NEW, or remove the other one ('cryopipe rm ${other.id}')`,
    );
}

/**
 * A job imported under another path is restored with its files moved (see
 * relocation.ts), which needs every checkpoint to say where its job
 * directory was; checkpoints of older cryopipe versions don't.
 */
function assertRelocatable(
  checkpoints: CheckpointMeta[],
  m: ExportManifest,
  store: JobStore,
): void {
  const old = checkpoints.filter((c) => c.jobDir === undefined).map((c) => c.number);
  if (old.length === 0) return;
  throw new JobError(
    `job ${m.jobId} was exported from ${m.jobDir}; here it would be ${store.jobDir(m.jobId)}, and its checkpoint${old.length > 1 ? 's' : ''} ${old.join(', ')} (taken by an older cryopipe) can't be restored at another path`,
    'REFUSED',
    `import it with CRYOPIPE_HOME=${dirname(dirname(m.jobDir))}`,
  );
}

function assertOutputsIntact(staging: string, manifest: ExportManifest): void {
  for (const o of manifest.outputs) {
    const staged = join(staging, o.entry);
    if (!existsSync(staged) || checkFile({ ...o, path: staged }).action !== 'unchanged')
      throw new JobError(
        `the archive's copy of ${o.path} is missing or damaged`,
        'REFUSED',
        'export the job again',
      );
  }
}

/** Where each output goes, checked before anything is written there. */
function planOutputs(
  store: JobStore,
  manifest: ExportManifest,
  placement: OutputPlacement,
): string[] {
  if (placement.to === 'recorded') {
    for (const o of manifest.outputs) assertRecordedPathSafe(store, o.path);
    return manifest.outputs.map((o) => o.path);
  }
  const dir =
    placement.to === 'job' ? join(store.jobDir(manifest.jobId), 'outputs') : placement.dir;
  if (placement.to === 'dir') {
    if (!isCleanAbsolute(dir))
      throw new JobError(`--outputs-to needs an absolute path, not ${dir}`, 'USAGE');
    if (existsSync(dir) && realpathSync(dir) !== dir)
      throw new JobError(
        `${dir} goes through a symlink`,
        'USAGE',
        `give its real path: ${realpathSync(dir)}`,
      );
  }
  const seen = new Map<string, string>();
  return manifest.outputs.map((o) => {
    const to = join(dir, basename(o.path));
    const other = seen.get(to);
    if (other)
      throw new JobError(
        `the job writes two files named ${basename(o.path)} (${other} and ${o.path}); they can't both go to ${dir}`,
        'USAGE',
        'import with --outputs-at-recorded-paths',
      );
    seen.set(to, o.path);
    return to;
  });
}

/**
 * `--outputs-at-recorded-paths` writes where the manifest says, but only
 * into a directory that exists, is reached without symlinks, and is not part
 * of any cryopipe home: an output path must never plant a file into a job
 * directory (its own or another's), which a later restore would act on.
 */
function assertRecordedPathSafe(store: JobStore, path: string): void {
  const parent = dirname(path);
  const refuse = (why: string) =>
    new JobError(
      `refusing to write the output ${path}: ${why}`,
      'REFUSED',
      'import without --outputs-at-recorded-paths (outputs go into the job directory), or with --outputs-to DIR',
    );
  let real: string;
  try {
    real = realpathSync(parent);
  } catch {
    throw refuse(`its directory ${parent} does not exist here`);
  }
  if (real !== parent) throw refuse(`its directory goes through a symlink (to ${real})`);
  for (let d = parent; ; d = dirname(d)) {
    if (d === store.home || existsSync(join(d, 'job.json')) || existsSync(join(d, 'trusted-keys')))
      throw refuse(`it is inside a cryopipe home or job directory (${d})`);
    if (d === '/') break;
  }
  if (existsSync(path) && !lstatSync(path).isFile())
    throw refuse('something that is not a file is there');
}

/**
 * Puts the outputs where the plan says: into the staged job directory (it is
 * renamed into place with it) or outside it, never replacing a file that
 * differs, never through a symlink, with the recorded mode & 0o666.
 */
async function placeOutputs(
  staging: string,
  manifest: ExportManifest,
  plan: string[],
  finalJobDir: string,
): Promise<{ placed: string[]; unchanged: string[] }> {
  const stagedJob = join(staging, 'job');
  const target = (to: string) =>
    to.startsWith(`${finalJobDir}/`) ? join(stagedJob, relative(finalJobDir, to)) : to;
  const unchanged: string[] = [];
  const clashes: string[] = [];
  for (const [i, o] of manifest.outputs.entries()) {
    const to = target(plan[i]!);
    if (!existsSync(to) && !isSymlink(to)) continue;
    if (
      lstatSync(to).isFile() &&
      (lstatSync(to).mode & 0o777) === (o.mode & 0o666) &&
      (await sameBytes(to, join(staging, o.entry)))
    )
      unchanged.push(plan[i]!);
    else clashes.push(`  ${plan[i]!}`);
  }
  if (clashes.length)
    throw new JobError(
      `refusing to overwrite ${clashes.length === 1 ? 'a file that differs' : 'files that differ'} from the job's output:\n${clashes.join('\n')}`,
      'REFUSED',
      'move them away, then import again',
    );
  const placed: string[] = [];
  try {
    for (const [i, o] of manifest.outputs.entries()) {
      if (unchanged.includes(plan[i]!)) continue;
      const to = target(plan[i]!);
      mkdirPrivate(dirname(to));
      moveNew(join(staging, o.entry), to, o.mode & 0o666);
      placed.push(to);
    }
  } catch (err) {
    for (const p of placed) rmSync(p, { force: true });
    throw err;
  }
  return { placed, unchanged };
}

/**
 * A hard link where the filesystem allows (atomic, fails if anything, a
 * symlink included, is at `to`), else an O_EXCL copy; never replaces nor
 * follows anything.
 */
function moveNew(from: string, to: string, mode: number): void {
  chmodSync(from, mode);
  try {
    linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new JobError(`${to} appeared during the import`, 'REFUSED');
    if (code !== 'EXDEV' && code !== 'EPERM') throw err;
    copyFileSync(from, to, constants.COPYFILE_EXCL);
    chmodSync(to, mode);
  }
  unlinkSync(from);
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
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

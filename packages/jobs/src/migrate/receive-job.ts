import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join, normalize } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { PageServer } from '@cryopipe/criu-client';
import {
  IMPORT_RECORD,
  type ImportRecord,
  importedJobRecord,
  validateStagedCheckpoints,
} from '../archive/imported-job.ts';
import type { ExportManifest } from '../archive/job-archive.ts';
import { importJob } from '../archive/job-archive-read.ts';
import { readCheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import { hashImages, imageIdentities } from '../integrity/image-manifest.ts';
import { describeCriuError, openCriu, requireRoot } from '../machine/criu.ts';
import { criuVersion } from '../machine/machine-facts.ts';
import { noProgress, type Progress } from '../progress.ts';
import { restoreJob } from '../restore/restore-job.ts';
import { mkdirPrivate } from '../store/home.ts';
import { type JobRecord, type JobStore, writeJsonAtomic } from '../store/job-store.ts';
import { processExists } from '../store/process-exists.ts';
import { FrameReader, FrameWriter, heartbeat, protocolError } from './frames.ts';
import {
  type FileMessage,
  type HelloMessage,
  MIGRATE_PROTOCOL,
  type RestoredMessage,
  type RestoreMessage,
} from './protocol.ts';

/** Options of `receiveJob()`. */
export interface ReceiveOptions {
  /** Receives one line per step (the CLI writes them to stderr, which ssh carries back). */
  onProgress?: Progress;
}

/** What `receiveJob()` did. */
export interface ReceiveOutcome {
  /** The job's id here. */
  id: string;
  /** Host pid of the restored root. */
  rootPid: number;
  /** Whether the source confirmed it removed its copy (false: the channel closed first). */
  confirmed: boolean;
}

/** The staging directory of one receive: `jobs/.migrate-<pid>`, removed by the next receive if its owner died. */
const STAGING = /^\.migrate-(\d+)$/;

/**
 * The destination side of `migrateJob()`, speaking the framed protocol on
 * `input`/`output` (ssh's channel): checks it can take the job (criu
 * version, CPU, free space, output paths), runs a page server on
 * 127.0.0.1 for the source's dump, receives the small images, the job
 * record and the outputs' bytes into a private staging directory, moves
 * the job into the store and restores it. Until the restore succeeded,
 * any failure (or the channel closing) removes everything it made and
 * tells the source, whose job then runs on.
 */
export async function receiveJob(
  store: JobStore,
  input: Readable,
  output: Writable,
  options: ReceiveOptions = {},
): Promise<ReceiveOutcome> {
  requireRoot('receive a job');
  const progress = options.onProgress ?? noProgress;
  const reader = new FrameReader(input, 'the source');
  const writer = new FrameWriter(output);
  const stopHeartbeat = heartbeat(writer);
  mkdirPrivate(store.jobsDir);
  removeDeadStaging(store.jobsDir);
  const staging = mkdirPrivate(join(store.jobsDir, `.migrate-${process.pid}`));
  const made: string[] = []; // outputs written outside staging
  let server: PageServer | undefined;
  let moved: string | undefined; // the job directory once in the store
  let restored: { id: string; rootPid: number } | undefined;
  try {
    const hello = parseHello(await reader.message());
    const criu = openCriu(store.home);
    let criuVersion: string;
    try {
      criuVersion = await checkMachine(criu, store, hello, staging);
      progress(`taking job ${hello.jobId}: criu ${criuVersion}, CPU compatible`);
      if (!hello.viaArchive) server = await startPageServer(criu, staging, hello.pagePort);
    } finally {
      criu.close();
    }
    await writer.send({ type: 'ready', criuVersion, freeBytes: freeBytes(store.jobsDir) });
    const placement = outputPlacement(hello);
    let received: {
      id: string;
      checkpoint?: number;
      pageBytes: number;
      outputs: { from: string; to: string }[];
    };
    if (hello.viaArchive) {
      received = await receiveArchive(store, reader, hello, made, progress);
      moved = store.jobDir(received.id);
    } else {
      const restore = await receiveFiles(reader, staging, placement, made);
      progress('all images received; restoring…');
      const pageBytes = await collectPages(server!, staging, restore.checkpoint);
      server = undefined;
      const { record, cpDir } = stageJob(staging, restore, hello, placement);
      // Identities of the images as they are here: the restore checks them with a stat each.
      const meta = JSON.parse(readFileSync(join(cpDir, 'checkpoint.json'), 'utf8'));
      writeJsonAtomic(join(cpDir, 'checkpoint.json'), { ...meta, images: imageIdentities(cpDir) });
      readCheckpointMeta(cpDir);
      assertNew(store, record);
      // A job that comes back replaces the record it left here.
      if (cameBack(store, record.id))
        rmSync(store.jobDir(record.id), { recursive: true, force: true });
      moved = store.jobDir(record.id);
      renameSync(join(staging, 'job'), moved);
      received = {
        id: record.id,
        checkpoint: restore.checkpoint,
        pageBytes,
        outputs: restore.outputs.map((o) => ({ from: o.path, to: placement(o.path) })),
      };
    }
    const record = { id: received.id };
    const outcome = await restoreJob(store, record.id, { onProgress: progress });
    restored = { id: outcome.id, rootPid: outcome.rootPid };
    progress(
      `job ${outcome.id} restored here (pid ${outcome.rootPid}, criu ${Math.round(outcome.ms)} ms${outcome.stats ? `, restore time ${Math.round(outcome.stats.restoreTimeUs / 1000)} ms` : ''})`,
    );
    await sendRestored(store, outcome, made, writer, {
      type: 'restored',
      id: outcome.id,
      rootPid: outcome.rootPid,
      restoreMs: outcome.ms,
      pageBytes: received.pageBytes,
      outputs: received.outputs,
    });
    // The job runs here now. If the channel dies before the source's 'done',
    // the source may have killed its copy already: keeping this one is what
    // loses nothing (at worst the job runs on both machines).
    const confirmed = await reader
      .message()
      .then((m) => m.type === 'done')
      .catch(() => false);
    if (received.checkpoint !== undefined)
      await hashReceivedImages(store.checkpointDir(record.id, received.checkpoint));
    return { ...restored, confirmed };
  } catch (err) {
    if (!restored) {
      await server?.stop().catch(() => {});
      if (moved) rmSync(moved, { recursive: true, force: true });
      for (const path of made) rmSync(path, { force: true });
      const e = JobError.is(err) ? err : new JobError((err as Error).message, 'FAILED');
      await writer
        .send({
          type: 'error',
          message: e.message,
          code: e.code,
          ...(e.hint ? { hint: e.hint } : {}),
        })
        .catch(() => {});
    }
    throw err;
  } finally {
    stopHeartbeat();
    rmSync(staging, { recursive: true, force: true });
  }
}

async function startPageServer(
  criu: ReturnType<typeof openCriu>,
  staging: string,
  port: number,
): Promise<PageServer> {
  const server = await criu
    .pageServer({ imagesDir: mkdirPrivate(join(staging, 'pages')), address: '127.0.0.1', port })
    .catch((err: unknown) => {
      throw new JobError(
        `the destination could not start a page server on port ${port}: ${describeCriuError(err)}`,
        'BUSY',
        'run migrate again (it picks another port)',
      );
    });
  writeFileSync(join(staging, 'page-server.pid'), String(server.pid));
  return server;
}

/**
 * --via-archive: the source's `export` stream arrives in data frames between
 * 'archive' and 'archive-end' and goes straight into `importJob` (unsigned
 * is accepted: the stream comes over the SSH connection the source
 * authenticated). The outputs go to --output-dir or their recorded paths.
 */
async function receiveArchive(
  store: JobStore,
  reader: FrameReader,
  hello: HelloMessage,
  made: string[],
  progress: Progress,
): Promise<{ id: string; pageBytes: number; outputs: { from: string; to: string }[] }> {
  const start = await reader.message();
  if (start.type === 'error') throw remoteError(start);
  if (start.type !== 'archive')
    throw protocolError(`'${String(start.type)}' where 'archive' was expected`);
  // A job that comes back replaces the record it left here.
  if (cameBack(store, hello.jobId)) store.remove(hello.jobId);
  const stream = new PassThrough();
  const imported = importJob(store, stream, {
    trustUnsigned: true,
    outputs:
      hello.outputDir !== undefined ? { to: 'dir', dir: hello.outputDir } : { to: 'recorded' },
  });
  imported.catch(() => {}); // awaited below
  let bytes = 0;
  try {
    for (;;) {
      const f = await reader.next();
      if (f.kind === 'data') {
        bytes += f.data.length;
        if (!stream.write(f.data)) await new Promise((r) => stream.once('drain', r));
        continue;
      }
      const m = f.message as Record<string, unknown>;
      if (m.type === 'error') throw remoteError(m);
      if (m.type !== 'archive-end') throw protocolError(`'${String(m.type)}' inside the archive`);
      stream.end();
      break;
    }
  } catch (err) {
    stream.destroy(err as Error);
    throw err;
  }
  const outcome = await imported;
  for (const p of outcome.placed) if (!p.startsWith(store.jobDir(hello.jobId))) made.push(p);
  progress(`archive of ${bytes} bytes imported; restoring…`);
  return { id: outcome.manifest.jobId, pageBytes: 0, outputs: outcome.outputs };
}

function parseHello(m: Record<string, unknown>): HelloMessage {
  if (m.type === 'error') throw remoteError(m);
  if (m.type !== 'hello') throw protocolError(`'${String(m.type)}' where 'hello' was expected`);
  if (m.protocol !== MIGRATE_PROTOCOL)
    throw new JobError(
      `the source speaks migrate protocol ${String(m.protocol)}, this cryopipe ${MIGRATE_PROTOCOL}`,
      'REFUSED',
      'install the same cryopipe version on both machines',
    );
  const h = m as unknown as HelloMessage;
  if (typeof h.jobId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(h.jobId))
    throw protocolError('a bad job id');
  if (!Number.isInteger(h.pagePort) || h.pagePort <= 0 || h.pagePort > 65535)
    throw protocolError('a bad page server port');
  if (
    !Array.isArray(h.outputs) ||
    !h.outputs.every((o) => typeof o === 'string' && o.startsWith('/'))
  )
    throw protocolError('bad outputs');
  return h;
}

export function remoteError(m: Record<string, unknown>): JobError {
  const codes = ['FAILED', 'USAGE', 'NOT_FOUND', 'BUSY', 'ENVIRONMENT', 'REFUSED'];
  const code = codes.includes(m.code as string) ? (m.code as JobError['code']) : 'FAILED';
  return new JobError(String(m.message), code, typeof m.hint === 'string' ? m.hint : undefined);
}

/** Whether this machine can take the job: criu, CPU, space, a free id/name and output paths. */
async function checkMachine(
  criu: ReturnType<typeof openCriu>,
  store: JobStore,
  hello: HelloMessage,
  staging: string,
): Promise<string> {
  const version = (await criuVersion(criu, store.home)).text;
  if (version !== hello.criuVersion)
    throw new JobError(
      `the destination has criu ${version}, the source criu ${hello.criuVersion}: images restore only with the criu that wrote them`,
      'ENVIRONMENT',
      'install the same criu version on both machines',
    );
  const cpu = mkdirPrivate(join(staging, 'cpuinfo'));
  writeFileSync(join(cpu, 'cpuinfo.img'), Buffer.from(hello.cpuinfo, 'base64'), { mode: 0o600 });
  await criu.cpuinfoCheck({ imagesDir: cpu }).catch((err: unknown) => {
    throw new JobError(
      `the destination's CPU can't run this job: ${describeCriuError(err)}`,
      'ENVIRONMENT',
      'migrate to a machine with the same CPU features (criu cpuinfo check)',
    );
  });
  const free = freeBytes(store.jobsDir);
  if (free < hello.bytesNeeded)
    throw new JobError(
      `the destination has ${free} bytes free under ${store.home}, the job needs about ${hello.bytesNeeded}`,
      'ENVIRONMENT',
      'free space there, or point CRYOPIPE_HOME at a larger file system',
    );
  assertNew(store, { id: hello.jobId, ...(hello.name ? { name: hello.name } : {}) });
  const placement = outputPlacement(hello);
  for (const path of hello.outputs) {
    const to = placement(path);
    if (existsSync(to))
      throw new JobError(
        `the destination already has ${to}`,
        'REFUSED',
        hello.outputDir
          ? 'choose another --output-dir'
          : 'move it away, or put the outputs elsewhere with --output-dir DIR',
      );
  }
  return version;
}

/**
 * The job must be new here, unless it is coming back: its record here says
 * it migrated away (then that record is replaced).
 */
function assertNew(store: JobStore, job: Pick<JobRecord, 'id' | 'name'>): void {
  if (existsSync(store.jobDir(job.id)) && !cameBack(store, job.id))
    throw new JobError(
      `job ${job.id} already exists on the destination`,
      'REFUSED',
      `remove it there first ('cryopipe rm ${job.id}')`,
    );
  if (job.name !== undefined && store.list().some((j) => j.name === job.name && j.id !== job.id))
    throw new JobError(
      `a job named '${job.name}' already exists on the destination`,
      'REFUSED',
      'remove or rename it there first',
    );
}

/** Where each output goes here: its own path, or DIR/NAME with --output-dir. */
function outputPlacement(hello: HelloMessage): (path: string) => string {
  if (hello.outputDir === undefined) return (path) => path;
  const dir = hello.outputDir;
  return (path) => join(dir, basename(path));
}

function cameBack(store: JobStore, id: string): boolean {
  try {
    return store.load(id).phase === 'migrated';
  } catch {
    return false;
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Receives `file` messages (and their bytes) until `restore`. */
async function receiveFiles(
  reader: FrameReader,
  staging: string,
  placement: (path: string) => string,
  made: string[],
): Promise<RestoreMessage> {
  const jobDir = mkdirPrivate(join(staging, 'job'));
  for (;;) {
    const m = await reader.message();
    if (m.type === 'error') throw remoteError(m);
    if (m.type === 'restore') return m as unknown as RestoreMessage;
    if (m.type !== 'file') throw protocolError(`'${String(m.type)}' where a file was expected`);
    const f = m as unknown as FileMessage;
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw protocolError('a bad file size');
    let path: string;
    if (f.role === 'job') {
      const rel = normalize(f.path);
      if (rel.startsWith('/') || rel === '.' || rel.split('/').includes('..'))
        throw protocolError(`a job file outside the job directory: ${f.path}`);
      path = join(jobDir, rel);
      mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    } else {
      path = placement(f.path);
      mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    }
    const fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      (f.mode ?? 0o600) & 0o755,
    );
    if (f.role === 'output') made.push(path);
    try {
      let left = f.size;
      while (left > 0) {
        const frame = await reader.next();
        if (frame.kind !== 'data') throw protocolError('a message inside a file');
        if (frame.data.length > left) throw protocolError('more bytes than announced');
        writeAll(fd, frame.data);
        left -= frame.data.length;
      }
    } finally {
      closeSync(fd);
    }
  }
}

function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done);
}

/** Waits for the page server to finish (the dump closed its connection), then moves its images into the checkpoint. */
async function collectPages(
  server: PageServer,
  staging: string,
  checkpoint: number,
): Promise<number> {
  const deadline = Date.now() + 30_000;
  // Daemonized, it is PID 1's child once it exits: a zombie until PID 1 gets to it.
  while (runs(server.pid)) {
    if (Date.now() > deadline) {
      await server.stop();
      throw new JobError('the page server did not finish after the dump ended', 'FAILED');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const pages = join(staging, 'pages');
  const cpDir = join(staging, 'job', 'checkpoints', String(checkpoint));
  if (!existsSync(join(cpDir, 'checkpoint.json')))
    throw protocolError(`checkpoint ${checkpoint} was not sent`);
  let bytes = 0;
  for (const name of readdirSync(pages)) {
    if (name.endsWith('.log')) continue;
    bytes += statSync(join(pages, name)).size;
    renameSync(join(pages, name), join(cpDir, name));
  }
  if (bytes === 0) throw new JobError('the page server received no pages', 'FAILED');
  return bytes;
}

/** The received job directory made into an imported job: sanitized job.json, imported.json. */
function stageJob(
  staging: string,
  restore: RestoreMessage,
  hello: HelloMessage,
  placement: (path: string) => string,
): { record: JobRecord; cpDir: string } {
  const stagedJob = join(staging, 'job');
  const manifest: ExportManifest = {
    format: 1,
    jobId: hello.jobId,
    jobDir: restore.jobDir,
    exportedAt: new Date().toISOString(),
    checkpoints: [restore.checkpoint],
    outputs: restore.outputs.map((o, i) => ({
      entry: `outputs/${i}`,
      path: o.path,
      size: o.size,
      tailSha256: o.tailSha256,
      mode: 0o644,
    })),
  };
  const record = importedJobRecord(readFileSync(join(stagedJob, 'job.json'), 'utf8'), manifest);
  validateStagedCheckpoints(stagedJob, manifest);
  const imported: ImportRecord = {
    format: 1,
    importedAt: new Date().toISOString(),
    outputs: restore.outputs.map((o) => ({ from: o.path, to: placement(o.path) })),
    migratedFrom: hello.source,
  };
  rmSync(join(stagedJob, IMPORT_RECORD), { force: true });
  writeJsonAtomic(join(stagedJob, IMPORT_RECORD), imported);
  writeJsonAtomic(join(stagedJob, 'job.json'), record);
  return { record, cpDir: join(stagedJob, 'checkpoints', String(restore.checkpoint)) };
}

/** Whether process `pid` has a descriptor open on `dir` or anything under it. */
function holdsFileUnder(pid: number, path: string): boolean {
  try {
    const dir = realpathSync(path); // /proc's links name real paths
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        return target === dir || target.startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Staging directories of receives that died (SIGKILL): removed, with a page server they left. */
function removeDeadStaging(jobsDir: string): void {
  for (const name of readdirSync(jobsDir)) {
    const m = STAGING.exec(name);
    if (!m || processExists(Number(m[1]))) continue;
    const dir = join(jobsDir, name);
    try {
      const pid = Number(readFileSync(join(dir, 'page-server.pid'), 'utf8'));
      // Only while that pid is still this staging's page server (it holds its
      // pages directory open): a recorded pid may since be any other criu.
      if (
        pid > 1 &&
        readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'criu' &&
        holdsFileUnder(pid, dir)
      )
        process.kill(pid, 'SIGKILL');
    } catch {
      // No page server recorded, or it is gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Adds the content hashes to the received checkpoint once the job runs (so
 * they cost no downtime): an export or a later move can then prove the
 * images intact. Without them the checkpoint restores here by identity.
 */
async function hashReceivedImages(cpDir: string): Promise<void> {
  try {
    const meta = JSON.parse(readFileSync(join(cpDir, 'checkpoint.json'), 'utf8'));
    const images = await hashImages(cpDir, meta.images);
    writeJsonAtomic(join(cpDir, 'checkpoint.json'), { ...meta, images });
  } catch {
    // The checkpoint stays as it was: restorable here while its images are unchanged.
  }
}

/** Whether `pid` runs (exists and is not a zombie). */
function runs(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Acknowledges the restore. When even that fails (the channel is gone), the
 * source never hears of it and resumes its own copy: this one is killed and
 * removed, so the job does not run twice.
 */
async function sendRestored(
  store: JobStore,
  outcome: { id: string; rootPid: number },
  made: readonly string[],
  writer: FrameWriter,
  message: RestoredMessage,
): Promise<void> {
  try {
    await writer.send(message);
  } catch (err) {
    try {
      process.kill(-outcome.rootPid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    store.remove(outcome.id);
    for (const path of made) rmSync(path, { force: true });
    throw err;
  }
}

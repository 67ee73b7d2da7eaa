import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { Procfs } from '@cryopipe/procfs';
import { exportJob } from '../archive/job-archive-write.ts';
import { checkpointJob } from '../checkpoint/checkpoint-job.ts';
import type { CheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { resumeStoppedTree } from '../checkpoint/stopped-tree.ts';
import { recordTreeFiles } from '../checkpoint/tree-files.ts';
import { JobError } from '../errors.ts';
import { describeCriuError, openCriu, requireRoot } from '../machine/criu.ts';
import { criuVersion } from '../machine/machine-facts.ts';
import { noProgress, type Progress } from '../progress.ts';
import { isWithin } from '../restore/relocation.ts';
import { restoreJob } from '../restore/restore-job.ts';
import { type JobRef, type JobStore, RESTORE_LOGS_DIR } from '../store/job-store.ts';
import { liveRoot } from '../store/liveness.ts';
import { FrameReader, FrameWriter, heartbeat, MAX_FRAME } from './frames.ts';
import { type HelloMessage, MIGRATE_PROTOCOL, type RestoredMessage } from './protocol.ts';
import { remoteError } from './receive-job.ts';

/** Options of `migrateJob()`. */
export interface MigrateOptions {
  /** Put the job's outputs into this directory on the destination (default: their paths here). */
  outputDir?: string;
  /** The cryopipe command on the destination (default `cryopipe`); a shell word list. */
  remoteCryopipe?: string;
  /** Extra arguments for ssh, before the destination (e.g. `-i KEY`, `-o UserKnownHostsFile=…`, `-p PORT`). */
  sshArgs?: string[];
  /** The ssh client (default `ssh` from PATH). */
  ssh?: string;
  /** Receives one line per step, the destination's included. */
  onProgress?: Progress;
  /**
   * Move the job as `export` → stream → `import` → `restore` over the same
   * connection, without a page server (for machines where one can't run):
   * a stopping checkpoint here, so a failure restores the job here from it.
   */
  viaArchive?: boolean;
}

/** What `migrateJob()` did. */
export interface MigrateOutcome {
  /** The job's id (the same on both machines). */
  id: string;
  /** The destination as given. */
  dest: string;
  /** Host pid of the restored root on the destination. */
  remotePid: number;
  /** Where each output went on the destination. */
  outputs: {
    /** The output's path here. */
    from: string;
    /** Its path on the destination. */
    to: string;
  }[];
  /** Milliseconds the job did not run, and how they split. */
  downtime: {
    /** From the freeze to the resume on the destination. */
    totalMs: number;
    /** criu's frozen time: the tree stopped while its memory streamed to the page server. */
    frozenMs: number;
    /** Sending the small images, job record and outputs. */
    transferMs: number;
    /** The destination's restore, until its acknowledgement arrived. */
    restoreMs: number;
  };
  /** Bytes moved: pages through the page server, everything else on the channel. */
  bytes: {
    /** Memory pages received by the destination's page server (0 with `viaArchive`). */
    pages: number;
    /** Bytes sent on the connection: small images, job record and outputs, or the archive. */
    files: number;
  };
}

const SKIPPED = new Set(['lock', 'periodic', RESTORE_LOGS_DIR]);

/**
 * Moves a running job to another machine over one SSH connection, with
 * about a second of downtime. `cryopipe receive` runs on the destination
 * and speaks a framed protocol on the channel; criu's page server there is
 * reached through a port forward of the same connection, so page traffic is
 * authenticated and encrypted by SSH. The dump leaves the tree stopped here;
 * only when the destination has restored the job and said so is the tree
 * killed and the job marked 'migrated'. Any failure before that resumes the
 * tree here, and the destination removes whatever it made.
 */
export async function migrateJob(
  store: JobStore,
  ref: JobRef,
  dest: string,
  options: MigrateOptions = {},
): Promise<MigrateOutcome> {
  requireRoot('migrate');
  const progress = options.onProgress ?? noProgress;
  const job = store.resolve(ref);
  const rootPid = liveRoot(store, job);
  if (rootPid === undefined)
    throw new JobError(
      `job ${job.id} is not running: only a running job migrates`,
      'FAILED',
      `a stopped job moves with 'cryopipe export' and 'cryopipe import'`,
    );
  const jobDir = store.jobDir(job.id);
  const now = await recordTreeFiles(rootPid, jobDir);
  const hello: HelloMessage = {
    type: 'hello',
    protocol: MIGRATE_PROTOCOL,
    jobId: job.id,
    ...(job.name ? { name: job.name } : {}),
    source: hostname(),
    ...(await criuFacts(store.home)),
    bytesNeeded:
      (await residentBytes(rootPid)) +
      now.files.filter((f) => !isWithin(f.path, jobDir)).reduce((s, f) => s + f.size, 0),
    outputs: now.files.filter((f) => !isWithin(f.path, jobDir)).map((f) => f.path),
    ...(options.outputDir !== undefined ? { outputDir: options.outputDir } : {}),
    ...(options.viaArchive ? { viaArchive: true } : {}),
    pagePort: 20000 + Math.floor(Math.random() * 30000),
  };
  const localPort = await freeLocalPort();
  progress(`connecting to ${dest}…`);
  const channel = openChannel(dest, localPort, hello.pagePort, options, progress);
  const viaArchive = Boolean(options.viaArchive);
  let checkpoint: CheckpointMeta | undefined;
  /** --via-archive: the stopping checkpoint taken; a failure restores the job from it. */
  let stoppedAt: number | undefined;
  let acked = false;
  const stopHeartbeat = heartbeat(channel.writer);
  try {
    await channel.writer.send(hello);
    const ready = await channel.reader.message();
    if (ready.type === 'error') throw remoteError(ready);
    if (ready.type !== 'ready')
      throw new JobError(`the destination answered '${String(ready.type)}'`, 'FAILED');
    let dumpStarted = performance.now();
    const onFreezing = () => {
      dumpStarted = performance.now();
    };
    let frozenMs: number;
    let dumped: number;
    if (viaArchive) {
      progress(`${dest} can take job ${job.id}; checkpointing it…`);
      const cp = await checkpointJob(store, job.id, { onProgress: progress, onFreezing });
      stoppedAt = cp.record.number;
      dumped = performance.now();
      frozenMs = cp.record.frozenMs ?? dumped - dumpStarted;
      progress(`checkpoint ${cp.record.number} taken; streaming it as an archive…`);
      await sendArchive(store, job.id, channel.writer, progress);
    } else {
      progress(`${dest} can take job ${job.id}; freezing it and streaming its memory…`);
      const cp = await checkpointJob(store, job.id, {
        leaveStopped: true,
        pageServer: { address: '127.0.0.1', port: localPort },
        onProgress: progress,
        onFreezing,
      });
      checkpoint = cp.record;
      dumped = performance.now();
      frozenMs = cp.record.frozenMs ?? dumped - dumpStarted;
      progress(`memory sent (frozen ${Math.round(frozenMs)} ms); sending images and outputs…`);
      const outputs = cp.record.files.filter((f) => !isWithin(f.path, jobDir));
      await sendJobDir(channel.writer, jobDir, cp.record.number);
      for (const o of outputs) await sendFile(channel.writer, 'output', o.path, o.path, o.size);
      await channel.writer.send({ type: 'restore', checkpoint: cp.record.number, jobDir, outputs });
    }
    const sent = performance.now();
    progress(`restoring on ${dest}…`);
    const answer = await channel.reader.message();
    if (answer.type === 'error') throw remoteError(answer);
    if (answer.type !== 'restored')
      throw new JobError(`the destination answered '${String(answer.type)}'`, 'FAILED');
    const restored = answer as unknown as RestoredMessage;
    acked = true;
    const done = performance.now();
    await finishHere(store, job.id, rootPid, checkpoint?.number, dest, restored.id);
    stopHeartbeat();
    await channel.writer.send({ type: 'done' }).catch(() => {});
    await channel.close();
    const transferMs = sent - dumped;
    const restoreMs = done - sent;
    return {
      id: job.id,
      dest,
      remotePid: restored.rootPid,
      outputs: restored.outputs,
      // From the freeze to the acknowledgement: criu's frozen time, the source's
      // bookkeeping after criu returned, the transfer and the restore.
      downtime: { totalMs: done - dumpStarted, frozenMs, transferMs, restoreMs },
      bytes: { pages: restored.pageBytes, files: channel.writer.bytes },
    };
  } catch (err) {
    if (acked) throw err;
    channel.kill();
    const resumed = await resumeStoppedTree(rootPid);
    if (stoppedAt !== undefined) await restoreHere(store, job.id, stoppedAt, progress);
    if (checkpoint) {
      rmSync(store.checkpointDir(job.id, checkpoint.number), { recursive: true, force: true });
      store.save({ ...store.load(job.id), phase: 'running', rootPid });
    }
    const why = JobError.is(err) ? err : new JobError(describeCriuError(err), 'FAILED');
    const stderr = channel.stderr();
    throw new JobError(
      `migrating job ${job.id} to ${dest} failed: ${why.message}${stderr ? `\nssh: ${stderr}` : ''}\n` +
        `${liveRoot(store, store.load(job.id)) !== undefined ? `The job still runs here${resumed.length ? ` (resumed pids ${resumed.join(', ')})` : ''}` : 'The job is no longer running here (it ended or was killed)'}; nothing was left on ${dest}.`,
      why.code,
      why.hint,
      { cause: err },
    );
  } finally {
    stopHeartbeat();
  }
}

/** The source's copy is no longer needed: kill the stopped tree, drop the pageless checkpoint, record where the job went. */
async function finishHere(
  store: JobStore,
  id: string,
  rootPid: number,
  checkpoint: number | undefined,
  dest: string,
  remoteId: string,
): Promise<void> {
  // --via-archive: criu ended the tree already, and its pids may belong to others by now.
  let pids: number[] = checkpoint !== undefined ? [rootPid] : [];
  try {
    if (checkpoint !== undefined) pids = (await new Procfs().tree(rootPid)).pids;
  } catch {
    // Only the root is known.
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  // Its memory went to the destination: it can't be restored here.
  if (checkpoint !== undefined)
    rmSync(store.checkpointDir(id, checkpoint), { recursive: true, force: true });
  store.save({
    ...store.load(id),
    phase: 'migrated',
    migratedTo: { dest, id: remoteId, at: new Date().toISOString() },
  });
}

async function criuFacts(home: string): Promise<{ criuVersion: string; cpuinfo: string }> {
  const criu = openCriu(home);
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-cpuinfo-'));
  try {
    const criuVersionText = (await criuVersion(criu, home)).text;
    await criu.cpuinfoDump({ imagesDir: dir });
    return {
      criuVersion: criuVersionText,
      cpuinfo: readFileSync(join(dir, 'cpuinfo.img')).toString('base64'),
    };
  } finally {
    criu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resident memory of the tree (an upper bound of the pages criu sends). */
async function residentBytes(rootPid: number): Promise<number> {
  let total = 0;
  const pids = await new Procfs()
    .tree(rootPid)
    .then((t) => t.pids)
    .catch(() => [rootPid]);
  for (const pid of pids) {
    try {
      total += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

interface Channel {
  reader: FrameReader;
  writer: FrameWriter;
  /** The last lines ssh (or the remote side) wrote to stderr that were not progress. */
  stderr(): string;
  kill(): void;
  close(): Promise<void>;
}

/** One ssh connection: the receiver on its stdin/stdout, the page server's port forwarded. */
function openChannel(
  dest: string,
  localPort: number,
  remotePort: number,
  options: MigrateOptions,
  progress: Progress,
): Channel {
  const remote = `${options.remoteCryopipe ?? 'cryopipe'} receive`;
  const child: ChildProcess = spawn(
    options.ssh ?? 'ssh',
    [
      // ssh keeps the first value it gets for an option: the caller's come first.
      ...(options.sshArgs ?? []),
      '-T',
      '-o',
      'BatchMode=yes',
      // AES-GCM first: with AES-NI it encrypts pages several times faster than
      // ssh's default ChaCha20 (the server picks the first one it also has).
      '-o',
      'Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com',
      // No compression: pages cross a LAN, and compressing them costs more than it saves.
      '-o',
      'Compression=no',
      '-o',
      'ExitOnForwardFailure=yes',
      // A dead link is noticed in seconds, not when TCP gives up.
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=3',
      '-L',
      `127.0.0.1:${localPort}:127.0.0.1:${remotePort}`,
      '--',
      dest,
      remote,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const errors: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      // The receiver's progress lines start with "receive: "; anything else is ssh's or an error.
      if (line.startsWith('receive: ')) progress(`${dest}: ${line.slice(9)}`);
      else if (line.trim()) errors.push(line);
    }
  });
  child.stdin!.on('error', () => {}); // a dead ssh shows as the reader's end
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    reader: new FrameReader(child.stdout!, `the connection to ${dest}`),
    writer: new FrameWriter(child.stdin!),
    stderr: () => [...errors, partial].filter(Boolean).slice(-5).join('\n'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
    close: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The job directory: everything but this machine's lock/logs of restores, and only checkpoint `number`. */
async function sendJobDir(writer: FrameWriter, jobDir: string, number: number): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(jobDir, path);
      if (dir === jobDir && SKIPPED.has(entry.name)) continue;
      if (dir === join(jobDir, 'checkpoints') && entry.name !== String(number)) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) await sendFile(writer, 'job', rel, path, statSync(path).size);
    }
  };
  await walk(jobDir);
}

/** One file's first `size` bytes (an output: exactly what the checkpoint recorded). */
async function sendFile(
  writer: FrameWriter,
  role: 'job' | 'output',
  name: string,
  path: string,
  size: number,
): Promise<void> {
  await writer.send({ type: 'file', role, path: name, size, mode: statSync(path).mode & 0o7777 });
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(MAX_FRAME, 1 << 20));
    let at = 0;
    while (at < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
      if (n === 0)
        throw new JobError(`${path} is shorter than its recorded ${size} bytes`, 'FAILED');
      await writer.data(Buffer.from(buf.subarray(0, n)));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** --via-archive: the job's export stream, in data frames between 'archive' and 'archive-end'. */
async function sendArchive(
  store: JobStore,
  id: string,
  writer: FrameWriter,
  progress: Progress,
): Promise<void> {
  await writer.send({ type: 'archive' });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const pieces: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += 1 << 20)
        pieces.push(chunk.subarray(at, at + (1 << 20)));
      pieces
        .reduce((p, piece) => p.then(() => writer.data(piece)), Promise.resolve())
        .then(() => done(), done);
    },
  });
  await exportJob(store, id, sink, { onProgress: progress });
  // exportJob ends the sink; its last chunk may still be on its way into frames.
  if (!sink.writableFinished) await new Promise((resolve) => sink.once('finish', resolve));
  await writer.send({ type: 'archive-end' });
}

/** --via-archive failed after the job stopped: bring it back here from the checkpoint just taken. */
async function restoreHere(
  store: JobStore,
  id: string,
  from: number,
  progress: Progress,
): Promise<void> {
  try {
    progress(`restoring job ${id} here from checkpoint ${from}…`);
    await restoreJob(store, id, { from, lockWaitMs: 30_000 });
  } catch (err) {
    progress(
      `could not restore job ${id} here (${(err as Error).message}): it is checkpointed; run 'cryopipe restore ${id}'`,
    );
  }
}

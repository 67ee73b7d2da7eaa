import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stageLogName } from '@cryopipe/spawn';
import { JobError } from '../errors.ts';
import type { JobRecord, JobStore } from '../store/job-store.ts';
import { isJobRoot, liveRoot } from '../store/liveness.ts';

/** Ctrl-]: the detach key, as in telnet; never typed into the job. */
const DETACH = 0x1d;

/**
 * Connects the caller's terminal to an adopted job's: the keeper appends the
 * job's terminal output to the stage-1 log (followed here), and types what
 * arrives on RUNDIR/input into the job's terminal. Resolves on detach
 * (Ctrl-], or the end of a non-terminal stdin) or when the job ends.
 */
export async function attachTerminal(
  store: JobStore,
  job: JobRecord,
  progress: (text: string) => void,
): Promise<'detached' | 'job-ended'> {
  if (liveRoot(store, job) === undefined)
    throw new JobError(`job ${job.id} is not running`, 'FAILED', "see 'cryopipe ps'");
  let input: number;
  try {
    input = openSync(join(store.runDir(job.id), 'input'), 'w');
  } catch {
    throw new JobError(
      `job ${job.id} has no terminal to attach to: only adopted jobs have one`,
      'USAGE',
      "see its output with 'cryopipe logs'",
    );
  }
  const log = join(store.logsDir(job.id), stageLogName(0));
  let offset = sizeOf(log);
  const follow = () => {
    const size = sizeOf(log);
    if (size <= offset) return;
    const fd = openSync(log, 'r');
    try {
      const buf = Buffer.alloc(Math.min(size - offset, 1 << 20));
      const n = readSync(fd, buf, 0, buf.length, offset);
      offset += n;
      process.stdout.write(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  };
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  progress(
    `attached to ${job.id}; ${raw ? 'Ctrl-] detaches' : 'detaching at the end of stdin'} (the job keeps running)`,
  );
  if (raw) stdin.setRawMode(true);
  return new Promise((resolve) => {
    let stdinEnded = false;
    const finish = (how: 'detached' | 'job-ended') => {
      clearInterval(timer);
      stdin.off('data', onData);
      stdin.pause();
      if (raw) stdin.setRawMode(false);
      follow();
      closeSync(input);
      progress(how === 'detached' ? `detached from ${job.id}` : `job ${job.id} ended`);
      resolve(how);
    };
    const onData = (chunk: Buffer) => {
      const cut = raw ? chunk.indexOf(DETACH) : -1;
      const bytes = cut >= 0 ? chunk.subarray(0, cut) : chunk;
      if (bytes.length) writeSync(input, bytes);
      if (cut >= 0) finish('detached');
    };
    stdin.on('data', onData);
    stdin.on('end', () => {
      // Give the job a moment to answer what was typed, so its reply is shown.
      stdinEnded = true;
      setTimeout(() => finish('detached'), 500);
    });
    const timer = setInterval(() => {
      follow();
      if (!stdinEnded && !isJobRoot(store, job, job.rootPid)) finish('job-ended');
    }, 50);
  });
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

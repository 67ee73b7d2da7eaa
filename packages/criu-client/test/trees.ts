// Real process trees for the integration tests, started and killed by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf } from '@cryopipe/testkit';

export function tempDir(prefix = 'criu-client-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    return false;
  }
}

/** `pid` and all its descendants. */
export function treeOf(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!));
  return out;
}

/** Kills a tree by its PIDs (never by name), leaves first. */
export function killTree(pid: number): void {
  for (const p of treeOf(pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
}

/** Waits until none of `pids` exists any more (PID 1 may reap lazily). */
export async function waitGone(pids: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((p) => existsSync(`/proc/${p}`))) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(',')} still exist`);
    await sleep(50);
  }
}

export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface Pipeline {
  /** PID of the session leader `sh`, root of the tree. */
  pid: number;
  child: ChildProcess;
  dir: string;
}

/**
 * `yes | gzip -1 > out.gz` under a new session with no terminal: stdin
 * /dev/null, stdout/stderr to files. The tree criu can dump cleanly.
 */
export async function startPipeline(dir: string): Promise<Pipeline> {
  const child = spawn('setsid', ['sh', '-c', `yes | gzip -1 > ${join(dir, 'out.gz')}`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the pipeline');
  // Ready once sh (which setsid exec'd into) has both stages running.
  await waitFor(() => childrenOf(pid).length === 2, 'the pipeline stages');
  return { pid, child, dir };
}

/** A pipeline attached to a pseudo-terminal made by `script`: the case criu refuses without shellJob. */
export async function startPipelineOnTty(dir: string): Promise<{ scriptPid: number; pid: number }> {
  const child = spawn(
    'script',
    ['-qc', `sh -c 'yes | gzip -1 > ${join(dir, 'tty-out.gz')}'`, '/dev/null'],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const scriptPid = child.pid;
  if (scriptPid === undefined) throw new Error('could not start script');
  let pid = 0;
  // script -> the session leader on the pty (maybe via a shell) -> yes, gzip.
  await waitFor(() => {
    const leader = childrenOf(scriptPid)[0];
    if (leader !== undefined && treeOf(leader).some((p) => childrenOf(p).length === 2))
      pid = leader;
    return pid !== 0;
  }, 'the pipeline under script');
  return { scriptPid, pid };
}

export function fileNames(dir: string): string[] {
  return execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

export { childrenOf };

export interface ImagesTree extends Pipeline {
  /** Path of the FIFO the holder keeps open with data in it. */
  fifo: string;
}

/**
 * A tree with data in flight in every kind of queue, for the image decoder:
 * a pipe holding exactly "cryopipe-in-flight" (its writer is gone), a full
 * pipe (`yes | sleep`), a pipe that grows by a byte every 0.2 s, a python
 * holder of sockets (unix pair with queued data, named unix, TCP v4 and v6
 * listeners), a FIFO with data and a pty pair, and `yes | gzip > out.gz`
 * writing a regular file. Session leader `sh`, no terminal.
 */
export async function startImagesTree(dir: string): Promise<ImagesTree> {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const holder = fileURLToPath(new URL('./fixtures/holder.py', import.meta.url));
  const ready = join(dir, 'holder.out');
  const script = [
    'printf cryopipe-in-flight | sleep 100000 &',
    'yes | sleep 100000 &',
    'while :; do printf x; sleep 0.2; done | sleep 100000 &',
    `/usr/bin/python3 ${holder} ${fifo} > ${ready} &`,
    `yes | gzip -1 > ${join(dir, 'out.gz')}`,
  ].join('\n');
  const child = spawn('setsid', ['sh', '-c', script], { stdio: ['ignore', 'ignore', 'ignore'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the images tree');
  await waitFor(() => {
    try {
      return readFileSync(ready, 'utf8').includes('ready');
    } catch {
      return false;
    }
  }, 'the socket holder');
  await waitFor(() => existsSync(join(dir, 'out.gz')), 'gzip output');
  await sleep(300);
  return { pid, child, dir, fifo };
}

/**
 * The original write-up's failure, reproduced and explained in three steps:
 *
 * 1. `ffmpeg … | aomenc …` in a bash script, typed at a shell in a terminal
 *    (a tmux pane), then a raw `criu dump -t PID -D DIR` without --shell-job:
 *    CRIU refuses the tree because of the terminal, and the job runs on.
 * 2. `cryopipe diagnose PID` says why, with evidence and fixes.
 * 3. The same pipeline under `cryopipe run`: nothing blocks, and it is
 *    checkpointed, restored and finishes byte-identical to the terminal run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorLines, findCriu } from '@cryopipe/criu-client';
import { Procfs } from '@cryopipe/procfs';
import {
  type CheckpointStep,
  checkpointedEncode,
  type EncodeOutcome,
} from './checkpointed-encode.ts';
import type { CryopipeCli } from './cryopipe-cli.ts';
import { aomenc } from './encoders.ts';
import { sha256File, sizeOf } from './output-files.ts';
import { TmuxServer } from './tmux-server.ts';

const procfs = new Procfs();

/** A job started the way the write-up's users started theirs. */
export interface TerminalJob {
  tmux: TmuxServer;
  script: string;
  output: string;
  /** The interactive bash of the pane (session leader, owns the terminal). */
  paneShellPid: number;
  /** The bash running the script: the pipeline's root, what one would dump. */
  rootPid: number;
  stages: { pid: number; comm: string }[];
  /** Resolves with bash's $PIPESTATUS once the script's pipeline has ended. */
  finished(): Promise<string>;
}

/** What `cryopipe diagnose --json` prints. */
export interface Diagnosis {
  pid: number;
  dumpable: boolean;
  findings: {
    id: string;
    severity: 'blocker' | 'warning' | 'info';
    message: string;
    criuSays?: string;
    evidence: { pid: number; comm?: string; fd?: number; target?: string }[];
    fix: string;
  }[];
}

export interface RawCriuAttempt {
  argv: string[];
  exitCode: number;
  /** What criu printed plus the Error lines of its log (known harmless noise removed). */
  errors: string[];
}

const shellWord = (word: string) =>
  word === '|' || /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;

const alive = (pid: number) => {
  try {
    return !/^[ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!);
  } catch {
    return false;
  }
};

async function childrenWithComm(pid: number): Promise<{ pid: number; comm: string }[]> {
  const out: { pid: number; comm: string }[] = [];
  for (const child of await procfs
    .process(pid)
    .children()
    .catch(() => [])) {
    const stat = await procfs
      .process(child)
      .stat()
      .catch(() => undefined);
    if (stat) out.push({ pid: child, comm: stat.comm });
  }
  return out;
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Step 1a: writes the script and types `bash SCRIPT` at an interactive bash in a fresh tmux pane. */
export async function startInTerminal(dir: string, frames: number): Promise<TerminalJob> {
  const output = join(dir, 'terminal-job.ivf');
  const statusFile = join(dir, 'terminal-job.status');
  const script = join(dir, 'encode.sh');
  writeFileSync(
    script,
    [
      '#!/bin/bash',
      '# An AV1 encode the usual way: a pipeline in a script, run from a terminal.',
      aomenc.pipeline(output, frames).map(shellWord).join(' '),
      `echo "\${PIPESTATUS[*]}" > ${shellWord(statusFile)}`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const tmux = await TmuxServer.start('exec bash --norc --noprofile -i');
  try {
    await tmux.type(`bash ${shellWord(script)}`);
    const { rootPid, stages } = await poll('the script to start ffmpeg | aomenc', async () => {
      for (const child of await childrenWithComm(tmux.panePid)) {
        const stages = await childrenWithComm(child.pid);
        const comms = stages.map((s) => s.comm).sort();
        if (child.comm === 'bash' && comms.join() === 'aomenc,ffmpeg')
          return { rootPid: child.pid, stages };
      }
      return undefined;
    });
    const finished = () =>
      poll(
        'the terminal job to finish',
        async () => {
          const text = sizeOf(statusFile) > 0 ? readFileSync(statusFile, 'utf8') : '';
          return text.endsWith('\n') ? text.trim() : undefined;
        },
        600_000,
      );
    return { tmux, script, output, paneShellPid: tmux.panePid, rootPid, stages, finished };
  } catch (err) {
    await tmux.kill();
    throw err;
  }
}

/** Step 1b: `criu dump -t PID -D DIR` as the write-up's users ran it (no --shell-job). */
export function rawCriuDump(pid: number, imagesDir: string): Promise<RawCriuAttempt> {
  mkdirSync(imagesDir, { recursive: true, mode: 0o700 });
  const argv = [findCriu(), 'dump', '-t', String(pid), '-D', imagesDir, '-o', 'dump.log'];
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), (err, stdout, stderr) => {
      let log = '';
      try {
        log = readFileSync(join(imagesDir, 'dump.log'), 'utf8');
      } catch {}
      // criu prints its advice ("Consider using --shell-job") on stdout, errors to the log.
      const printed = `${stdout}\n${stderr}`.split('\n').filter((l) => l.trim() !== '');
      resolve({
        argv,
        exitCode: err ? Number(err.code ?? 1) : 0,
        errors: [...new Set([...printed, ...errorLines(log)])],
      });
    });
  });
}

/** True while the job's root and both stages still run (a failed dump must not stop them). */
export const stillRunning = (job: TerminalJob): boolean =>
  [job.rootPid, ...job.stages.map((s) => s.pid)].every(alive);

/** Step 2: `cryopipe diagnose PID --json` (exit 0: dumpable, 1: blockers found). */
export async function diagnose(cli: CryopipeCli, pid: number): Promise<Diagnosis> {
  const r = await cli.run(['diagnose', String(pid), '--json']);
  if (r.exitCode !== 0 && r.exitCode !== 1)
    throw new Error(`cryopipe diagnose ${pid} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Diagnosis;
}

/** Step 3: the same encode under `cryopipe run`, diagnosed, checkpointed at `at`, restored. */
export async function underCryopipe(
  cli: CryopipeCli,
  dir: string,
  frames: number,
  referenceBytes: number,
  at: readonly number[],
  onStep?: (step: CheckpointStep) => void,
): Promise<EncodeOutcome & { steps: CheckpointStep[]; diagnosis: Diagnosis }> {
  let diagnosis: Diagnosis | undefined;
  const run = await checkpointedEncode(cli, aomenc, dir, frames, referenceBytes, {
    at,
    onStarted: async (job) => {
      diagnosis = await diagnose(cli, job.rootPid);
    },
    ...(onStep && { onStep }),
  });
  return { ...run, diagnosis: diagnosis! };
}

/** The terminal job's finished output, as the reference for step 3. */
export async function terminalOutcome(
  job: TerminalJob,
): Promise<{ bytes: number; sha256: string }> {
  return { bytes: sizeOf(job.output), sha256: await sha256File(job.output) };
}

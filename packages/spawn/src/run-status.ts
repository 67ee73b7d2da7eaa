import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { RunStatusError } from './errors.ts';
import type { ExecError, ExecPhase } from './result.ts';

/** One stage as the dump root recorded it in RUNDIR/status. */
export interface StageStatus {
  /** The stage's 0-based position in the pipeline. */
  index: number;
  /** Pid inside the pipeline's PID namespace (equals hostPid in plain mode). */
  pid: number;
  /** Pid as seen from the host; refreshed by the launcher at each status write. 0 if unknown. */
  hostPid: number;
  /** The stage's argv. */
  argv: string[];
  /** Epoch milliseconds (wall clock; spans a checkpoint's downtime). */
  startedAt: number | undefined;
  /** Epoch milliseconds when the stage ended; undefined while it runs. */
  endedAt: number | undefined;
  /** The exit code; undefined while running or when a signal ended the stage. */
  exitCode: number | undefined;
  /** Signal that killed the stage, e.g. `SIGTERM`. */
  signal: NodeJS.Signals | undefined;
  /** Set when the stage never ran its command (then exitCode is 127 or 126). */
  execError: ExecError | undefined;
}

/** RUNDIR/status, replaced atomically by the launcher at every change. */
export interface RunStatus {
  /** Format version of the status file. */
  version: 1;
  /** `failed`: the launcher refused the spec or could not start (see `error`, launcher.log). */
  state: 'running' | 'exited' | 'failed';
  /** 'pidns': the stages run in a fresh PID namespace; 'plain': in the caller's. */
  mode: 'pidns' | 'plain';
  /** Host pid of the dump root (the namespace init, or the launcher in plain mode). */
  rootPid: number;
  /** Host pid of the launcher process the caller started (the namespace init's parent). */
  launcherPid: number;
  /** Epoch milliseconds when the launcher started the run. */
  startedAt: number;
  /** Epoch milliseconds when the last stage ended; undefined while running. */
  endedAt: number | undefined;
  /** Pipefail status: rightmost non-zero stage status (128+signal for a signal). */
  exitCode: number | undefined;
  /** Why the launcher failed (state 'failed'); undefined otherwise. */
  error: string | undefined;
  /** Every stage, in pipeline order. */
  stages: StageStatus[];
}

const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, num]) => [num, name as NodeJS.Signals]),
);
const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, num]) => [num, name]),
);

/** The name of signal `num` (`SIGTERM`), or `SIG<num>` when Node does not know it. */
export function signalName(num: number): NodeJS.Signals {
  return signalNames.get(num) ?? (`SIG${num}` as NodeJS.Signals);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function parseStage(raw: Record<string, unknown>): StageStatus {
  const sig = num(raw['signal']);
  const errno = num(raw['execErrno']);
  return {
    index: num(raw['index']) ?? -1,
    pid: num(raw['pid']) ?? 0,
    hostPid: num(raw['hostPid']) ?? 0,
    argv: Array.isArray(raw['argv']) ? raw['argv'].map(String) : [],
    startedAt: num(raw['startedAt']),
    endedAt: num(raw['endedAt']),
    exitCode: num(raw['exitCode']),
    signal: sig === undefined ? undefined : signalName(sig),
    execError:
      errno === undefined
        ? undefined
        : {
            errno,
            code: errnoNames.get(errno) ?? `E${errno}`,
            phase: (raw['execPhase'] as ExecPhase | undefined) ?? 'exec',
          },
  };
}

/** Parses the launcher's status JSON (pure; see readRunStatus for the file). */
export function parseRunStatus(text: string): RunStatus {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (raw['version'] !== 1) throw new Error(`unsupported status version ${String(raw['version'])}`);
  const state = raw['state'];
  if (state !== 'running' && state !== 'exited' && state !== 'failed')
    throw new Error(`unknown state ${String(state)}`);
  return {
    version: 1,
    state,
    mode: raw['mode'] === 'pidns' ? 'pidns' : 'plain',
    rootPid: num(raw['rootPid']) ?? 0,
    launcherPid: num(raw['launcherPid']) ?? 0,
    startedAt: num(raw['startedAt']) ?? 0,
    endedAt: num(raw['endedAt']),
    exitCode: num(raw['exitCode']),
    error: typeof raw['error'] === 'string' ? raw['error'] : undefined,
    stages: Array.isArray(raw['stages'])
      ? raw['stages'].map((s) => parseStage(s as Record<string, unknown>))
      : [],
  };
}

function unreadable(runDir: string, err: unknown): RunStatusError {
  const code = (err as NodeJS.ErrnoException).code;
  return new RunStatusError(
    runDir,
    code === 'ENOENT'
      ? 'no status file (not a cryopipe run directory, or not started yet)'
      : String(err),
    err,
  );
}

function parseOrThrow(runDir: string, text: string): RunStatus {
  try {
    return parseRunStatus(text);
  } catch (err) {
    throw new RunStatusError(runDir, `malformed status file: ${(err as Error).message}`, err);
  }
}

/** Reads RUNDIR/status. Throws RunStatusError when it is missing or malformed. */
export async function readRunStatus(runDir: string): Promise<RunStatus> {
  let text: string;
  try {
    text = await readFile(join(runDir, 'status'), 'utf8');
  } catch (err) {
    throw unreadable(runDir, err);
  }
  return parseOrThrow(runDir, text);
}

/**
 * readRunStatus without the thread-pool round trips: the file is a few
 * hundred bytes, and the start and end of a run are latency-critical.
 */
export function readRunStatusSync(runDir: string): RunStatus {
  let text: string;
  try {
    text = readFileSync(join(runDir, 'status'), 'utf8');
  } catch (err) {
    throw unreadable(runDir, err);
  }
  return parseOrThrow(runDir, text);
}

/** Same as readRunStatusSync but undefined while the file does not exist yet. */
export function tryReadRunStatusSync(runDir: string): RunStatus | undefined {
  try {
    return readRunStatusSync(runDir);
  } catch (err) {
    if (RunStatusError.is(err) && (err.cause as NodeJS.ErrnoException)?.code === 'ENOENT')
      return undefined;
    throw err;
  }
}

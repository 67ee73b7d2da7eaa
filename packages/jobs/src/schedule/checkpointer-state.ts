import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobStore } from '../store/job-store.ts';

// What tells a job's periodic checkpointer apart and where its state lives:
// read by `ps` (schedule-summary.ts) without loading the checkpointer itself,
// which pulls in criu-client.

/** What the background checkpointer of a job last did, for `ps` and for people reading the job dir. */
export interface CheckpointerState {
  /** Pid of the periodic checkpointer process. */
  pid: number;
  /** When it started, ISO 8601. */
  startedAt: string;
  /** Why checkpoints are full dumps rather than pre-dump + dump. */
  preDump: string;
  /** The last checkpoint it took; undefined before the first. */
  lastCheckpoint?: {
    /** The checkpoint's number. */
    number: number;
    /** When it was taken, ISO 8601. */
    at: string;
    /** How long the job was frozen, in milliseconds; undefined when unknown. */
    frozenMs?: number;
    /** How long the dump took, in milliseconds. */
    dumpMs: number;
  };
  /** The last failure; undefined when none happened. */
  lastError?: {
    /** When it failed, ISO 8601. */
    at: string;
    /** The error's message. */
    message: string;
  };
  /** Checkpoint numbers it removed to keep the newest `keep`; undefined when none. */
  removed?: number[];
}

/** `jobs/ID/periodic/`: its own directory, so its lock never shares a name with the job lock. */
export function checkpointerDir(store: JobStore, id: string): string {
  return join(store.jobDir(id), 'periodic');
}

/** The checkpointer process's first argument: how its pid is told from a reused one. */
export const CHECKPOINTER_ARG = '--cryopipe-checkpointer';

/** The pid of the job's running checkpointer, if one runs. */
export function runningCheckpointer(store: JobStore, id: string): number | undefined {
  let state: CheckpointerState;
  try {
    state = JSON.parse(readFileSync(join(checkpointerDir(store, id), 'state.json'), 'utf8'));
  } catch {
    return undefined;
  }
  try {
    // The pid may have been reused: it must still be this job's checkpointer.
    const argv = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0');
    const at = argv.indexOf(CHECKPOINTER_ARG);
    return at >= 0 && argv[at + 2] === id ? state.pid : undefined;
  } catch {
    return undefined;
  }
}

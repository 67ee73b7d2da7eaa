import { constants } from 'node:os';
import { JobError } from '../errors.ts';

/** A job's `--signal=[{R|B}:]SIG[@SECONDS]` as sbatch reads it. */
export interface SignalSpec {
  /** `B:`: the signal goes to the batch shell (where `cryopipe slurm` runs); without it only to srun steps. */
  batch: boolean;
  /** `R:`: the job is not requeued when the time limit is reached after the signal. */
  noRequeue: boolean;
  /** The signal, e.g. `SIGUSR1`. */
  signal: NodeJS.Signals;
  /** How many seconds before the time limit it is sent (Slurm's default: 60). */
  seconds: number;
  /** The spec as written. */
  text: string;
}

/** Slurm's warning time when `@SECONDS` is left out. */
export const SLURM_DEFAULT_WARN_SECONDS = 60;

/** A signal name or number (`USR1`, `SIGUSR1`, `10`) as a Node signal name, or undefined. */
export function signalName(text: string): NodeJS.Signals | undefined {
  const names = constants.signals as Record<string, number>;
  const upper = text.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (name in names) return name as NodeJS.Signals;
  const num = Number(text);
  if (!Number.isInteger(num)) return undefined;
  return Object.entries(names).find(([, n]) => n === num)?.[0] as NodeJS.Signals | undefined;
}

/** Parses the value of sbatch's `--signal` (`B:USR1@120`, `USR1`, `RB:10@30`). */
export function parseSignalSpec(text: string): SignalSpec {
  const m = /^(?:([RB]{1,2}):)?([A-Za-z0-9]+)(?:@(\d+))?$/.exec(text.trim());
  const signal = m ? signalName(m[2]!) : undefined;
  if (!m || !signal) {
    throw new JobError(
      `'${text}' is not a Slurm signal spec`,
      'USAGE',
      'write it as sbatch does: B:USR1@120 (B: = to the batch shell, @120 = 120 s before the time limit)',
    );
  }
  const flags = m[1] ?? '';
  return {
    batch: flags.includes('B'),
    noRequeue: flags.includes('R'),
    signal,
    seconds: m[3] === undefined ? SLURM_DEFAULT_WARN_SECONDS : Number(m[3]),
    text: text.trim(),
  };
}

/**
 * The `--signal` a batch script asks for in its `#SBATCH` lines (the last
 * one wins, as with sbatch), or undefined. sbatch stops reading directives
 * at the first line that is neither a comment nor blank.
 */
export function signalSpecInScript(script: string): string | undefined {
  let found: string | undefined;
  for (const raw of script.split('\n').slice(1)) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('#')) break;
    const m = /^#SBATCH\s+.*?--signal(?:=|\s+)(\S+)/.exec(line);
    if (m) found = m[1]!.replace(/^['"]|['"]$/g, '');
  }
  return found;
}

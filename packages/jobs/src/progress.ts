import { type Dirent, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Receives one line per step of long work (the CLI prints it on stderr). */
export type Progress = (text: string) => void;

/** The default when a caller wants no progress. */
export const noProgress: Progress = () => {};

/** How far a step that moves bytes has got: images written, images checked, … */
export interface ProgressEvent {
  /** What is being measured, e.g. `writing images`. */
  step: string;
  /** Bytes so far. */
  bytes: number;
  /** Bytes the step will reach, when known in advance. */
  totalBytes?: number;
  /** Set on the step's last event. */
  done?: boolean;
}

/** Receives measurements while a step runs (a few per second at most). */
export type ProgressMeter = (event: ProgressEvent) => void;

/** The default when a caller wants no measurements. */
export const noMeter: ProgressMeter = () => {};

/**
 * Measures a directory another process fills (criu writing images) every
 * `everyMs` until `stop()`, which sends the last measurement with `done`.
 * Costs nothing when `meter` is `noMeter`.
 */
export function meterDirectory(
  dir: string,
  step: string,
  meter: ProgressMeter,
  everyMs = 250,
): {
  /** Stops measuring and sends the last measurement, with `done`. */
  stop(): void;
} {
  if (meter === noMeter) return { stop() {} };
  const measure = (done: boolean) =>
    meter({ step, bytes: directoryBytes(dir), ...(done ? { done } : {}) });
  const timer = setInterval(() => measure(false), everyMs);
  timer.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      measure(true);
    },
  };
}

/** Bytes of the regular files under `dir`; files vanishing meanwhile count as 0. */
export function directoryBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path);
    else if (entry.isFile()) {
      try {
        total += lstatSync(path).size;
      } catch {}
    }
  }
  return total;
}

import { PassThrough, type Transform } from 'node:stream';
import type { ProgressEvent } from '@cryopipe/jobs/store';
import { formatBytes, formatDuration, type Output } from './output.ts';

/**
 * Shows long work on stderr: on a terminal one line that keeps updating
 * (bytes, rate, share of the total), elsewhere a plain line at most once a
 * second and one when a step ends; with --json nothing (stdout carries only
 * the final document, stderr stays quiet).
 */
export class ProgressLine {
  readonly #out: Output;
  readonly #stderr: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #quiet: boolean;
  readonly #everyMs: number;
  #step: { name: string; started: number; printed: number; last?: ProgressEvent } | undefined;
  #showing = false;

  constructor(out: Output, stderr: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#stderr = stderr;
    this.#tty = Boolean(stderr.isTTY) && process.env.TERM !== 'dumb';
    this.#quiet = out.json;
    this.#everyMs = this.#tty ? 100 : 1000;
  }

  /** A line naming the next step (the engine's onProgress). */
  text = (text: string): void => {
    if (this.#quiet) return;
    this.#clear();
    this.#out.progress(text);
  };

  /** A measurement (the engine's onBytes, or a counting stream). */
  bytes = (event: ProgressEvent): void => {
    if (this.#quiet) return;
    const now = performance.now();
    if (this.#step?.name !== event.step) {
      this.end();
      this.#step = { name: event.step, started: now, printed: now };
    }
    const step = this.#step!;
    step.last = event;
    if (event.done) {
      this.end();
      return;
    }
    if (now - step.printed < this.#everyMs) return;
    step.printed = now;
    this.#show(this.#describe(event, now - step.started));
  };

  /** Ends the current step: its final line (bytes, time, rate), if it measured anything. */
  end(): void {
    const step = this.#step;
    this.#step = undefined;
    if (!step?.last || this.#quiet) return;
    const ms = performance.now() - step.started;
    // A step too quick to watch says nothing, unless a line already showed it.
    if (ms < quickMs() && !this.#showing && step.printed === step.started) return;
    this.#show(`${this.#describe(step.last, ms)} in ${formatDuration(ms)}`);
    this.#clear(true);
  }

  /** A stream that counts what flows through it as `step`. */
  counter(step: string, totalBytes?: number): Transform {
    let bytes = 0;
    const counting = new PassThrough();
    counting.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      this.bytes({ step, bytes, ...(totalBytes === undefined ? {} : { totalBytes }) });
    });
    counting.on('end', () =>
      this.bytes({ step, bytes, ...(totalBytes === undefined ? {} : { totalBytes }), done: true }),
    );
    return counting;
  }

  #describe(e: ProgressEvent, ms: number): string {
    const rate = ms > 0 ? `, ${formatBytes(Math.round((e.bytes * 1000) / ms))}/s` : '';
    const share =
      e.totalBytes !== undefined && e.totalBytes > 0
        ? ` of ${formatBytes(e.totalBytes)} (${Math.floor((e.bytes * 100) / e.totalBytes)}%)`
        : '';
    return `${e.step}: ${formatBytes(e.bytes)}${share}${rate}`;
  }

  #show(line: string): void {
    if (this.#tty) {
      this.#stderr.write(`\r\u001b[2K${this.#out.paint('2', '…')} ${line}`);
      this.#showing = true;
    } else this.#out.progress(line);
  }

  /** Leaves the updating line: ends it with a newline (`keep`) or erases it. */
  #clear(keep = false): void {
    if (!this.#showing) return;
    this.#stderr.write(keep ? '\n' : '\r\u001b[2K');
    this.#showing = false;
  }
}

/**
 * Steps quicker than this (ms) print nothing: CRYOPIPE_PROGRESS_AFTER_MS,
 * default 1000 (0 shows every step, as the progress tests need on a fast disk).
 */
function quickMs(): number {
  const ms = Number(process.env.CRYOPIPE_PROGRESS_AFTER_MS);
  return Number.isFinite(ms) && ms >= 0 ? ms : 1000;
}

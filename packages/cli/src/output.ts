/**
 * Everything the CLI prints goes through here: results on stdout (human text
 * or one JSON document with --json), progress and hints on stderr. Colour
 * only on a terminal and never when NO_COLOR is set.
 */
export class Output {
  readonly json: boolean;
  readonly color: boolean;
  constructor(
    opts: { json?: boolean } = {},
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {
    this.json = opts.json ?? false;
    this.color = !process.env.NO_COLOR && Boolean(stderr.isTTY) && process.env.TERM !== 'dumb';
  }

  /** A line of human output (ignored with --json). */
  line(text = ''): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** The result document for --json (ignored without it). */
  result(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Progress on long work: stderr, so stdout stays parseable. */
  progress(text: string): void {
    this.stderr.write(`${this.paint('2', '…')} ${text}\n`);
  }

  warn(text: string): void {
    this.stderr.write(`${this.paint('33', 'warning:')} ${text}\n`);
  }

  error(text: string, hint?: string): void {
    this.stderr.write(`${this.paint('31', 'error:')} ${text}\n`);
    if (hint) this.stderr.write(`${this.paint('36', 'hint:')} ${hint}\n`);
  }

  paint(code: string, text: string): string {
    return this.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

/**
 * What a failed write to `what` means, in words: EPIPE (the reader went
 * away, e.g. `cryopipe ps | head -1`), ENOSPC (`> /dev/full`, a full disk)…
 */
export function describeWriteError(err: NodeJS.ErrnoException, what: string): string {
  switch (err.code) {
    case 'EPIPE':
      return `${what} was closed before cryopipe finished writing (EPIPE): the program reading it stopped`;
    case 'ENOSPC':
      return `can't write to ${what}: no space left on device (ENOSPC)`;
    case 'EDQUOT':
      return `can't write to ${what}: disk quota exceeded (EDQUOT)`;
    case 'EFBIG':
      return `can't write to ${what}: the file would be too large (EFBIG)`;
    default:
      return `can't write to ${what}: ${err.message}`;
  }
}

/** errno codes that mean "where the output goes can't take it", not a cryopipe failure. */
export const WRITE_ERRORS = new Set(['EPIPE', 'ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);

/**
 * A write to stdout that fails (EPIPE, ENOSPC) is reported on stderr as one
 * line and ends the process with exit code 1, never as an uncaught 'error'
 * event with a stack trace. Output already lost can't be retried, and the
 * reader is gone: there is nothing better to do than stop. A broken stderr
 * ends the process the same way, silently (there is nowhere to say it).
 */
export function guardStandardStreams(exit: (code: number) => never = process.exit): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    try {
      process.stderr.write(`error: ${describeWriteError(err, 'standard output')}\n`);
    } catch {}
    exit(1);
  });
  process.stderr.on('error', () => exit(1));
}

/** Aligns rows into columns; the first row is the header. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '),
    )
    .join('\n');
}

export { formatBytes, formatDuration } from '@cryopipe/jobs/store';

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

export { formatBytes, formatDuration } from '@cryopipe/jobs';

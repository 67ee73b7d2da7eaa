import type { Readable, Writable } from 'node:stream';
import { JobError } from '../errors.ts';

/**
 * The migrate protocol's framing, over the ssh channel's stdin/stdout: each
 * frame is a 4-byte big-endian length, then one kind byte, then the
 * payload. Kind 0 carries one JSON message, kind 1 a chunk of the file the
 * last `file` message announced. Nothing else travels on the channel, so
 * the receiver must never print to stdout (its progress goes to stderr).
 */
const JSON_FRAME = 0;
const DATA_FRAME = 1;
/** Largest frame accepted: a file's bytes come in chunks of at most this. */
export const MAX_FRAME = 4 << 20;

/** One frame as read: a parsed JSON message or a data chunk. */
export type Frame = { kind: 'json'; message: unknown } | { kind: 'data'; data: Buffer };

/** Writes frames; resolves each write once the stream took it (backpressure included). */
export class FrameWriter {
  readonly #out: Writable;
  /** Payload bytes written so far (data frames only). */
  bytes = 0;
  constructor(out: Writable) {
    this.#out = out;
    // A broken pipe (the peer died) fails the next send instead of crashing the process.
    out.on('error', () => {});
  }
  send(message: object): Promise<void> {
    return this.#frame(JSON_FRAME, Buffer.from(JSON.stringify(message)));
  }
  data(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    return this.#frame(DATA_FRAME, chunk);
  }
  #frame(kind: number, payload: Buffer): Promise<void> {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(payload.length + 1, 0);
    head[4] = kind;
    return new Promise((resolve, reject) => {
      if (this.#out.destroyed || this.#out.writableEnded)
        return reject(new JobError('the migrate channel is closed', 'FAILED'));
      this.#out.write(head);
      const flushed = this.#out.write(payload, (err) => (err ? reject(err) : undefined));
      if (flushed) resolve();
      else {
        const onError = (err: Error) => reject(err);
        this.#out.once('error', onError);
        this.#out.once('drain', () => {
          this.#out.off('error', onError);
          resolve();
        });
      }
    });
  }
}

/** Reads frames from a stream; `next()` rejects when the stream ends or breaks first. */
export class FrameReader {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #ended: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #what: string;
  readonly #idleMs: number;
  /**
   * `idleMs`: fail when nothing (not even a heartbeat) arrived for this
   * long: a cut link can keep a TCP connection open for hours.
   */
  constructor(input: Readable, what: string, idleMs = IDLE_MS) {
    this.#what = what;
    this.#idleMs = idleMs;
    input.on('data', (c: Buffer) => {
      this.#chunks.push(c);
      this.#buffered += c.length;
      this.#wake?.();
    });
    const end = (err?: Error) => {
      this.#ended ??= new JobError(
        `${what} closed the connection${err ? ` (${err.message})` : ''}`,
        'FAILED',
      );
      this.#wake?.();
    };
    input.once('end', () => end());
    input.once('close', () => end());
    input.once('error', end);
  }

  /** The next frame (heartbeats are taken and dropped here). */
  async next(): Promise<Frame> {
    for (;;) {
      const frame = this.#take();
      if (frame && isHeartbeat(frame)) continue;
      if (frame) return frame;
      if (this.#ended) throw this.#ended;
      let timer: NodeJS.Timeout | undefined;
      const idle = await new Promise<boolean>((resolve) => {
        this.#wake = () => resolve(false);
        timer = setTimeout(() => resolve(true), this.#idleMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
      if (idle && this.#buffered === 0)
        throw new JobError(
          `nothing heard from ${this.#what} for ${this.#idleMs / 1000} s: the connection is dead`,
          'FAILED',
          'check the network between the machines, then try again',
        );
    }
  }

  /** The next frame, which must be a JSON message. */
  async message(): Promise<Record<string, unknown>> {
    const f = await this.next();
    if (f.kind !== 'json' || typeof f.message !== 'object' || f.message === null)
      throw protocolError('a data frame where a message was expected');
    return f.message as Record<string, unknown>;
  }

  #joined(): Buffer {
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
  }

  #take(): Frame | undefined {
    if (this.#buffered < 5) return undefined;
    if (this.#chunks[0]!.length < 5) this.#chunks.splice(0, this.#chunks.length, this.#joined());
    const length = this.#chunks[0]!.readUInt32BE(0);
    if (length < 1 || length > MAX_FRAME + 1) throw protocolError(`a frame of ${length} bytes`);
    // Joined only once the whole frame is here: a large frame arrives in many chunks.
    if (this.#buffered < 4 + length) return undefined;
    const all = this.#joined();
    const kind = all[4];
    const payload = all.subarray(5, 4 + length);
    const rest = all.subarray(4 + length);
    this.#chunks.length = 0;
    if (rest.length) this.#chunks.push(rest);
    this.#buffered = rest.length;
    if (kind === DATA_FRAME) return { kind: 'data', data: Buffer.from(payload) };
    if (kind !== JSON_FRAME) throw protocolError(`a frame of unknown kind ${kind}`);
    try {
      return { kind: 'json', message: JSON.parse(payload.toString('utf8')) };
    } catch {
      throw protocolError('a message that is not JSON');
    }
  }
}

/** Both sides send one every HEARTBEAT_MS while the move runs; silence for IDLE_MS is a dead connection. */
export const HEARTBEAT_MS = 1000;
export const IDLE_MS = 15_000;

function isHeartbeat(frame: Frame): boolean {
  return frame.kind === 'json' && (frame.message as { type?: unknown })?.type === 'alive';
}

/** Sends a heartbeat every HEARTBEAT_MS until the returned function is called. */
export function heartbeat(writer: FrameWriter): () => void {
  const timer = setInterval(() => writer.send({ type: 'alive' }).catch(() => {}), HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export function protocolError(what: string): JobError {
  return new JobError(
    `migrate protocol error: ${what}`,
    'FAILED',
    'both machines need the same cryopipe version; check --remote-cryopipe',
  );
}

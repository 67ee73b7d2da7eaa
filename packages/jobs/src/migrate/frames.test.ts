import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameReader, FrameWriter, MAX_FRAME } from './frames.ts';

function pair(idleMs?: number) {
  const wire = new PassThrough();
  return { wire, writer: new FrameWriter(wire), reader: new FrameReader(wire, 'the peer', idleMs) };
}

describe('migrate framing', () => {
  it('carries messages and data chunks in order, across arbitrary chunk boundaries', async () => {
    const out = new PassThrough();
    const writer = new FrameWriter(out);
    const bytes: Buffer[] = [];
    out.on('data', (c: Buffer) => bytes.push(c));
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    await writer.send({ type: 'file', size: data.length });
    await writer.data(data);
    await writer.send({ type: 'alive' }); // a heartbeat: dropped by the reader
    await writer.send({ type: 'restore', checkpoint: 3 });
    const all = Buffer.concat(bytes);
    // Deliver it one odd-sized piece at a time, as a pipe may.
    const wire = new PassThrough();
    const reader = new FrameReader(wire, 'the peer');
    for (let at = 0; at < all.length; at += 7777) wire.write(all.subarray(at, at + 7777));
    expect(await reader.message()).toEqual({ type: 'file', size: data.length });
    const chunk = await reader.next();
    expect(chunk.kind).toBe('data');
    expect(chunk.kind === 'data' && chunk.data.equals(data)).toBe(true);
    expect(await reader.message()).toEqual({ type: 'restore', checkpoint: 3 });
    expect(writer.bytes).toBe(data.length);
  });

  it('fails a read when the stream ends, naming the peer', async () => {
    const { wire, writer, reader } = pair();
    await writer.send({ type: 'hello' });
    wire.end();
    expect(await reader.message()).toEqual({ type: 'hello' });
    await expect(reader.next()).rejects.toThrow('the peer closed the connection');
  });

  it('fails a read after the idle time without any frame, heartbeats included', async () => {
    const { reader } = pair(150);
    const started = performance.now();
    await expect(reader.next()).rejects.toThrow(/nothing heard from the peer for 0\.15 s/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('refuses a frame longer than the limit and a data frame where a message belongs', async () => {
    const wire = new PassThrough();
    const reader = new FrameReader(wire, 'the peer');
    const head = Buffer.alloc(5);
    head.writeUInt32BE(MAX_FRAME + 2, 0);
    wire.write(head);
    await expect(reader.next()).rejects.toThrow(/migrate protocol error: a frame of/);
    const other = pair();
    await other.writer.data(Buffer.from('x'));
    await expect(other.reader.message()).rejects.toThrow(
      /a data frame where a message was expected/,
    );
  });
});

import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pipe_data_entrySchema, pstree_entrySchema } from '../gen/images_pb.ts';
import { classifyImage, decodeImage } from './decode.ts';
import { ImageError, readHead, splitEntries } from './framing.ts';
import { IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, MAGICS } from './magic.ts';

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const entry = (payload: Uint8Array, extra: Uint8Array = new Uint8Array(0)) =>
  cat(u32(payload.length), payload, extra);

function pstreeImage(pids: number[]): Uint8Array {
  return cat(
    u32(IMG_COMMON_MAGIC),
    u32(MAGICS.PSTREE),
    ...pids.map((pid) =>
      entry(
        toBinary(
          pstree_entrySchema,
          create(pstree_entrySchema, { pid, ppid: 1, pgid: pid, sid: pid, threads: [pid] }),
        ),
      ),
    ),
  );
}

function pipesDataImage(chunks: Uint8Array[]): Uint8Array {
  return cat(
    u32(IMG_COMMON_MAGIC),
    u32(MAGICS.PIPES_DATA),
    ...chunks.map((data, i) =>
      entry(
        toBinary(
          pipe_data_entrySchema,
          create(pipe_data_entrySchema, { pipeId: 100 + i, bytes: data.length }),
        ),
        data,
      ),
    ),
  );
}

/** Runs `fn`; returns undefined or the ImageError it threw; any other throw fails the test. */
function typedOutcome(fn: () => unknown): ImageError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!ImageError.is(err)) throw new Error(`untyped error: ${String(err)}`, { cause: err });
    return err;
  }
}

describe('image framing', () => {
  it('reads the head of common, service and inventory images', () => {
    expect(readHead(cat(u32(IMG_COMMON_MAGIC), u32(MAGICS.PSTREE)))).toEqual({
      magic: 'PSTREE',
      service: false,
      entriesOffset: 8,
    });
    expect(readHead(cat(u32(IMG_SERVICE_MAGIC), u32(MAGICS.STATS)))).toMatchObject({
      magic: 'STATS',
      service: true,
    });
    expect(readHead(u32(MAGICS.INVENTORY))).toEqual({
      magic: 'INVENTORY',
      service: false,
      entriesOffset: 4,
    });
  });

  it('names what is wrong with a bad head', () => {
    expect(typedOutcome(() => readHead(new Uint8Array(3)))?.code).toBe('TRUNCATED');
    expect(typedOutcome(() => readHead(u32(IMG_COMMON_MAGIC)))?.code).toBe('TRUNCATED');
    const wrong = typedOutcome(() =>
      readHead(cat(u32(IMG_COMMON_MAGIC), u32(0x12345678)), 'x.img'),
    );
    expect(wrong).toMatchObject({ code: 'BAD_MAGIC', offset: 4, image: 'x.img' });
    expect(wrong?.message).toContain('0x12345678');
    expect(typedOutcome(() => readHead(u32(0xdeadbeef)))?.code).toBe('BAD_MAGIC');
  });

  it('decodes entries and the bytes that follow pipe data', () => {
    const image = decodeImage(pstreeImage([10, 11]), 'pstree.img');
    expect(image.kind).toBe('decoded');
    if (image.kind !== 'decoded' || image.magic !== 'PSTREE') throw new Error('unreachable');
    expect(image.entries.map((e) => (e.message as { pid: number }).pid)).toEqual([10, 11]);

    const data = decodeImage(pipesDataImage([new TextEncoder().encode('abc'), new Uint8Array(0)]));
    if (data.kind !== 'decoded') throw new Error('unreachable');
    expect(data.entries.map((e) => Buffer.from(e.extra!).toString())).toEqual(['abc', '']);
  });

  it('lists images it has no decoder for, and files without framing, by name and size', () => {
    const fs = cat(u32(IMG_COMMON_MAGIC), u32(MAGICS.FS), entry(new Uint8Array([8, 1])));
    expect(decodeImage(fs, 'fs-1.img')).toEqual({
      kind: 'unknown',
      name: 'fs-1.img',
      size: fs.length,
      magic: 'FS',
    });
    expect(classifyImage(new Uint8Array(4096), 'pages-1.img')).toEqual({
      kind: 'raw',
      name: 'pages-1.img',
      size: 4096,
    });
  });

  it('fuzz: arbitrary bytes give a result or an ImageError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, framed) => {
        const input = framed ? cat(u32(IMG_COMMON_MAGIC), u32(MAGICS.FILES), bytes) : bytes;
        typedOutcome(() => classifyImage(input));
        typedOutcome(() => decodeImage(input));
      }),
      { numRuns: 2000 },
    );
  });

  it('fuzz: every truncation of a valid image is TRUNCATED or a shorter valid image', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        (chunks, cut) => {
          const whole = pipesDataImage(chunks);
          const at = cut % whole.length;
          const err = typedOutcome(() => decodeImage(whole.subarray(0, at)));
          if (err) expect(err.code).toBe('TRUNCATED');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('fuzz: wrong magics are BAD_MAGIC', () => {
    const known = new Set<number>(Object.values(MAGICS));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }).filter((m) => !known.has(m)),
        (magic) => {
          expect(
            typedOutcome(() => decodeImage(cat(u32(IMG_COMMON_MAGIC), u32(magic))))?.code,
          ).toBe('BAD_MAGIC');
        },
      ),
    );
  });

  it('fuzz: huge sizes fail typed without allocating them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 0xffffffff }), fc.boolean(), (size, asPipeData) => {
        const before = process.memoryUsage().arrayBuffers;
        const image = asPipeData
          ? cat(
              u32(IMG_COMMON_MAGIC),
              u32(MAGICS.PIPES_DATA),
              entry(
                toBinary(
                  pipe_data_entrySchema,
                  create(pipe_data_entrySchema, { pipeId: 1, bytes: size }),
                ),
              ),
            )
          : cat(u32(IMG_COMMON_MAGIC), u32(MAGICS.PSTREE), u32(size), new Uint8Array(8));
        const err = typedOutcome(() => decodeImage(image));
        expect(['TRUNCATED', 'ENTRY_TOO_LARGE']).toContain(err?.code);
        // Nothing near `size` was allocated (views only).
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      }),
      { numRuns: 500 },
    );
  });

  it('returns views into the input, not copies', () => {
    const bytes = pipesDataImage([new Uint8Array(1000)]);
    const image = decodeImage(bytes);
    if (image.kind !== 'decoded') throw new Error('unreachable');
    expect(image.entries[0]?.extra?.buffer).toBe(bytes.buffer);
    expect(splitEntries(bytes, 8, () => 1000)[0]?.payload.buffer).toBe(bytes.buffer);
  });
});

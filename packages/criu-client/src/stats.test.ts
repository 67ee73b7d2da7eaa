import { readFileSync } from 'node:fs';
import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { stats_entrySchema } from './gen/stats_pb.ts';
import { IMG_SERVICE_MAGIC, parseStatsImage, STATS_MAGIC } from './stats.ts';

function image(entry: Uint8Array, magics = [IMG_SERVICE_MAGIC, STATS_MAGIC]): Uint8Array {
  const out = new Uint8Array(12 + entry.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magics[0]!, true);
  view.setUint32(4, magics[1]!, true);
  view.setUint32(8, entry.length, true);
  out.set(entry, 12);
  return out;
}

describe('parseStatsImage', () => {
  it('decodes a stats-dump written by criu 4.2.1', () => {
    const stats = parseStatsImage(
      readFileSync(new URL('../test/fixtures/stats-dump', import.meta.url)),
    );
    expect(stats.restore).toBeUndefined();
    expect(stats.dump).toMatchObject({
      freezingTimeUs: 452,
      frozenTimeUs: 26937,
      memdumpTimeUs: 4645,
      memwriteTimeUs: 1041,
      pagesScanned: 291,
      pagesSkippedParent: 0,
      pagesWritten: 231,
      pagesLazy: 0,
    });
  });

  it('decodes restore stats', () => {
    const entry = create(stats_entrySchema, {
      restore: {
        pagesCompared: 7n,
        pagesSkippedCow: 2n,
        forkingTime: 150,
        restoreTime: 90_000,
        pagesRestored: 300n,
      },
    });
    expect(parseStatsImage(image(toBinary(stats_entrySchema, entry))).restore).toEqual({
      forkingTimeUs: 150,
      restoreTimeUs: 90_000,
      pagesCompared: 7,
      pagesSkippedCow: 2,
      pagesRestored: 300,
    });
  });

  it('refuses other images and truncated ones', () => {
    expect(() => parseStatsImage(image(new Uint8Array(0), [0x54564319, STATS_MAGIC]))).toThrow(
      /not a CRIU stats image/,
    );
    expect(() => parseStatsImage(image(new Uint8Array(4)).subarray(0, 14))).toThrow(/truncated/);
    expect(() => parseStatsImage(new Uint8Array(3))).toThrow(/too short/);
  });
});

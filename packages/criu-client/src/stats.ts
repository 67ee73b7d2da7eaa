import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { stats_entrySchema } from './gen/stats_pb.ts';

/** Head magic of CRIU's "service" images (stats, irmap cache). */
export const IMG_SERVICE_MAGIC = 0x55105940;
/** Magic of the stats images. */
export const STATS_MAGIC = 0x57093306;

/** What criu measured during a dump; times in microseconds. */
export interface DumpStats {
  /** Time spent freezing the tree, in microseconds. */
  freezingTimeUs: number;
  /** Time the tree stayed frozen, in microseconds. */
  frozenTimeUs: number;
  /** Time spent collecting memory pages, in microseconds. */
  memdumpTimeUs: number;
  /** Time spent writing memory pages, in microseconds. */
  memwriteTimeUs: number;
  /** Time spent resolving inotify/fanotify watch paths, in microseconds; undefined when not reported. */
  irmapResolveUs?: number | undefined;
  /** Pages of private memory looked at. */
  pagesScanned: number;
  /** Pages not written because a parent (pre-)dump already holds them unchanged. */
  pagesSkippedParent: number;
  /** Pages written to the images (or sent to the page server). */
  pagesWritten: number;
  /** Pages left for lazy restore. */
  pagesLazy: number;
  /** Page pipes used to move pages; undefined when not reported. */
  pagePipes?: number | undefined;
  /** Pipe buffers used by those page pipes; undefined when not reported. */
  pagePipeBufs?: number | undefined;
  /** Pages of shared memory looked at; undefined when not reported. */
  shpagesScanned?: number | undefined;
  /** Shared-memory pages skipped thanks to a parent dump; undefined when not reported. */
  shpagesSkippedParent?: number | undefined;
  /** Shared-memory pages written; undefined when not reported. */
  shpagesWritten?: number | undefined;
}

/** What criu measured during a restore; times in microseconds. */
export interface RestoreStats {
  /** Time spent re-creating the processes, in microseconds. */
  forkingTimeUs: number;
  /** Total restore time, in microseconds. */
  restoreTimeUs: number;
  /** Pages compared with the parent for copy-on-write sharing. */
  pagesCompared: number;
  /** Pages not restored because they are shared copy-on-write. */
  pagesSkippedCow: number;
  /** Pages restored; undefined when not reported. */
  pagesRestored?: number | undefined;
}

/** Decoded stats-dump / stats-restore: whichever the file held. */
export interface CriuStats {
  /** Dump statistics; undefined in a restore stats file. */
  dump?: DumpStats | undefined;
  /** Restore statistics; undefined in a dump stats file. */
  restore?: RestoreStats | undefined;
}

/**
 * Decodes a stats image: two little-endian u32 magics, then one entry
 * (a u32 length followed by that many bytes of StatsEntry protobuf).
 */
export function parseStatsImage(bytes: Uint8Array): CriuStats {
  if (bytes.length < 12) throw new Error(`stats image too short (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = view.getUint32(0, true);
  const magic = view.getUint32(4, true);
  if (head !== IMG_SERVICE_MAGIC || magic !== STATS_MAGIC) {
    throw new Error(
      `not a CRIU stats image (magics 0x${head.toString(16)} 0x${magic.toString(16)}, ` +
        `expected 0x${IMG_SERVICE_MAGIC.toString(16)} 0x${STATS_MAGIC.toString(16)})`,
    );
  }
  const size = view.getUint32(8, true);
  if (12 + size > bytes.length) throw new Error(`stats image truncated: entry of ${size} bytes`);
  const entry = fromBinary(stats_entrySchema, bytes.subarray(12, 12 + size));
  const out: CriuStats = {};
  const optional = (value: number | bigint | undefined, present: boolean) =>
    present && value !== undefined ? Number(value) : undefined;
  if (entry.dump) {
    const d = entry.dump;
    out.dump = {
      freezingTimeUs: d.freezingTime,
      frozenTimeUs: d.frozenTime,
      memdumpTimeUs: d.memdumpTime,
      memwriteTimeUs: d.memwriteTime,
      irmapResolveUs: optional(d.irmapResolve, d.irmapResolve !== 0),
      pagesScanned: Number(d.pagesScanned),
      pagesSkippedParent: Number(d.pagesSkippedParent),
      pagesWritten: Number(d.pagesWritten),
      pagesLazy: Number(d.pagesLazy),
      pagePipes: optional(d.pagePipes, true),
      pagePipeBufs: optional(d.pagePipeBufs, true),
      shpagesScanned: optional(d.shpagesScanned, true),
      shpagesSkippedParent: optional(d.shpagesSkippedParent, true),
      shpagesWritten: optional(d.shpagesWritten, true),
    };
  }
  if (entry.restore) {
    const r = entry.restore;
    out.restore = {
      forkingTimeUs: r.forkingTime,
      restoreTimeUs: r.restoreTime,
      pagesCompared: Number(r.pagesCompared),
      pagesSkippedCow: Number(r.pagesSkippedCow),
      pagesRestored: optional(r.pagesRestored, true),
    };
  }
  return out;
}

/** Reads `stats-dump` or `stats-restore` from criu's work directory (by default the images directory). */
export async function readStats(dir: string, kind: 'dump' | 'restore'): Promise<CriuStats> {
  return parseStatsImage(await readFile(join(dir, `stats-${kind}`)));
}

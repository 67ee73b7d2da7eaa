// The framing of CRIU image files, without any protobuf:
//
//   image  = head-magic? magic entry*        (all integers u32 little-endian)
//   entry  = size payload[size] extra?
//
// inventory.img has only its own magic; every other image starts with
// IMG_COMMON_MAGIC (or IMG_SERVICE_MAGIC for stats and the irmap cache) and
// then its kind's magic. Some kinds follow each payload with raw bytes whose
// length the payload says (pipes-data: the bytes that were in the pipe).
// Images without any magic (pages-*.img, ip/iptables dumps, tarballs) are
// "raw". Nothing here copies the input: payloads are views into it, so
// memory stays bounded by the file whatever its length fields claim.
import { IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, type ImageMagic, magicName } from './magic.ts';

/** What is wrong with a malformed image ({@link ImageError}'s `code`). */
export type ImageErrorCode =
  /** The file ends inside a magic, a size field, a payload or its extra bytes. */
  | 'TRUNCATED'
  /** The magic is none CRIU defines (or a head magic without a known kind after it). */
  | 'BAD_MAGIC'
  /** A size field above 2 GiB: CRIU writes sizes as signed 32-bit ints. */
  | 'ENTRY_TOO_LARGE'
  /** A payload that is not a valid protobuf message of the expected type. */
  | 'DECODE'
  /** An image a checkpoint must have is missing (readCheckpoint without inventory.img). */
  | 'MISSING_IMAGE';

const brand = Symbol.for('@cryopipe/criu-client/ImageError');

/** A malformed image. `offset` is where in the file the problem starts. */
export class ImageError extends Error {
  /** What is wrong. */
  readonly code: ImageErrorCode;
  /** Byte offset in the file where the problem starts. */
  readonly offset: number;
  /** The image's file name, when known. */
  readonly image: string | undefined;
  /** Brand that `is()` checks, so errors are recognised across duplicate package copies. @internal */
  readonly [brand] = true;

  constructor(
    message: string,
    details: { code: ImageErrorCode; offset: number; image?: string | undefined; cause?: unknown },
  ) {
    super(
      details.image ? `${details.image}: ${message}` : message,
      details.cause ? { cause: details.cause } : undefined,
    );
    this.name = 'ImageError';
    this.code = details.code;
    this.offset = details.offset;
    this.image = details.image;
  }

  /** True for an ImageError from any copy of this package. */
  static is(value: unknown): value is ImageError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

/** What an image's first bytes say ({@link readHead}). */
export interface ImageHead {
  /** The kind's name, as crit prints it (e.g. `PSTREE`). */
  magic: ImageMagic;
  /** True for service files (IMG_SERVICE_MAGIC head). */
  service: boolean;
  /** Where the first entry starts: 4 for inventory.img, else 8. */
  entriesOffset: number;
}

/** One entry: views into the image's bytes. */
export interface RawEntry {
  /** Offset of the entry's size field in the file. */
  offset: number;
  /** The entry's protobuf bytes. */
  payload: Uint8Array;
  /** The raw bytes after the payload, for kinds that carry them. */
  extra?: Uint8Array | undefined;
}

function u32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) +
    bytes[offset + 3]! * 0x1000000
  );
}

/**
 * Reads the magic(s) at the start of an image. Returns undefined for a raw
 * image (first u32 is neither a head magic nor inventory's magic and the
 * caller said raw images are expected), throws BAD_MAGIC otherwise.
 */
export function readHead(bytes: Uint8Array, image?: string): ImageHead {
  if (bytes.length < 4) {
    throw new ImageError(`${bytes.length} bytes: too short for a magic`, {
      code: 'TRUNCATED',
      offset: 0,
      image,
    });
  }
  const first = u32(bytes, 0);
  if (first === IMG_COMMON_MAGIC || first === IMG_SERVICE_MAGIC) {
    if (bytes.length < 8) {
      throw new ImageError('ends after the head magic', { code: 'TRUNCATED', offset: 4, image });
    }
    const second = u32(bytes, 4);
    const magic = magicName(second);
    if (!magic) {
      throw new ImageError(`unknown image magic 0x${second.toString(16)}`, {
        code: 'BAD_MAGIC',
        offset: 4,
        image,
      });
    }
    return { magic, service: first === IMG_SERVICE_MAGIC, entriesOffset: 8 };
  }
  // CRIU writes no head magic only for inventory.img.
  if (magicName(first) === 'INVENTORY') {
    return { magic: 'INVENTORY', service: false, entriesOffset: 4 };
  }
  throw new ImageError(`not a CRIU image (magic 0x${first.toString(16)})`, {
    code: 'BAD_MAGIC',
    offset: 0,
    image,
  });
}

/**
 * Splits the entries from `start` to the end of `bytes`. `extraLength`
 * returns how many raw bytes follow a payload (0 when none); it is given the
 * payload and the entry's index.
 */
export function splitEntries(
  bytes: Uint8Array,
  start: number,
  extraLength?: (payload: Uint8Array, index: number, offset: number) => number,
  image?: string,
): RawEntry[] {
  const entries: RawEntry[] = [];
  let at = start;
  while (at < bytes.length) {
    if (bytes.length - at < 4) {
      throw new ImageError(`ends inside an entry's size field (${bytes.length - at} bytes left)`, {
        code: 'TRUNCATED',
        offset: at,
        image,
      });
    }
    const size = u32(bytes, at);
    if (size > 0x7fffffff) {
      throw new ImageError(`entry size ${size} is negative as CRIU's signed 32-bit size`, {
        code: 'ENTRY_TOO_LARGE',
        offset: at,
        image,
      });
    }
    const payloadStart = at + 4;
    if (size > bytes.length - payloadStart) {
      throw new ImageError(
        `entry of ${size} bytes, only ${bytes.length - payloadStart} left in the file`,
        { code: 'TRUNCATED', offset: at, image },
      );
    }
    const payload = bytes.subarray(payloadStart, payloadStart + size);
    const entry: RawEntry = { offset: at, payload };
    at = payloadStart + size;
    const extra = extraLength ? extraLength(payload, entries.length, entry.offset) : 0;
    if (extra > 0) {
      if (extra > bytes.length - at) {
        throw new ImageError(
          `entry says ${extra} bytes of data follow, only ${bytes.length - at} left in the file`,
          { code: 'TRUNCATED', offset: at, image },
        );
      }
      entry.extra = bytes.subarray(at, at + extra);
      at += extra;
    }
    entries.push(entry);
  }
  return entries;
}

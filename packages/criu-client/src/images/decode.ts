// Decoding one image: framing (framing.ts) plus the protobuf message of each
// entry, chosen by the image's magic.
import { type DescMessage, fromBinary, type MessageShape, toJson } from '@bufbuild/protobuf';
import {
  core_entrySchema,
  fdinfo_entrySchema,
  fifo_entrySchema,
  file_entrySchema,
  inet_sk_entrySchema,
  inventory_entrySchema,
  memfd_inode_entrySchema,
  mm_entrySchema,
  pagemap_entrySchema,
  pagemap_headSchema,
  pipe_data_entrySchema,
  pipe_entrySchema,
  pstree_entrySchema,
  reg_file_entrySchema,
  task_kobj_ids_entrySchema,
  tty_file_entrySchema,
  tty_info_entrySchema,
  unix_sk_entrySchema,
} from '../gen/images_pb.ts';
import { stats_entrySchema } from '../gen/stats_pb.ts';
import { ImageError, readHead, splitEntries } from './framing.ts';
import { type ImageMagic, magicName } from './magic.ts';

/** The message type of each image kind this package decodes. */
export const ENTRY_SCHEMAS = {
  INVENTORY: inventory_entrySchema,
  PSTREE: pstree_entrySchema,
  CORE: core_entrySchema,
  IDS: task_kobj_ids_entrySchema,
  FDINFO: fdinfo_entrySchema,
  FILES: file_entrySchema,
  TTY_INFO: tty_info_entrySchema,
  PIPES_DATA: pipe_data_entrySchema,
  FIFO_DATA: pipe_data_entrySchema,
  MM: mm_entrySchema,
  MEMFD_INODE: memfd_inode_entrySchema,
  PAGEMAP: pagemap_entrySchema, // after a pagemap_head, see below
  STATS: stats_entrySchema,
  // Images of older CRIU (before files.img gathered every file kind).
  REG_FILES: reg_file_entrySchema,
  PIPES: pipe_entrySchema,
  FIFO: fifo_entrySchema,
  UNIXSK: unix_sk_entrySchema,
  INETSK: inet_sk_entrySchema,
  TTY_FILES: tty_file_entrySchema,
} as const satisfies Partial<Record<ImageMagic, DescMessage>>;

export type DecodedMagic = keyof typeof ENTRY_SCHEMAS;

/** An entry of a decoded image kind M. */
export interface ImageEntry<M extends DecodedMagic = DecodedMagic> {
  /** Offset of the entry in the file. */
  offset: number;
  message: M extends 'PAGEMAP'
    ? MessageShape<typeof pagemap_headSchema> | MessageShape<typeof pagemap_entrySchema>
    : MessageShape<(typeof ENTRY_SCHEMAS)[M]>;
  /** pipes-data / fifo-data: the bytes that were in the pipe. */
  extra?: Uint8Array | undefined;
}

/** An image whose entries this package decodes. */
export interface DecodedImage<M extends DecodedMagic = DecodedMagic> {
  kind: 'decoded';
  /** File name, e.g. `pstree.img`. */
  name: string;
  /** File size in bytes. */
  size: number;
  magic: M;
  entries: ImageEntry<M>[];
}

/**
 * An image with a valid CRIU magic this package has no decoder for
 * (sigacts, creds, …): listed by name and size, never an error.
 */
export interface UnknownImage {
  kind: 'unknown';
  name: string;
  size: number;
  magic: ImageMagic;
}

/** A file without CRIU's framing: pages-*.img, raw network dumps, logs, anything else. */
export interface RawImage {
  kind: 'raw';
  name: string;
  size: number;
}

export type AnyImage = DecodedImage | UnknownImage | RawImage;

/** True when the bytes start like a CRIU image (head magic, or inventory's magic). */
export function isFramedImage(bytes: Uint8Array): boolean {
  try {
    readHead(bytes);
    return true;
  } catch {
    return false;
  }
}

function parse<D extends DescMessage>(
  schema: D,
  payload: Uint8Array,
  offset: number,
  image: string | undefined,
): MessageShape<D> {
  try {
    return fromBinary(schema, payload);
  } catch (cause) {
    throw new ImageError(`entry is not a valid ${schema.typeName}: ${(cause as Error).message}`, {
      code: 'DECODE',
      offset,
      image,
      cause,
    });
  }
}

/**
 * Decodes a CRIU image. Throws ImageError (TRUNCATED, BAD_MAGIC,
 * ENTRY_TOO_LARGE, DECODE) when the bytes are not a well-formed image; a
 * well-formed image of a kind without a decoder comes back as UnknownImage.
 * `name` only labels the result and errors.
 */
export function decodeImage(bytes: Uint8Array, name = ''): DecodedImage | UnknownImage {
  const label = name || undefined;
  const head = readHead(bytes, label);
  const magic = head.magic;
  if (!(magic in ENTRY_SCHEMAS)) return { kind: 'unknown', name, size: bytes.length, magic };
  const decoded = magic as DecodedMagic;
  const schema = ENTRY_SCHEMAS[decoded];
  const withData = decoded === 'PIPES_DATA' || decoded === 'FIFO_DATA';
  const messages: unknown[] = [];
  const raw = splitEntries(
    bytes,
    head.entriesOffset,
    withData
      ? (payload, _index, offset) => {
          const entry = parse(pipe_data_entrySchema, payload, offset, label);
          messages.push(entry);
          return entry.bytes;
        }
      : undefined,
    label,
  );
  const entries = raw.map((entry, index) => {
    let message: unknown;
    if (withData) message = messages[index];
    else if (decoded === 'PAGEMAP' && index === 0) {
      message = parse(pagemap_headSchema, entry.payload, entry.offset, label);
    } else message = parse(schema, entry.payload, entry.offset, label);
    // Data-bearing kinds always have `extra`, empty for an empty pipe.
    const extra = entry.extra ?? (withData ? new Uint8Array(0) : undefined);
    return { offset: entry.offset, message, ...(extra && { extra }) };
  });
  return { kind: 'decoded', name, size: bytes.length, magic: decoded, entries } as DecodedImage;
}

/** Like decodeImage, but a file without CRIU framing is a RawImage instead of an error. */
export function classifyImage(bytes: Uint8Array, name = ''): AnyImage {
  if (bytes.length >= 4) {
    const first = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
    if (!isFramedHead(first >>> 0)) return { kind: 'raw', name, size: bytes.length };
  } else return { kind: 'raw', name, size: bytes.length };
  return decodeImage(bytes, name);
}

function isFramedHead(first: number): boolean {
  return first === 0x54564319 || first === 0x55105940 || magicName(first) === 'INVENTORY';
}

/** crit's JSON for one entry's message: proto field names, enum names, 64-bit integers as strings. */
export type EntryJson = Record<string, unknown>;

/**
 * The image as `crit decode` shows it: `{ magic, entries }`, each entry its
 * message's fields (proto names; 64-bit integers as decimal strings, bytes as
 * base64) plus `extra` (base64) for pipe data.
 */
export function imageToJson(image: DecodedImage): { magic: string; entries: EntryJson[] } {
  return {
    magic: image.magic,
    entries: image.entries.map((entry, index) => {
      const schema =
        image.magic === 'PAGEMAP' && index === 0 ? pagemap_headSchema : ENTRY_SCHEMAS[image.magic];
      // biome-ignore lint/suspicious/noExplicitAny: the schema matches the message by construction
      const json = toJson(schema as any, entry.message as any, {
        useProtoFieldName: true,
      }) as EntryJson;
      if (entry.extra) json.extra = Buffer.from(entry.extra).toString('base64');
      return json;
    }),
  };
}

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
  /** inventory.img: the image set's version, the root task's ids, what was dumped. */
  INVENTORY: inventory_entrySchema,
  /** pstree.img: one entry per process (pid, ppid, pgid, sid, thread ids). */
  PSTREE: pstree_entrySchema,
  /** core-PID.img: one thread's registers, signals, state and scheduling. */
  CORE: core_entrySchema,
  /** ids-PID.img: a process's namespace and resource ids (which files table, mm, …). */
  IDS: task_kobj_ids_entrySchema,
  /** fdinfo-N.img: a files table's descriptors (fd number, file id, kind, flags). */
  FDINFO: fdinfo_entrySchema,
  /** files.img: every open file description, one entry per file id, of any kind. */
  FILES: file_entrySchema,
  /** tty-info.img: terminals (index, session, process group, termios). */
  TTY_INFO: tty_info_entrySchema,
  /** pipes-data.img: the bytes in flight in each pipe (in `extra`). */
  PIPES_DATA: pipe_data_entrySchema,
  /** fifo-data.img: the bytes in flight in each FIFO (in `extra`). */
  FIFO_DATA: pipe_data_entrySchema,
  /** mm-N.img: an address space (its VMAs, brk, arguments and environment bounds). */
  MM: mm_entrySchema,
  /** memfd.img: memfd inodes (name, size, seals). */
  MEMFD_INODE: memfd_inode_entrySchema,
  /** pagemap-N.img: which pages of which VMA are in pages-M.img (after a pagemap_head entry). */
  PAGEMAP: pagemap_entrySchema,
  /** stats-dump / stats-restore: criu's timings and page counts. */
  STATS: stats_entrySchema,
  /** reg-files.img (older CRIU, before files.img gathered every file kind): regular files. */
  REG_FILES: reg_file_entrySchema,
  /** pipes.img (older CRIU): pipe descriptions. */
  PIPES: pipe_entrySchema,
  /** fifo.img (older CRIU): FIFO descriptions. */
  FIFO: fifo_entrySchema,
  /** unixsk.img (older CRIU): unix sockets. */
  UNIXSK: unix_sk_entrySchema,
  /** inetsk.img (older CRIU): TCP/UDP sockets. */
  INETSK: inet_sk_entrySchema,
  /** tty.img (older CRIU): terminal files. */
  TTY_FILES: tty_file_entrySchema,
} as const satisfies Partial<Record<ImageMagic, DescMessage>>;

/** The image kinds whose entries this package decodes (the keys of {@link ENTRY_SCHEMAS}). */
export type DecodedMagic = keyof typeof ENTRY_SCHEMAS;

/** An entry of a decoded image kind M. */
export interface ImageEntry<M extends DecodedMagic = DecodedMagic> {
  /** Offset of the entry in the file. */
  offset: number;
  /** The decoded protobuf message; for PAGEMAP the first entry is a pagemap_head. */
  message: M extends 'PAGEMAP'
    ? MessageShape<typeof pagemap_headSchema> | MessageShape<typeof pagemap_entrySchema>
    : MessageShape<(typeof ENTRY_SCHEMAS)[M]>;
  /** pipes-data / fifo-data: the bytes that were in the pipe. */
  extra?: Uint8Array | undefined;
}

/** An image whose entries this package decodes. */
export interface DecodedImage<M extends DecodedMagic = DecodedMagic> {
  /** Tells the three kinds of {@link AnyImage} apart. */
  kind: 'decoded';
  /** File name, e.g. `pstree.img`. */
  name: string;
  /** File size in bytes. */
  size: number;
  /** The image kind, from its magic. */
  magic: M;
  /** Every entry, in file order. */
  entries: ImageEntry<M>[];
}

/**
 * An image with a valid CRIU magic this package has no decoder for
 * (sigacts, creds, …): listed by name and size, never an error.
 */
export interface UnknownImage {
  /** Tells the three kinds of {@link AnyImage} apart. */
  kind: 'unknown';
  /** File name, e.g. `sigacts-1.img`. */
  name: string;
  /** File size in bytes. */
  size: number;
  /** The image kind its magic names. */
  magic: ImageMagic;
}

/** A file without CRIU's framing: pages-*.img, raw network dumps, logs, anything else. */
export interface RawImage {
  /** Tells the three kinds of {@link AnyImage} apart. */
  kind: 'raw';
  /** File name, e.g. `pages-1.img`. */
  name: string;
  /** File size in bytes. */
  size: number;
}

/** Any file of a checkpoint directory, as {@link classifyImage} sees it. */
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

/** A decoded image as `crit decode` prints it. */
export interface ImageJson {
  /** The image kind, e.g. `PSTREE`. */
  magic: string;
  /** Each entry's message as crit's JSON. */
  entries: EntryJson[];
}

/** crit's JSON for one entry's message: proto field names, enum names, 64-bit integers as strings. */
export type EntryJson = Record<string, unknown>;

/**
 * The image as `crit decode` shows it: `{ magic, entries }`, each entry its
 * message's fields (proto names; 64-bit integers as decimal strings, bytes as
 * base64) plus `extra` (base64) for pipe data.
 */
export function imageToJson(image: DecodedImage): ImageJson {
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

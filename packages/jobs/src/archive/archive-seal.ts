import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { JobError } from '../errors.ts';
import { decryptStream, ENCRYPTED_MAGIC } from './archive-cipher.ts';
import { rawPublicKey, signDigest } from './signing.ts';

/**
 * A signed export is the plain tar.zst followed by one zstd *skippable
 * frame* (magic 0x184D2A5E), which every zstd decoder ignores, so
 * `zstd -dc FILE | tar t` still reads a signed archive:
 *
 *     5E 2A 4D 18 | 68 00 00 00 (104, LE) | "CRYOSIG1" | Ed25519 public key (32) | signature (64)
 *
 * The signature covers sha512 of every byte before the trailer (see
 * signing.ts for the exact message), computed while the archive streams
 * out: export never holds the archive, and import hashes it as it arrives.
 */
const SKIPPABLE_MAGIC = Buffer.from([0x5e, 0x2a, 0x4d, 0x18]);
const TAG = Buffer.from('CRYOSIG1');
const PAYLOAD_BYTES = TAG.length + 32 + 64;
export const TRAILER_BYTES = 8 + PAYLOAD_BYTES;

/** Passes the archive through and appends the signature trailer at its end. */
export function signingStream(key: KeyObject): Transform {
  const hash = createHash('sha512');
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(PAYLOAD_BYTES);
      const signature = signDigest(key, hash.digest());
      done(null, Buffer.concat([SKIPPABLE_MAGIC, size, TAG, rawPublicKey(key), signature]));
    },
  });
}

function parseTrailer(b: Buffer): { publicKey: Buffer; signature: Buffer } | undefined {
  if (b.length !== TRAILER_BYTES) return undefined;
  if (!b.subarray(0, 4).equals(SKIPPABLE_MAGIC) || b.readUInt32LE(4) !== PAYLOAD_BYTES)
    return undefined;
  if (!b.subarray(8, 8 + TAG.length).equals(TAG)) return undefined;
  const key = 8 + TAG.length;
  return { publicKey: b.subarray(key, key + 32), signature: b.subarray(key + 32) };
}

export interface Spooled {
  /** sha512 of the archive without its trailer: what a signature must cover. */
  digest: Buffer;
  /** Absent for an unsigned archive. */
  signed?: { publicKey: Buffer; signature: Buffer };
  encrypted: boolean;
  bytes: number;
}

/**
 * Copies an incoming archive into `path` (a new private file), decrypting
 * it first when it is encrypted, hashing it, and splitting off the
 * signature trailer. Nothing is unpacked here: `import` checks the
 * signature against the spooled bytes, then unpacks from the spool, so no
 * parser (zstd, tar) ever reads a byte that was not verified or knowingly
 * trusted.
 */
export async function spoolArchive(
  source: Readable,
  path: string,
  secret: Buffer | undefined,
): Promise<Spooled> {
  const { head, rest } = await peek(source, ENCRYPTED_MAGIC.length);
  const encrypted = head.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC);
  if (encrypted && !secret)
    throw new JobError(
      'the archive is encrypted',
      'USAGE',
      'give the secret it was encrypted with: --decrypt SECRETFILE',
    );
  let stream: Readable = Readable.from(chain(head, rest), { objectMode: false });
  if (encrypted) stream = stream.pipe(decryptStream(secret!));
  const hash = createHash('sha512');
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let held = Buffer.alloc(0);
  let bytes = 0;
  const write = (b: Buffer) => {
    hash.update(b);
    for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done);
    bytes += b.length;
  };
  try {
    // The last TRAILER_BYTES seen may be the trailer: held back until the end.
    for await (const chunk of stream) {
      held = Buffer.concat([held, chunk as Buffer]);
      if (held.length > TRAILER_BYTES) {
        write(held.subarray(0, held.length - TRAILER_BYTES));
        held = held.subarray(held.length - TRAILER_BYTES);
      }
    }
    const signed = parseTrailer(held);
    if (!signed) write(held);
    return { digest: hash.digest(), ...(signed ? { signed } : {}), encrypted, bytes };
  } finally {
    closeSync(fd);
  }
}

async function peek(
  source: Readable,
  n: number,
): Promise<{ head: Buffer; rest: AsyncIterator<Buffer> }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  while (head.length < n) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  return { head, rest: it };
}

async function* chain(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (head.length) yield head;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield Buffer.from(r.value);
  }
}

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { JobError } from '../errors.ts';

/**
 * `export --encrypt`: the archive (signature trailer included) cut into
 * 64 KiB records, each sealed with AES-256-GCM — the "STREAM" construction
 * (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over node:crypto's AEAD:
 *
 *     "CRYOENC1" | salt (32 bytes) | record… | final record
 *     record = AES-256-GCM(key, nonce = counter (8 bytes BE) | 0 0 0 | last?1:0,
 *                          aad = the 40-byte header, up to 64 KiB) | tag (16)
 *
 * The key is HKDF-SHA256(secret, salt) with a fresh random salt per archive,
 * so counters never repeat a nonce under one key. A record changed, moved,
 * dropped or appended, or an archive cut short, fails its tag (only the last
 * record is sealed as last), and `import` stops before using its bytes.
 */
export const ENCRYPTED_MAGIC = Buffer.from('CRYOENC1');
const SALT_BYTES = 32;
const HEADER_BYTES = ENCRYPTED_MAGIC.length + SALT_BYTES;
const RECORD = 64 * 1024;
const TAG = 16;

function deriveKey(secret: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, 'cryopipe archive aes-256-gcm v1', 32));
}

function nonce(counter: bigint, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(counter, 0);
  n[11] = last ? 1 : 0;
  return n;
}

export function encryptStream(secret: Buffer): Transform {
  const header = Buffer.concat([ENCRYPTED_MAGIC, randomBytes(SALT_BYTES)]);
  const key = deriveKey(secret, header.subarray(ENCRYPTED_MAGIC.length));
  let pending = Buffer.alloc(0);
  let counter = 0n;
  const seal = (plain: Buffer, last: boolean): Buffer => {
    const c = createCipheriv('aes-256-gcm', key, nonce(counter++, last));
    c.setAAD(header);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([body, c.getAuthTag()]);
  };
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!started) {
        this.push(header);
        started = true;
      }
      pending = Buffer.concat([pending, chunk]);
      // Keep at least one byte back: the last record must be sealed as last.
      while (pending.length > RECORD) {
        this.push(seal(pending.subarray(0, RECORD), false));
        pending = pending.subarray(RECORD);
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!started) this.push(header);
      this.push(seal(pending, true));
      done();
    },
  });
}

function tampered(): JobError {
  return new JobError(
    'the encrypted archive does not decrypt: wrong --decrypt secret, or it was changed or cut short',
    'REFUSED',
    'check the secret file; if it is the right one, the archive was damaged or tampered with: export it again',
  );
}

/** The inverse of {@link encryptStream}; errors (REFUSED) at the first record that fails. */
export function decryptStream(secret: Buffer): Transform {
  let header: Buffer | undefined;
  let key: Buffer | undefined;
  let pending = Buffer.alloc(0);
  let counter = 0n;
  const open = (sealed: Buffer, last: boolean): Buffer => {
    const d = createDecipheriv('aes-256-gcm', key!, nonce(counter++, last));
    d.setAAD(header!);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    try {
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
    } catch {
      throw tampered();
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      try {
        pending = Buffer.concat([pending, chunk]);
        if (!header) {
          if (pending.length < HEADER_BYTES) return done();
          header = pending.subarray(0, HEADER_BYTES);
          if (!header.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC))
            throw new JobError('the archive is not encrypted by cryopipe', 'REFUSED');
          key = deriveKey(secret, header.subarray(ENCRYPTED_MAGIC.length));
          pending = pending.subarray(HEADER_BYTES);
        }
        // A full record followed by more bytes is not the last one.
        while (pending.length > RECORD + TAG) {
          this.push(open(pending.subarray(0, RECORD + TAG), false));
          pending = pending.subarray(RECORD + TAG);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!header || pending.length < TAG) throw tampered();
        this.push(open(pending, true));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

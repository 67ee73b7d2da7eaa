import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { decryptStream, encryptStream } from './archive-cipher.ts';
import { signingStream, spoolArchive, TRAILER_BYTES } from './archive-seal.ts';
import { keyId, rawPublicKey, verifyDigest } from './signing.ts';

const dir = mkdtempSync(join(tmpdir(), 'cryopipe-seal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const spoolPath = () => join(dir, `spool-${n++}`);
const through = (data: Buffer, ...stages: NodeJS.ReadWriteStream[]) =>
  buffer(stages.reduce<NodeJS.ReadableStream>((s, t) => s.pipe(t), Readable.from([data])));

describe('signature trailer', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const raw = rawPublicKey(privateKey);
  const body = randomBytes(300_000);

  it('appends one zstd skippable frame that spooling splits off and verifies', async () => {
    const signed = await through(body, signingStream(privateKey));
    expect(signed.length).toBe(body.length + TRAILER_BYTES);
    expect(signed.subarray(body.length, body.length + 4).readUInt32LE(0)).toBe(0x184d2a5e);
    const path = spoolPath();
    const s = await spoolArchive(Readable.from([signed]), path, undefined);
    expect(readFileSync(path)).toEqual(body);
    expect(s.signed?.publicKey).toEqual(raw);
    expect(verifyDigest(s.signed!.publicKey, s.digest, s.signed!.signature)).toBe(true);
    expect(keyId(raw)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails verification for any flipped byte', async () => {
    const signed = await through(body, signingStream(privateKey));
    for (const pos of [0, 1000, body.length - 1, signed.length - 1]) {
      const bad = Buffer.from(signed);
      bad[pos] = bad[pos]! ^ 1;
      const s = await spoolArchive(Readable.from([bad]), spoolPath(), undefined);
      expect(s.signed && verifyDigest(s.signed.publicKey, s.digest, s.signed.signature)).toBe(
        false,
      );
    }
  });

  it('treats an archive without a trailer as unsigned, keeping every byte', async () => {
    const path = spoolPath();
    const s = await spoolArchive(Readable.from([body.subarray(0, 50)]), path, undefined);
    expect(s.signed).toBeUndefined();
    expect(readFileSync(path)).toEqual(body.subarray(0, 50));
  });
});

describe('chunked AES-256-GCM', () => {
  const secret = randomBytes(32);
  for (const size of [0, 1, 65_536, 65_537, 200_000]) {
    it(`round-trips ${size} bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await through(plain, encryptStream(secret));
      expect(await through(sealed, decryptStream(secret))).toEqual(plain);
    });
  }

  it('refuses a flipped byte, a dropped record, a cut-short archive and a wrong secret', async () => {
    const plain = randomBytes(200_000);
    const sealed = await through(plain, encryptStream(secret));
    const bad = Buffer.from(sealed);
    bad[100_000] = bad[100_000]! ^ 1;
    const record = 65_536 + 16;
    const dropped = Buffer.concat([sealed.subarray(0, 40), sealed.subarray(40 + record)]);
    for (const [what, data, key] of [
      ['flipped', bad, secret],
      ['dropped', dropped, secret],
      ['cut at a record', sealed.subarray(0, 40 + 2 * record), secret],
      ['cut', sealed.subarray(0, sealed.length - 1), secret],
      ['wrong secret', sealed, randomBytes(32)],
    ] as const)
      await expect(through(data, decryptStream(key)), what).rejects.toThrow(/does not decrypt/);
  });

  it('spools an encrypted, signed archive back to the signed bytes', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const body = randomBytes(100_000);
    const sealed = await through(body, signingStream(privateKey), encryptStream(secret));
    await expect(spoolArchive(Readable.from([sealed]), spoolPath(), undefined)).rejects.toThrow(
      /encrypted/,
    );
    const path = spoolPath();
    const s = await spoolArchive(Readable.from([sealed]), path, secret);
    expect(s.encrypted).toBe(true);
    expect(readFileSync(path)).toEqual(body);
    expect(verifyDigest(s.signed!.publicKey, s.digest, s.signed!.signature)).toBe(true);
  });
});

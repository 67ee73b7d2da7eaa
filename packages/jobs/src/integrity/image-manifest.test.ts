import {
  closeSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Files } from './image-hash.ts';
import {
  assertImagesIntact,
  hashImages,
  imageIdentities,
  imageManifest,
  verifyImages,
} from './image-manifest.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cryopipe-manifest-'));
  writeFileSync(join(dir, 'pages-1.img'), 'final pages');
  writeFileSync(join(dir, 'dump.log'), 'not an image');
  writeFileSync(join(dir, 'checkpoint.json'), '{}');
  mkdirSync(join(dir, 'pre'));
  writeFileSync(join(dir, 'pre', 'pages-1.img'), 'pre-dumped pages');
  writeFileSync(join(dir, 'pre', 'pre-dump.log'), 'log');
  symlinkSync('pre', join(dir, 'parent'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('imageManifest', () => {
  it('covers the pre-dump directory and the parent link, not logs or metadata', () => {
    const names = imageManifest(dir).map((e) => e.name);
    expect(names.sort()).toEqual(['pages-1.img', 'parent', 'pre/pages-1.img']);
    const pre = imageManifest(dir).find((e) => e.name === 'pre/pages-1.img')!;
    expect(pre.size).toBe('pre-dumped pages'.length);
  });

  it('notices a changed pre-dump image and a re-pointed parent link', () => {
    const manifest = imageManifest(dir);
    expect(() => assertImagesIntact(dir, manifest)).not.toThrow();
    writeFileSync(join(dir, 'pre', 'pages-1.img'), 'pre-dumped pagez');
    expect(() => assertImagesIntact(dir, manifest)).toThrow(/pre\/pages-1\.img: content changed/);
    writeFileSync(join(dir, 'pre', 'pages-1.img'), 'pre-dumped pages');
    rmSync(join(dir, 'parent'));
    symlinkSync('/somewhere/else', join(dir, 'parent'));
    expect(() => assertImagesIntact(dir, manifest)).toThrow(/parent: content changed/);
  });
});

/** Overwrites one byte in place, as a disk error or a stray write would. */
function flipByte(path: string, at: number): void {
  const byte = readFileSync(path)[at]!;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from([byte ^ 0xff]), 0, 1, at);
  closeSync(fd);
}

describe('verifyImages', () => {
  it('proves unchanged images by their identity alone, without reading them', async () => {
    const manifest = await hashImages(dir, imageIdentities(dir));
    expect(manifest.every((e) => e.sha256 && e.identity)).toBe(true);
    expect(manifest).toEqual(imageManifest(dir));
    // Reading the images (as criu restore does) changes no identity.
    readFileSync(join(dir, 'pages-1.img'));
    await expect(verifyImages(dir, manifest)).resolves.toBe('identity');
    await expect(verifyImages(dir, manifest, { content: true })).resolves.toBe('content');
  });

  it('re-hashes and refuses a flipped byte, even with the old mtime put back', async () => {
    const manifest = imageManifest(dir);
    const path = join(dir, 'pages-1.img');
    const { atime, mtime } = lstatSync(path);
    flipByte(path, 3);
    utimesSync(path, atime, mtime); // mtime forged back; ctime still moves
    await expect(verifyImages(dir, manifest)).rejects.toThrow(
      /pages-1\.img: content changed \(corrupted\)/,
    );
    flipByte(path, 3);
    // Same bytes again, new identity: the content check passes.
    await expect(verifyImages(dir, manifest)).resolves.toBe('content');
  });

  it('checks the content of a copy (new inodes) and of manifests without identities', async () => {
    const manifest = imageManifest(dir);
    const copy = `${dir}-copy`;
    cpSync(dir, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    try {
      await expect(verifyImages(copy, manifest)).resolves.toBe('content');
      flipByte(join(copy, 'pre', 'pages-1.img'), 0);
      await expect(verifyImages(copy, manifest)).rejects.toThrow(
        /pre\/pages-1\.img: content changed/,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    const legacy = manifest.map(({ identity: _identity, ...e }) => e);
    await expect(verifyImages(dir, legacy)).resolves.toBe('content');
  });

  it('refuses a changed image whose content hash was never recorded', async () => {
    const identities = imageIdentities(dir); // what a crash before the hashing leaves
    await expect(verifyImages(dir, identities)).resolves.toBe('identity');
    writeFileSync(join(dir, 'pages-1.img'), 'final pages');
    await expect(verifyImages(dir, identities)).rejects.toThrow(
      /pages-1\.img: changed since the checkpoint, whose content hash was never recorded/,
    );
  });

  it('gives no digest to an image that changed after its identity was recorded', async () => {
    const identities = imageIdentities(dir);
    writeFileSync(join(dir, 'pages-1.img'), 'final pagez');
    const hashed = await hashImages(dir, identities);
    expect(hashed.find((e) => e.name === 'pages-1.img')!.sha256).toBeUndefined();
    expect(hashed.find((e) => e.name === 'pre/pages-1.img')!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('sha256Files', () => {
  it('gives the same digests in worker threads as on one thread', async () => {
    const files = [0, 1, 2].map((i) => {
      const path = join(dir, `big-${i}.img`);
      writeFileSync(path, Buffer.alloc((16 << 20) + i * 4097, i + 1));
      return { path, size: lstatSync(path).size };
    });
    files.push({ path: join(dir, 'pages-1.img'), size: 11 });
    const one = await sha256Files(files, { threads: 1 });
    const many = await sha256Files(files, { threads: 3 });
    expect(many).toEqual(one);
    expect(one[3]).toBe(imageManifest(dir).find((e) => e.name === 'pages-1.img')!.sha256);
    await expect(
      sha256Files([...files, { path: join(dir, 'gone.img'), size: 32 << 20 }], { threads: 2 }),
    ).rejects.toThrow(/gone\.img: ENOENT/);
  });
});

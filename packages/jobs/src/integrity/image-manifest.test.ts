import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertImagesIntact, imageManifest } from './image-manifest.ts';

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

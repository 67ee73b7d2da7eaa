import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobError } from '../errors.ts';
import { assertImagesPrivate } from './image-safety.ts';

let home: string;
let images: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cryopipe-home-'));
  images = join(home, 'jobs', 'j1', 'checkpoints', '1');
  mkdirSync(images, { recursive: true, mode: 0o700 });
  writeFileSync(join(images, 'pages-1.img'), 'x', { mode: 0o600 });
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const refusal = () => {
  try {
    assertImagesPrivate(images, home);
  } catch (err) {
    if (JobError.is(err)) return err.message;
    throw err;
  }
  return undefined;
};

describe('assertImagesPrivate', () => {
  it('accepts private images', () => {
    expect(refusal()).toBeUndefined();
  });

  it('refuses a world-writable image file', () => {
    chmodSync(join(images, 'pages-1.img'), 0o666);
    expect(refusal()).toMatch(/pages-1\.img: writable by group and others \(mode 666\)/);
  });

  it('refuses a group-writable parent directory', () => {
    chmodSync(join(home, 'jobs', 'j1'), 0o770);
    expect(refusal()).toMatch(/j1: writable by group/);
  });

  it('refuses a symlink among the images', () => {
    symlinkSync('/etc/passwd', join(images, 'core-1.img'));
    expect(refusal()).toMatch(/core-1\.img: is a symbolic link/);
  });

  it("accepts criu's parent link to the pre-dump, and no other link named parent", () => {
    mkdirSync(join(images, 'pre'), { mode: 0o700 });
    writeFileSync(join(images, 'pre', 'pages-1.img'), 'p', { mode: 0o600 });
    symlinkSync('pre', join(images, 'parent'));
    expect(refusal()).toBeUndefined();
    chmodSync(join(images, 'pre', 'pages-1.img'), 0o646);
    expect(refusal()).toMatch(/pre\/pages-1\.img: writable by others/);
    chmodSync(join(images, 'pre', 'pages-1.img'), 0o600);
    rmSync(join(images, 'parent'));
    symlinkSync('/var/lib', join(images, 'parent'));
    expect(refusal()).toMatch(/parent: is a symbolic link/);
  });

  it('refuses files owned by another user', () => {
    if (process.geteuid?.() !== 0) return; // only root can give files away
    chownSync(join(images, 'pages-1.img'), 65534, 65534);
    expect(refusal()).toMatch(/owned by uid 65534/);
  });
});

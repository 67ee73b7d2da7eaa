import {
  appendFileSync,
  closeSync,
  linkSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobError } from '../errors.ts';
import {
  CHUNK_BYTES,
  checkFile,
  checkInput,
  reconcileFiles,
  recordFile,
  recordInput,
  TAIL_BYTES,
} from './file-state.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cryopipe-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (n: number, seed = 1) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * seed) % 251));

describe('file records', () => {
  it('an untouched file is unchanged; a grown one is truncated back byte-exactly', () => {
    const f = join(dir, 'out.ivf');
    const original = bytes(TAIL_BYTES * 2 + 123);
    writeFileSync(f, original);
    const rec = recordFile(f);
    expect(rec.size).toBe(original.length);
    expect(checkFile(rec)).toEqual({ path: f, action: 'unchanged' });

    appendFileSync(f, bytes(5000, 7));
    expect(checkFile(rec)).toEqual({
      path: f,
      action: 'truncate',
      from: original.length + 5000,
      to: original.length,
      ino: statSync(f).ino,
    });
    reconcileFiles([rec]);
    expect(readFileSync(f).equals(original)).toBe(true);
  });

  it('refuses a shrunk, rewritten or deleted file and touches none of the others', () => {
    const grown = join(dir, 'grown');
    const shrunk = join(dir, 'shrunk');
    const rewritten = join(dir, 'rewritten');
    const gone = join(dir, 'gone');
    for (const f of [grown, shrunk, rewritten, gone]) writeFileSync(f, bytes(1000));
    const recs = [grown, shrunk, rewritten, gone].map((f) => recordFile(f));
    appendFileSync(grown, 'more');
    writeFileSync(shrunk, bytes(10));
    writeFileSync(rewritten, bytes(1000, 3));
    rmSync(gone);

    let error: unknown;
    try {
      reconcileFiles(recs);
    } catch (err) {
      error = err;
    }
    expect(JobError.is(error)).toBe(true);
    const msg = (error as Error).message;
    expect(msg).toContain(`${shrunk}: it shrank from 1000 to 10 bytes`);
    expect(msg).toContain(`${rewritten}: its content up to byte 1000 changed`);
    expect(msg).toContain(`${gone}: it no longer exists`);
    expect(msg).not.toContain(grown);
    // Nothing was truncated because the restore as a whole was refused.
    expect(statSync(grown).size).toBe(1004);
  });

  it('fingerprints small files whole', () => {
    const f = join(dir, 'small');
    writeFileSync(f, 'abc');
    const rec = recordFile(f);
    writeFileSync(f, 'abd');
    expect(checkFile(rec).action).toBe('refuse');
  });
});

describe('every byte (fault matrix row 17)', () => {
  it('finds one byte rewritten far below the tail of a large output, naming its chunk', () => {
    const f = join(dir, 'big.ivf');
    writeFileSync(f, bytes(CHUNK_BYTES * 3 + 5000));
    const rec = recordFile(f);
    expect(rec.chunks).toHaveLength(4);
    const fd = openSync(f, 'r+');
    writeSync(
      fd,
      Buffer.from([0xff ^ bytes(CHUNK_BYTES + 11)[CHUNK_BYTES + 10]!]),
      0,
      1,
      CHUNK_BYTES + 10,
    );
    closeSync(fd);
    const check = checkFile(rec);
    expect(check).toMatchObject({ action: 'refuse' });
    expect((check as { reason: string }).reason).toContain(
      `bytes ${CHUNK_BYTES}–${2 * CHUNK_BYTES - 1}`,
    );
  });

  it('hashes only new chunks at the next checkpoint, and still the first (headers)', () => {
    const f = join(dir, 'growing');
    writeFileSync(f, bytes(CHUNK_BYTES * 3));
    const first = recordFile(f);
    // Forge a middle chunk hash in the previous record: reused means not re-read.
    const forged = { ...first, chunks: first.chunks!.map((h, i) => (i === 1 ? 'reused' : h)) };
    appendFileSync(f, bytes(CHUNK_BYTES, 5));
    const next = recordFile(f, undefined, forged);
    expect(next.chunks![1]).toBe('reused');
    expect(next.chunks![0]).toBe(first.chunks![0]);
    expect(next.chunks).toHaveLength(4);
    // Another file at that path (another inode) reuses nothing.
    const other = join(dir, 'other');
    writeFileSync(other, readFileSync(f));
    renameSync(other, f);
    expect(recordFile(f, undefined, forged).chunks![1]).not.toBe('reused');
  });

  it('never follows an output replaced by a symlink, and leaves its target alone', () => {
    const f = join(dir, 'out');
    const victim = join(dir, 'victim');
    writeFileSync(f, bytes(1000));
    writeFileSync(victim, bytes(5000));
    const rec = recordFile(f);
    rmSync(f);
    symlinkSync(victim, f);
    expect(() => reconcileFiles([rec])).toThrow(/it is a symbolic link now/);
    expect(statSync(victim).size).toBe(5000);
  });

  it('refuses an output replaced by another file with the same bytes (another inode)', () => {
    const f = join(dir, 'out');
    writeFileSync(f, bytes(1000));
    const rec = recordFile(f);
    const twin = join(dir, 'twin');
    writeFileSync(twin, bytes(1000));
    renameSync(twin, f);
    expect(() => reconcileFiles([rec])).toThrow(/replaced by another file/);
    // Where the file was legitimately written anew (a copy, an import), its bytes decide.
    expect(reconcileFiles([rec], { sameFile: () => false })[0]!.action).toBe('unchanged');
    const link = join(dir, 'hardlink');
    linkSync(f, link);
    expect(statSync(link).ino).toBe(statSync(f).ino);
  });

  it('refuses a changed input, saying it is an input', async () => {
    const input = join(dir, 'in.y4m');
    writeFileSync(input, bytes(CHUNK_BYTES * 3));
    const rec = recordInput(input);
    expect(checkInput(rec)).toBeUndefined();
    // File times tick with the kernel's clock (a few ms): a real change comes later than this.
    await new Promise((r) => setTimeout(r, 50));
    const fd = openSync(input, 'r+');
    writeSync(fd, Buffer.from('x'), 0, 1, CHUNK_BYTES + 1); // a middle byte: times change
    closeSync(fd);
    expect(checkInput(rec)).toBe('it was modified since the checkpoint');
    expect(() => reconcileFiles([], { inputs: [rec] })).toThrow(
      `${input} (an input the job reads): it was modified since the checkpoint`,
    );
    writeFileSync(input, bytes(10));
    expect(checkInput(rec, { sameFile: false })).toMatch(/size changed/);
  });
});

import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobError } from '../errors.ts';
import { checkFile, reconcileFiles, recordFile, TAIL_BYTES } from './file-state.ts';

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

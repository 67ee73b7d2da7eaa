import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { aomenc, svtAv1 } from './encoders.ts';
import { libraryCheckpointedEncode, libraryReferenceEncode } from './library-encode.ts';

const needs = [root, criu, binary('ffmpeg'), binary('aomenc'), binary('SvtAv1EncApp')];

describeWith(needs, 'AV1 encodes checkpointed through the library API', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryopipe-library-av1-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  for (const { enc, frames } of [
    { enc: aomenc, frames: 160 },
    { enc: svtAv1, frames: 480 },
  ]) {
    it(`${enc.name}: dumped at ~40% and ~70%, restored, re-attached; byte-identical output`, async () => {
      const ref = await libraryReferenceEncode(enc, work, frames);
      expect(ref.bytes).toBeGreaterThan(10_000);
      const run = await libraryCheckpointedEncode(enc, work, frames, ref.bytes, [0.4, 0.7]);
      expect(run.steps.map((s) => s.checkpoint)).toEqual([1, 2]);
      for (const s of run.steps) {
        expect(s.imageBytes).toBeGreaterThan(1024 * 1024);
        expect(s.frozenMs).toBeGreaterThan(0);
      }
      // In-flight pipe data between ffmpeg and the encoder was saved.
      for (const n of [1, 2]) {
        const images = join(work, `${enc.name}-library-images-${n}`);
        expect(existsSync(join(images, 'pipes-data.img'))).toBe(true);
      }
      expect(run.bytes).toBe(ref.bytes);
      expect(run.sha256).toBe(ref.sha256);
    });
  }
});

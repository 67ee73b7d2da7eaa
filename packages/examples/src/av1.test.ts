import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { checkpointedEncode, referenceEncode } from './checkpointed-encode.ts';
import { copiedEncode } from './copied-encode.ts';
import { CryopipeCli } from './cryopipe-cli.ts';
import { aomenc, svtAv1 } from './encoders.ts';

const needs = [root, criu, binary('ffmpeg'), binary('aomenc'), binary('SvtAv1EncApp')];

describeWith(needs, 'AV1 encodes checkpointed mid-way through the CLI', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryopipe-av1-'));
  const cli = new CryopipeCli(join(work, 'home'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  // SVT-AV1 writes its output late (look-ahead): 70% of its bytes come a few
  // seconds before its end, too close for a stopping checkpoint on a busy
  // machine (the job ended during the dump). Its points are earlier.
  for (const { enc, frames, at } of [
    { enc: aomenc, frames: 160, at: [0.4, 0.7] },
    { enc: svtAv1, frames: 480, at: [0.3, 0.55] },
  ]) {
    it(`${enc.name}: two checkpoint/restore cycles give byte-identical output`, async () => {
      const ref = await referenceEncode(cli, enc, work, frames);
      expect(ref.bytes).toBeGreaterThan(10_000);
      const run = await checkpointedEncode(cli, enc, work, frames, ref.bytes, { at });
      expect(run.steps.map((s) => s.checkpoint)).toEqual([1, 2]);
      for (const s of run.steps) expect(s.imageBytes).toBeGreaterThan(1024 * 1024);
      expect(run.bytes).toBe(ref.bytes);
      expect(run.sha256).toBe(ref.sha256);
    });
  }

  it('SvtAv1EncApp: one checkpoint restored twice at once (in place and as a copy), both byte-identical', async () => {
    const ref = await referenceEncode(cli, svtAv1, work, 480);
    const run = await copiedEncode(cli, svtAv1, work, 480, ref.bytes, 0.5);
    expect(run.copy.path).not.toBe(run.original.path);
    for (const out of [run.original, run.copy]) {
      expect(out.bytes).toBe(ref.bytes);
      expect(out.sha256).toBe(ref.sha256);
    }
  });
});

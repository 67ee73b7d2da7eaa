import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { embeddedEncode } from './embed-jobs.ts';
import { aomenc } from './encoders.ts';
import { libraryReferenceEncode } from './library-encode.ts';
import { outcomeOf, untilSize } from './output-files.ts';

describeWith([root, criu, binary('ffmpeg'), binary('aomenc')], '@cryopipe/jobs embedded', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryopipe-embed-jobs-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('start → checkpoint → restore → wait of a real encode, byte-identical, no cryopipe process', async () => {
    const frames = 160;
    const ref = await libraryReferenceEncode(aomenc, work, frames);
    const output = join(work, 'embedded.ivf');
    const started = performance.now();
    const run = await embeddedEncode(join(work, 'home'), aomenc.pipeline(output, frames), () =>
      untilSize(output, ref.bytes * 0.4, () => true, 'the embedded encode'),
    );
    expect(run.checkpoint).toBe(1);
    expect(run.imageBytes).toBeGreaterThan(1024 * 1024);
    expect(run.restoredPid).toBeGreaterThan(1);
    expect(run.exitCode).toBe(0);
    const out = await outcomeOf(output, started);
    expect(out.bytes).toBe(ref.bytes);
    expect(out.sha256).toBe(ref.sha256);
  });
});

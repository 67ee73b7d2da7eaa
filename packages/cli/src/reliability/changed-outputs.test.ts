// Fault matrix row 5: outputs grown, shrunk or rewritten since the checkpoint.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount } from '../../test/cli-harness.ts';
import { digestTree, processesWith, untilFinished, useFaultCli } from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: outputs changed since the checkpoint', () => {
  const { home, cli, stoppedCountingJob } = useFaultCli();

  it('refuses a rewritten or shrunk output naming it, cuts a grown one back, and restores identically', async () => {
    const n = 400;
    const { id, out, marker, cpDir } = await stoppedCountingJob('outputs', n, { minBytes: 200 });
    const atCheckpoint = readFileSync(out);
    const images = digestTree(cpDir);

    const refused = (why: RegExp) => {
      const r = cli('restore', 'outputs');
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(r.stderr).toMatch(why);
      expect(processesWith(marker)).toEqual([]);
      expect(digestTree(cpDir)).toEqual(images);
    };

    // Rewritten: same size, one byte different.
    const rewritten = Buffer.from(atCheckpoint);
    rewritten[10] = rewritten[10] === 0x41 ? 0x42 : 0x41;
    writeFileSync(out, rewritten);
    refused(/its content up to byte \d+ changed since the checkpoint \(it was rewritten\)/);
    expect(readFileSync(out)).toEqual(rewritten); // a refusal touches no file

    // Shrunk.
    writeFileSync(out, atCheckpoint.subarray(0, atCheckpoint.length - 7));
    refused(
      new RegExp(`it shrank from ${atCheckpoint.length} to ${atCheckpoint.length - 7} bytes`),
    );

    // Grown, with the checkpointed bytes intact: cut back, then restored.
    writeFileSync(out, atCheckpoint);
    appendFileSync(out, 'written after the checkpoint\n');
    const rs = cli('restore', 'outputs');
    expect(rs.status, rs.stderr).toBe(0);
    expect(rs.stderr).toMatch(
      new RegExp(
        `outputs\\.txt: cut back from ${atCheckpoint.length + 29} to ${atCheckpoint.length} bytes`,
      ),
    );
    await untilFinished(home, id);
    expect(cli('wait', 'outputs').status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
  });
});

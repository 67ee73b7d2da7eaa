// Fault matrix row 5: outputs grown, shrunk or rewritten since the checkpoint.
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until } from '../../test/cli-harness.ts';
import {
  digestTree,
  jobDir,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: outputs changed since the checkpoint', () => {
  const { dir, home, cli } = useFaultCli();

  it('refuses a rewritten or shrunk output naming it, cuts a grown one back, and restores identically', async () => {
    const n = 400;
    const marker = `outputs-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'outputs',
      '--json',
      '--',
      'sh',
      '-c',
      `${slowCounter(n)} # ${marker}`,
      '|',
      'cat',
      '>',
      'out.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'out.txt');
    await until(() => existsSync(out) && statSync(out).size > 200, 'some output');
    const cp = cli('checkpoint', 'outputs');
    expect(cp.status, cp.stderr).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');
    const atCheckpoint = readFileSync(out);
    const cpDir = join(jobDir(home, started.json().id), 'checkpoints', '1');
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
        `out\\.txt: cut back from ${atCheckpoint.length + 29} to ${atCheckpoint.length} bytes`,
      ),
    );
    await untilFinished(home, started.json().id);
    expect(cli('wait', 'outputs').status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
  });
});

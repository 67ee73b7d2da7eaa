// Fault matrix row 3, the cheap path: unchanged images are proved intact by
// their identity (a stat each), and a flipped byte still stops the restore.
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount } from '../../test/cli-harness.ts';
import { processesWith, untilFinished, useFaultCli } from '../../test/fault-harness.ts';

describeWith(
  [root, criu],
  'fault matrix: images verified by identity, re-hashed when changed',
  () => {
    const { home, cli, stoppedCountingJob } = useFaultCli();

    it('restores unchanged images without hashing them, re-hashes a changed one, refuses a flipped byte', async () => {
      const a = await stoppedCountingJob('ident', 400);
      const meta = JSON.parse(readFileSync(join(a.cpDir, 'checkpoint.json'), 'utf8'));
      expect(meta.images.length).toBeGreaterThan(3);
      for (const image of meta.images) {
        expect(image.sha256, image.name).toMatch(/^[0-9a-f]{64}$/);
        expect(image.identity, image.name).toBeDefined();
      }
      // Reading every image (as an export or a backup does) changes nothing.
      for (const name of readdirSync(a.cpDir)) readFileSync(join(a.cpDir, name));

      const first = cli('restore', 'ident', '--json');
      expect(first.status, first.stderr).toBe(0);
      expect(first.json().verified).toBe('identity');

      const second = cli('checkpoint', 'ident');
      expect(second.status, second.stderr).toBe(0);
      for (let i = 0; processesWith(a.marker).length > 0; i++) {
        if (i > 100) throw new Error('the dumped tree is still there after 10 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const cpDir = join(home, 'jobs', a.id, 'checkpoints', '2');
      expect(await waitForSealer(cpDir, 60_000)).toBe(true);
      const core = readdirSync(cpDir)
        .filter((f) => /^core-\d+\.img$/.test(f))
        .sort((x, y) => statSync(join(cpDir, y)).size - statSync(join(cpDir, x)).size)[0]!;
      const flip = () => {
        const path = join(cpDir, core);
        const at = statSync(path).size >> 1;
        const byte = readFileSync(path)[at]!;
        const fd = openSync(path, 'r+');
        writeSync(fd, Buffer.from([byte ^ 0xff]), 0, 1, at);
        closeSync(fd);
      };
      flip();
      const refused = cli('restore', 'ident', '--json');
      expect(refused.status).toBe(6);
      expect(refused.stderr).toMatch(/core-\d+\.img: content changed \(corrupted\)/);
      expect(processesWith(a.marker)).toEqual([]);
      flip();

      const verified = cli('restore', 'ident', '--verify', '--json');
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.json().verified).toBe('content');
      await untilFinished(home, a.id);
      expect(cli('wait', 'ident').status).toBe(0);
      expect(readFileSync(a.out, 'utf8')).toBe(expectedCount(400));
    });
  },
);

// Fault matrix rows 3 and 7: damaged, foreign or exposed images are never restored.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount } from '../../test/cli-harness.ts';
import {
  digestTree,
  jobDir,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: damaged, foreign and exposed images', () => {
  const { home, cli, stoppedCountingJob } = useFaultCli();

  /** Restore must refuse with `message`, start no process of the job and leave the images as they are. */
  function expectRefused(
    job: string,
    marker: string,
    cpDir: string,
    status: number,
    message: RegExp,
  ) {
    const before = digestTree(cpDir);
    const r = cli('restore', job);
    expect(r.status, r.stderr).toBe(status);
    expect(r.stderr).toMatch(message);
    expect(processesWith(marker)).toEqual([]);
    expect(digestTree(cpDir)).toEqual(before);
  }

  it('refuses truncated, corrupted and foreign images, starts nothing, changes nothing, then restores', async () => {
    const a = await stoppedCountingJob('imga', 400);
    const b = await stoppedCountingJob('imgb', 400);
    const images = readdirSync(a.cpDir);
    const largest = (re: RegExp) =>
      images
        .filter((f) => re.test(f))
        .sort((x, y) => statSync(join(a.cpDir, y)).size - statSync(join(a.cpDir, x)).size)[0]!;
    const pages = join(a.cpDir, largest(/^pages-\d+\.img$/));
    const core = join(a.cpDir, largest(/^core-\d+\.img$/));
    const original = { pages: readFileSync(pages), core: readFileSync(core) };

    truncateSync(pages, Math.floor(original.pages.length / 2));
    expectRefused(
      'imga',
      a.marker,
      a.cpDir,
      6,
      /pages-\d+\.img: truncated to \d+ bytes \(was \d+\)/,
    );
    writeFileSync(pages, original.pages);

    const flipped = Buffer.from(original.core);
    flipped[flipped.length >> 1]! ^= 0xff;
    writeFileSync(core, flipped);
    expectRefused('imga', a.marker, a.cpDir, 6, /core-\d+\.img: content changed \(corrupted\)/);
    writeFileSync(core, original.core);

    // Job b's checkpoint copied in as a's newest, metadata and all.
    const foreign = join(jobDir(home, a.id), 'checkpoints', '2');
    cpSync(b.cpDir, foreign, { recursive: true, preserveTimestamps: true });
    chmodSync(foreign, 0o700);
    expectRefused('imga', a.marker, foreign, 6, new RegExp(`it belongs to job ${b.id}`));
    rmSync(foreign, { recursive: true });

    // Damage the manifest can't see (someone rewrote checkpoint.json too): criu itself fails
    // half-way, and must leave no half-restored process behind.
    const meta = JSON.parse(readFileSync(join(a.cpDir, 'checkpoint.json'), 'utf8'));
    const lastCore = images
      .filter((f) => /^core-\d+\.img$/.test(f))
      .sort()
      .at(-1)!;
    const lastCoreBytes = readFileSync(join(a.cpDir, lastCore));
    writeFileSync(join(a.cpDir, lastCore), lastCoreBytes.subarray(0, 8));
    const forged = {
      ...meta,
      images: meta.images.map((e: { name: string }) =>
        e.name === lastCore ? { ...e, size: 8, sha256: sha256(lastCoreBytes.subarray(0, 8)) } : e,
      ),
    };
    writeFileSync(join(a.cpDir, 'checkpoint.json'), JSON.stringify(forged), { mode: 0o600 });
    expectRefused('imga', a.marker, a.cpDir, 1, /restore of job \w+ from checkpoint 1 failed/);
    writeFileSync(join(a.cpDir, lastCore), lastCoreBytes);
    writeFileSync(join(a.cpDir, 'checkpoint.json'), JSON.stringify(meta), { mode: 0o600 });

    const rs = cli('restore', 'imga');
    expect(rs.status, rs.stderr).toBe(0);
    await untilFinished(home, a.id);
    expect(cli('wait', 'imga').status).toBe(0);
    expect(readFileSync(a.out, 'utf8')).toBe(expectedCount(400));
  });

  it('creates every image private (dirs 0700, files 0600) and refuses exposed or foreign-owned ones', async () => {
    const job = await stoppedCountingJob('modes', 400);
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        return lstatSync(p).isDirectory() ? [p, ...walk(p)] : [p];
      });
    for (const p of [job.cpDir, ...walk(job.cpDir)]) {
      const st = lstatSync(p);
      expect(st.isSymbolicLink(), p).toBe(false);
      if (st.isDirectory()) expect(st.mode & 0o777, p).toBe(0o700);
      else expect(st.mode & 0o077, `${p} mode ${(st.mode & 0o777).toString(8)}`).toBe(0);
    }

    chmodSync(job.cpDir, 0o770);
    expectRefused(
      'modes',
      job.marker,
      job.cpDir,
      6,
      /checkpoints\/1: writable by group \(mode 770\)/,
    );
    chmodSync(job.cpDir, 0o700);

    const inventory = join(job.cpDir, 'inventory.img');
    chmodSync(inventory, 0o602);
    expectRefused('modes', job.marker, job.cpDir, 6, /inventory\.img: writable by others/);
    chmodSync(inventory, 0o600);

    chownSync(inventory, 65534, 65534);
    expectRefused('modes', job.marker, job.cpDir, 6, /inventory\.img: owned by uid 65534/);
    chownSync(inventory, 0, 0);

    const rs = cli('restore', 'modes');
    expect(rs.status, rs.stderr).toBe(0);
    await untilFinished(home, job.id);
    expect(cli('wait', 'modes').status).toBe(0);
    expect(readFileSync(job.out, 'utf8')).toBe(expectedCount(400));
  });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

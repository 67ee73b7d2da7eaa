// Fault matrix rows 17-19: a restore checks every byte of the outputs below
// their checkpointed size, refuses outputs swapped for symlinks or other
// files, and refuses inputs that changed — touching nothing when it refuses.
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { slowCounter, until } from '../../test/cli-harness.ts';
import { digestTree, processesWith, useFaultCli } from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: every byte of outputs and inputs', () => {
  const { cli, dir, home } = useFaultCli();

  /** A job that writes a 3 MB block, then counts slowly; stopped in checkpoint 1. */
  async function bigOutputJob(name: string) {
    const marker = `${name}-${process.pid}`;
    const block = `head -c 3000000 /dev/zero | tr '\\0' 'a'`;
    const started = cli(
      'run',
      '--name',
      name,
      '--json',
      '--',
      'sh',
      '-c',
      `${block}; ${slowCounter(300)} # ${marker}`,
      '>',
      `${name}.out`,
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, `${name}.out`);
    await until(
      () => existsSync(out) && statSync(out).size > 3_000_100,
      'the block and some lines',
    );
    const cp = cli('checkpoint', name);
    expect(cp.status, cp.stderr).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');
    const cpDir = join(home, 'jobs', started.json().id, 'checkpoints', '1');
    // The background sealer rewrites checkpoint.json: digests are taken after it.
    expect(await waitForSealer(cpDir, 60_000), 'the sealer to finish').toBe(true);
    return { out, cpDir };
  }

  const byteAt = (path: string, at: number) => {
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    closeSync(fd);
    return b[0]!;
  };
  const writeByte = (path: string, at: number, value: number) => {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([value]), 0, 1, at);
    closeSync(fd);
  };

  it('17: one byte rewritten 1.5 MB below the end of an output is refused, naming its range; put back, the restore finishes identically', async () => {
    const { out, cpDir } = await bigOutputJob('deep');
    const images = digestTree(cpDir);
    const at = 1_500_000;
    const original = byteAt(out, at);
    writeByte(out, at, original ^ 0xff);
    const before = readFileSync(out);
    const refused = cli('restore', 'deep');
    expect(refused.status, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/deep\.out: its content \(bytes 1048576–2097151\) changed/);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(digestTree(cpDir)).toEqual(images);
    writeByte(out, at, original);
    const restored = cli('restore', 'deep');
    expect(restored.status, restored.stderr).toBe(0);
    expect(cli('wait', 'deep').status).toBe(0);
    const text = readFileSync(out, 'latin1');
    expect(text.slice(0, 3_000_000)).toBe('a'.repeat(3_000_000));
    expect(text.slice(3_000_000)).toBe(Array.from({ length: 300 }, (_, i) => `${i}\n`).join(''));
  });

  it('18: an output swapped for a symlink or for another file is refused; the link target is untouched', async () => {
    const { out, cpDir } = await bigOutputJob('swapped');
    const images = digestTree(cpDir);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious\n'.repeat(1_000_000));
    const saved = `${out}.saved`;
    renameSync(out, saved);
    symlinkSync(victim, out);
    const viaLink = cli('restore', 'swapped');
    expect(viaLink.status, viaLink.stderr).toBe(6);
    expect(viaLink.stderr).toMatch(/swapped\.out: it is a symbolic link now/);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n'.repeat(1_000_000));
    // Another file with the very same bytes is still another file.
    renameSync(out, `${out}.link`);
    writeFileSync(out, readFileSync(saved));
    const twin = cli('restore', 'swapped');
    expect(twin.status, twin.stderr).toBe(6);
    expect(twin.stderr).toMatch(/swapped\.out: it was replaced by another file/);
    expect(digestTree(cpDir)).toEqual(images);
    renameSync(saved, out);
    const restored = cli('restore', 'swapped');
    expect(restored.status, restored.stderr).toBe(0);
    expect(cli('wait', 'swapped').status).toBe(0);
  });

  it('19: an input the job reads that changed since the checkpoint is refused as an input', async () => {
    const input = join(dir, 'lines.txt');
    writeFileSync(input, Array.from({ length: 400 }, (_, i) => `line ${i}\n`).join(''));
    const marker = `input-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'reader',
      '--json',
      '--',
      'sh',
      '-c',
      `while read l; do echo "$l"; sleep 0.01; done # ${marker}`,
      '<',
      'lines.txt',
      '|',
      'cat',
      '>',
      'copied.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'copied.txt');
    await until(() => existsSync(out) && statSync(out).size > 200, 'some lines copied');
    const cp = cli('checkpoint', 'reader', '--json');
    expect(cp.status, cp.stderr).toBe(0);
    expect(cp.json().inputs?.map((i: { path: string }) => i.path) ?? []).toEqual([input]);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');
    await new Promise((r) => setTimeout(r, 50)); // file times tick every few ms
    appendFileSync(input, 'an extra line\n');
    const refused = cli('restore', 'reader');
    expect(refused.status, refused.stderr).toBe(6);
    expect(refused.stderr).toContain(`${input} (an input the job reads): its size changed`);
  });
});

/**
 * How fast checkpoint images are hashed, and whether worker threads help:
 * the same image set (4 large "pages" files and 100 small ones, like a
 * multi-process job) hashed on one thread and with the worker pool,
 * alternating, after `sync` and with the page cache warm for both (the
 * hashing cost, not the disk). Also the identity check a restore does
 * instead on an unchanged checkpoint.
 *
 *   pnpm --filter @cryopipe/bench exec tsx src/image-hash.bench.ts   (MIB=N per large file)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Files } from '../../../packages/jobs/src/integrity/image-hash.ts';
import {
  hashImages,
  imageIdentities,
  verifyImages,
} from '../../../packages/jobs/src/integrity/image-manifest.ts';
import { machine, median } from './measure.ts';

// BENCH_QUICK=1: 4 MiB files, one round (the CI smoke run, test/benches-quick.test.ts).
const SMOKE = process.env.BENCH_QUICK === '1';
const MIB = Number(process.env.MIB ?? (SMOKE ? 4 : 128));
const ROUNDS = Number(process.env.ROUNDS ?? (SMOKE ? 1 : 5));
const dir = mkdtempSync(join(tmpdir(), 'cryopipe-hash-bench-'));
try {
  const files: { path: string; size: number }[] = [];
  for (let i = 0; i < 4; i++) {
    const path = join(dir, `pages-${i}.img`);
    const block = Buffer.alloc(1 << 20);
    for (let j = 0; j < block.length; j += 4096) block[j] = (i * 31 + j) & 0xff;
    writeFileSync(path, Buffer.concat(Array.from({ length: MIB }, () => block)));
    files.push({ path, size: MIB << 20 });
  }
  for (let i = 0; i < 100; i++) {
    const path = join(dir, `core-${i}.img`);
    writeFileSync(path, Buffer.alloc(2048, i));
    files.push({ path, size: 2048 });
  }
  execFileSync('sync');
  for (const f of files) readFileSync(f.path); // warm the page cache for both candidates
  const total = files.reduce((n, f) => n + f.size, 0);
  const one: number[] = [];
  const pool: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [threads, into] of [
      [1, one],
      [availableParallelism(), pool],
    ] as const) {
      const t0 = performance.now();
      await sha256Files(files, { threads });
      into.push(performance.now() - t0);
    }
  }
  const manifest = await hashImages(dir, imageIdentities(dir));
  const ident: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    if ((await verifyImages(dir, manifest)) !== 'identity') throw new Error('identity changed');
    ident.push(performance.now() - t0);
  }
  const rate = (ms: number) => `${((total / 2 ** 20 / ms) * 1000).toFixed(0)} MiB/s`;
  console.log(
    `machine: ${machine()}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    `images: 4 × ${MIB} MiB + 100 × 2 KiB (${(total / 2 ** 20).toFixed(0)} MiB), ${ROUNDS} rounds, medians`,
  );
  const a = median(one);
  const b = median(pool);
  console.log(`  sha256, one thread:           ${a.toFixed(0)} ms (${rate(a)})`);
  console.log(
    `  sha256, ${availableParallelism()} worker threads:     ${b.toFixed(0)} ms (${rate(b)}), ${(a / b).toFixed(2)}× faster`,
  );
  console.log(
    `  identity check (restore path): ${median(ident).toFixed(2)} ms for ${files.length} images`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

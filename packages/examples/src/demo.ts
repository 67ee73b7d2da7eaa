/**
 * The main job: an ffmpeg | aomenc encode and an ffmpeg | SvtAv1EncApp
 * encode, each checkpointed at about 40% and 70% (stopped, restored), and
 * compared byte for byte with an uninterrupted run — once through the
 * `cryopipe` CLI, once through the libraries (@cryopipe/spawn +
 * @cryopipe/criu-client). Prints a table; exits 1 if any output differs.
 *
 *   pnpm --filter @cryopipe/examples demo      (as root, after scripts/setup.sh)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CheckpointStep,
  checkpointedEncode,
  type EncodeOutcome,
  referenceEncode,
} from './checkpointed-encode.ts';
import { CryopipeCli } from './cryopipe-cli.ts';
import { aomenc, type Encoder, svtAv1 } from './encoders.ts';
import { libraryCheckpointedEncode, libraryReferenceEncode } from './library-encode.ts';

const FRAMES: Record<Encoder['name'], number> = { aomenc: 240, SvtAv1EncApp: 720 };
const AT = [0.4, 0.7];
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const ms = (n: number | undefined) => (n === undefined ? '?' : `${Math.round(n)} ms`);
const printStep = (s: CheckpointStep) =>
  console.log(
    `   checkpoint ${s.checkpoint} at ${Math.round(s.at * 100)}%: frozen ${ms(s.frozenMs)}, ${mib(s.imageBytes)} of images, restored in ${ms(s.restoreMs)}`,
  );

/** The two ways through the same cycle: reference run, then checkpointed run. */
interface Way {
  name: string;
  reference(enc: Encoder, frames: number): Promise<EncodeOutcome>;
  checkpointed(
    enc: Encoder,
    frames: number,
    referenceBytes: number,
  ): Promise<EncodeOutcome & { steps: CheckpointStep[] }>;
}

const work = mkdtempSync(join(tmpdir(), 'cryopipe-demo-'));
const cli = new CryopipeCli(join(work, 'home'));
const ways: Way[] = [
  {
    name: 'cli',
    reference: (enc, frames) => referenceEncode(cli, enc, work, frames),
    checkpointed: (enc, frames, bytes) =>
      checkpointedEncode(cli, enc, work, frames, bytes, { at: AT, onStep: printStep }),
  },
  {
    name: 'library',
    reference: (enc, frames) => libraryReferenceEncode(enc, work, frames),
    checkpointed: async (enc, frames, bytes) => {
      const run = await libraryCheckpointedEncode(enc, work, frames, bytes, AT);
      run.steps.forEach(printStep);
      return run;
    },
  },
];

const rows: string[][] = [
  ['via', 'encoder', 'checkpoint', 'at', 'frozen', 'images', 'restore', 'identical'],
];
let allIdentical = true;
try {
  for (const way of ways) {
    for (const enc of [aomenc, svtAv1]) {
      const frames = FRAMES[enc.name];
      console.log(`\n== ${way.name}, ${enc.name}: ${frames} frames, uninterrupted reference run…`);
      const ref = await way.reference(enc, frames);
      console.log(
        `   ${ref.bytes} bytes in ${(ref.ms / 1000).toFixed(1)} s, sha256 ${ref.sha256.slice(0, 16)}…`,
      );
      console.log(
        `== ${way.name}, ${enc.name}: the same encode, checkpointed at ~40% and ~70% (stopped, then restored)…`,
      );
      const run = await way.checkpointed(enc, frames, ref.bytes);
      const identical = run.sha256 === ref.sha256 && run.bytes === ref.bytes;
      allIdentical &&= identical;
      console.log(
        `   finished: ${run.bytes} bytes, sha256 ${run.sha256.slice(0, 16)}… ${identical ? 'identical' : 'DIFFERENT'}`,
      );
      for (const s of run.steps) {
        rows.push([
          way.name,
          enc.name,
          String(s.checkpoint),
          `${Math.round(s.at * 100)}%`,
          ms(s.frozenMs),
          mib(s.imageBytes),
          ms(s.restoreMs),
          identical ? 'yes' : 'NO',
        ]);
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log('');
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(
  allIdentical
    ? '\nEvery restored encode is byte-identical to its uninterrupted run.'
    : '\nA restored encode differs from its uninterrupted run.',
);
process.exitCode = allIdentical ? 0 : 1;

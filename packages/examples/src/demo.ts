/**
 * The main job: an ffmpeg | aomenc encode and an ffmpeg | SvtAv1EncApp
 * encode, each checkpointed at about 40% and 70% (stopped, restored), and
 * compared byte for byte with an uninterrupted run — once through the
 * `cryopipe` CLI, once through the libraries (@cryopipe/spawn +
 * @cryopipe/criu-client). Then one SVT-AV1 checkpoint is restored twice at
 * once (in place, and as a copy with its own output). Prints a table;
 * exits 1 if any output differs.
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
import { copiedEncode } from './copied-encode.ts';
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
const references = new Map<string, EncodeOutcome>();
try {
  for (const way of ways) {
    for (const enc of [aomenc, svtAv1]) {
      const frames = FRAMES[enc.name];
      console.log(`\n== ${way.name}, ${enc.name}: ${frames} frames, uninterrupted reference run…`);
      const ref = await way.reference(enc, frames);
      references.set(`${way.name} ${enc.name}`, ref);
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

  console.log(
    '\n== cli, SvtAv1EncApp: one checkpoint at ~50%, restored twice at once (in place, and as a copy with its own output)…',
  );
  const ref = references.get(`cli ${svtAv1.name}`)!;
  const twice = await copiedEncode(cli, svtAv1, work, FRAMES.SvtAv1EncApp, ref.bytes, 0.5);
  for (const [label, out, restoreMs] of [
    ['1, in place', twice.original, twice.restoreMs],
    ['1, as a copy', twice.copy, twice.copyRestoreMs],
  ] as const) {
    const identical = out.sha256 === ref.sha256 && out.bytes === ref.bytes;
    allIdentical &&= identical;
    console.log(
      `   ${label}: ${out.bytes} bytes in ${out.path}, sha256 ${out.sha256.slice(0, 16)}… ${identical ? 'identical' : 'DIFFERENT'}`,
    );
    rows.push([
      'cli',
      svtAv1.name,
      label,
      '50%',
      ms(twice.frozenMs),
      mib(twice.imageBytes),
      ms(restoreMs),
      identical ? 'yes' : 'NO',
    ]);
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

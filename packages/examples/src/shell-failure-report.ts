/**
 * The shell-script failure, step by step, for humans:
 *
 *   pnpm --filter @cryopipe/examples shell-failure      (as root)
 *
 * 1. ffmpeg | aomenc from a bash script typed in a tmux pane; raw
 *    `criu dump` without --shell-job fails, the job keeps running.
 * 2. `cryopipe diagnose` explains why and what to do.
 * 3. The same encode under `cryopipe run`: checkpointed, restored, identical.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CryopipeCli } from './cryopipe-cli.ts';
import {
  rawCriuDump,
  startInTerminal,
  stillRunning,
  type TerminalJob,
  terminalOutcome,
  underCryopipe,
} from './shell-failure.ts';

const FRAMES = 240;
const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');

const work = mkdtempSync(join(tmpdir(), 'cryopipe-shell-failure-'));
const cli = new CryopipeCli(join(work, 'home'));
let job: TerminalJob | undefined;
let identical = false;
try {
  console.log('== 1. An encode started the usual way: a bash script, typed in a terminal (tmux)');
  job = await startInTerminal(work, FRAMES);
  console.log(indent(readFileSync(job.script, 'utf8')));
  console.log(
    `   pane shell ${job.paneShellPid} → bash ${job.rootPid} (the script) → ${job.stages.map((s) => `${s.comm} ${s.pid}`).join(', ')}`,
  );
  const raw = await rawCriuDump(job.rootPid, join(work, 'raw-images'));
  console.log(`\n   $ ${raw.argv.join(' ')}`);
  console.log(indent(raw.errors.join('\n')));
  console.log(
    `   criu exited ${raw.exitCode}; the job is ${stillRunning(job) ? 'still running' : 'GONE'}`,
  );

  console.log(`\n== 2. cryopipe diagnose ${job.rootPid}`);
  console.log(indent((await cli.run(['diagnose', String(job.rootPid)])).stdout));

  console.log('\n== 3. The same encode under cryopipe run');
  console.log('   (waiting for the terminal job to finish: its output is the reference)');
  await job.finished();
  const reference = await terminalOutcome(job);
  const run = await underCryopipe(cli, work, FRAMES, reference.bytes, [0.5], (s) =>
    console.log(
      `   checkpoint at ${Math.round(s.at * 100)}%: frozen ${s.frozenMs === undefined ? '?' : `${Math.round(s.frozenMs)} ms`}, ` +
        `${(s.imageBytes / 1024 / 1024).toFixed(1)} MiB of images, restored in ${Math.round(s.restoreMs)} ms`,
    ),
  );
  const blockers = run.diagnosis.findings.filter((f) => f.severity === 'blocker');
  console.log(
    `   cryopipe diagnose on the job before the checkpoint: ${blockers.length === 0 ? 'nothing blocks a checkpoint' : blockers.map((f) => f.id).join(', ')}`,
  );
  identical = run.sha256 === reference.sha256 && run.bytes === reference.bytes;
  console.log(
    `   output ${run.bytes} bytes, sha256 ${run.sha256.slice(0, 16)}…: ${identical ? 'identical to' : 'DIFFERENT from'} the terminal run`,
  );
} finally {
  await job?.tmux.kill();
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = identical ? 0 : 1;

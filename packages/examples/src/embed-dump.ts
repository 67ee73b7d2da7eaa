/**
 * Checkpoint any process tree from your own tool with @cryopipe/criu-client
 * alone: the file to copy when you embed CRIU in a program.
 *
 *   tsx src/embed-dump.ts [--kill] PID DIR
 *
 * Dumps the tree rooted at PID into DIR (created 0700: images hold the
 * processes' memory, secrets included), leaves it running unless --kill,
 * and prints what CRIU measured. Needs root and CRIU 4.x. The tree must be
 * dumpable: its own session, no terminal (e.g. `setsid CMD </dev/null >log 2>&1`);
 * otherwise CRIU's reasons are printed and the tree keeps running.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CriuClient, CriuError } from '@cryopipe/criu-client';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { kill: { type: 'boolean', default: false } },
});
const [pidText, dir] = positionals;
const pid = Number(pidText);
if (!Number.isInteger(pid) || pid <= 0 || !dir || positionals.length !== 2) {
  console.error('usage: embed-dump [--kill] PID DIR   (PID: root of the tree to dump)');
  process.exit(2);
}

try {
  // Not recursive: an existing DIR would mix these images with others (and keep its mode).
  mkdirSync(dir, { mode: 0o700 });
} catch (err) {
  console.error(`cannot create ${dir}: ${(err as Error).message}; give a new directory`);
  process.exit(1);
}

// swrk: the client runs `criu swrk` for this request and talks protobuf over a socket.
const criu = CriuClient.swrk();
try {
  const { stats } = await criu.dump({ pid, imagesDir: dir, leaveRunning: !values.kill });
  // Self-contained on purpose (this file is meant to be copied): sum the flat images directory.
  const files = readdirSync(dir).map((name) => statSync(join(dir, name)));
  const imageBytes = files.reduce((sum, s) => sum + (s.isFile() ? s.size : 0), 0);
  console.log(
    `dumped the tree of ${pid} into ${dir}; ${values.kill ? 'stopped' : 'still running'}`,
  );
  if (stats) {
    console.log(`frozen time:   ${(stats.frozenTimeUs / 1000).toFixed(1)} ms`);
    console.log(`pages written: ${stats.pagesWritten} (of ${stats.pagesScanned} scanned)`);
  }
  console.log(`image size:    ${imageBytes} bytes in ${files.length} files`);
} catch (err) {
  if (!CriuError.is(err)) throw err;
  // The message holds CRIU's reason and the Error lines of its log (err.logLines), noise removed.
  console.error(`criu could not dump ${pid}: ${err.message}`);
  process.exitCode = 1;
} finally {
  criu.close();
}

/**
 * The periodic checkpointer's own process: `node checkpointer.js HOME ID`.
 * startPeriodicCheckpointer() starts it detached; it lives in the engine so
 * that any embedder's jobs get periodic checkpoints without a CLI installed.
 */
import { JobStore } from '../store/job-store.ts';
import { CHECKPOINTER_ARG, runPeriodicCheckpointer } from './periodic-checkpointer.ts';

const [marker, home, id] = process.argv.slice(2);
if (marker !== CHECKPOINTER_ARG || !home || !id) {
  process.stderr.write(`usage: checkpointer.js ${CHECKPOINTER_ARG} HOME JOB-ID\n`);
  process.exit(2);
}
try {
  await runPeriodicCheckpointer(new JobStore(home), id, (text) =>
    process.stdout.write(`${new Date().toISOString()} ${text}\n`),
  );
} catch (err) {
  process.stdout.write(
    `${new Date().toISOString()} checkpointer failed: ${(err as Error).message}\n`,
  );
  process.exitCode = 1;
}

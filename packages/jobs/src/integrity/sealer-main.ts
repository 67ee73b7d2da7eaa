/**
 * The sealer's own process: `node sealer.js --cryopipe-seal DIR`, started
 * detached by checkpointJob() (see seal.ts). Lowest CPU priority; the I/O
 * priority comes from ionice when the system has it.
 */
import { setPriority } from 'node:os';
import { runSealer, SEALER_ARG } from './seal.ts';

const [marker, dir] = process.argv.slice(2);
if (marker !== SEALER_ARG || !dir) {
  process.stderr.write(`usage: sealer.js ${SEALER_ARG} CHECKPOINT-DIR\n`);
  process.exit(2);
}
try {
  setPriority(19);
} catch {
  // Not allowed to lower it (unusual): seal at the priority we have.
}
try {
  process.stdout.write(`${await runSealer(dir)}\n`);
} catch (err) {
  // The checkpoint was removed (retention, rm) or can't be read: it stays unsealed.
  process.stdout.write(`sealing ${dir} failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
}

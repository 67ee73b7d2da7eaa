// Takes a job lock the way the CLI does, says so on stdout, and holds it until killed.
// Run from packages/cli with: node --import tsx test/lock-holder.ts LOCKPATH OPERATION

import { acquireLock, JobError } from '../../jobs/src/index.ts';
import { EXIT_FOR_CODE } from '../src/errors.ts';

const [lockPath, operation] = process.argv.slice(2);
try {
  await acquireLock(lockPath!, operation ?? 'test');
  process.stdout.write('locked\n');
  setInterval(() => {}, 1 << 30);
} catch (err) {
  const exitCode = JobError.is(err) ? EXIT_FOR_CODE[err.code] : 1;
  process.stdout.write(
    `${JobError.is(err) ? `busy ${exitCode}` : 'error'}: ${(err as Error).message}\n`,
  );
  process.exit(exitCode);
}

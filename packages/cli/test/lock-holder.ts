// Takes a job lock the way the CLI does, says so on stdout, and holds it until killed.
// Run from packages/cli with: node --import tsx test/lock-holder.ts LOCKPATH OPERATION

import { CliError } from '../src/errors.ts';
import { acquireLock } from '../src/lock.ts';

const [lockPath, operation] = process.argv.slice(2);
try {
  await acquireLock(lockPath!, operation ?? 'test');
  process.stdout.write('locked\n');
  setInterval(() => {}, 1 << 30);
} catch (err) {
  process.stdout.write(
    `${CliError.is(err) ? `busy ${err.exitCode}` : 'error'}: ${(err as Error).message}\n`,
  );
  process.exit(CliError.is(err) ? err.exitCode : 1);
}

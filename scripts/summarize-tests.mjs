// Turns vitest's JSON report into the closing line CI reads:
//   N passed, N failed[, N skipped]
// Suites that failed to load count as failures; an empty run fails.
import { existsSync, readFileSync } from 'node:fs';

const [file, vitestRc = '0', checksRc = '0'] = process.argv.slice(2);
if (!file || !existsSync(file)) {
  console.error(`[cryopipe] no vitest report at ${file}: vitest did not run to the end`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const brokenSuites = (r.testResults ?? []).filter(
  (s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0,
).length;
const passed = r.numPassedTests ?? 0;
const failed = (r.numFailedTests ?? 0) + brokenSuites;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);

let rc = 0;
if (passed + failed === 0) {
  console.error('[cryopipe] vitest executed no test: failing the run');
  rc = 1;
}
if (failed > 0 || vitestRc !== '0') rc = 1;
if (checksRc !== '0') {
  console.error('[cryopipe] lint, typecheck or publint failed (see above)');
  rc = 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(rc);

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../../scripts/summarize-tests.mjs');
const dir = mkdtempSync(join(tmpdir(), 'cryopipe-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function summarize(report: unknown, vitestRc = '0', checksRc = '0') {
  const file = join(dir, `${Math.random()}.json`);
  if (report !== undefined) writeFileSync(file, JSON.stringify(report));
  const r = spawnSync('node', [script, file, vitestRc, checksRc], { encoding: 'utf8' });
  return { status: r.status, last: r.stdout.trim().split('\n').at(-1) };
}

describe('scripts/summarize-tests.mjs', () => {
  it('prints the counts and succeeds when everything passed', () => {
    const r = summarize({
      numPassedTests: 7,
      numFailedTests: 0,
      numPendingTests: 2,
      testResults: [],
    });
    expect(r).toEqual({ status: 0, last: '7 passed, 0 failed, 2 skipped' });
  });

  it('fails when a test failed or vitest itself failed', () => {
    expect(summarize({ numPassedTests: 3, numFailedTests: 1, testResults: [] })).toEqual({
      status: 1,
      last: '3 passed, 1 failed',
    });
    expect(summarize({ numPassedTests: 3, numFailedTests: 0, testResults: [] }, '1').status).toBe(
      1,
    );
  });

  it('counts a suite that failed to load as a failure', () => {
    const r = summarize({
      numPassedTests: 2,
      numFailedTests: 0,
      testResults: [{ status: 'failed', assertionResults: [] }],
    });
    expect(r).toEqual({ status: 1, last: '2 passed, 1 failed' });
  });

  it('fails a run that executed nothing, and a missing report', () => {
    expect(summarize({ numPassedTests: 0, numFailedTests: 0, testResults: [] }).status).toBe(1);
    expect(summarize(undefined)).toEqual({ status: 1, last: '0 passed, 1 failed' });
  });

  it('fails when lint, typecheck or publint failed even if tests passed', () => {
    expect(
      summarize({ numPassedTests: 1, numFailedTests: 0, testResults: [] }, '0', '1').status,
    ).toBe(1);
  });
});

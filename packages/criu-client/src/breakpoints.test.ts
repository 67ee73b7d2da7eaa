import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criu, describeWith, root, which } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { probeHardwareBreakpoints } from './breakpoints.ts';

describeWith([root, criu], 'probeHardwareBreakpoints', () => {
  it('agrees with criu 4.2+, which runs the same kind of probe', () => {
    const verdict = probeHardwareBreakpoints(2000);
    expect(['works', 'broken', 'unsupported']).toContain(verdict);
    const dir = mkdtempSync(join(tmpdir(), 'criu-bp-'));
    const logFile = join(dir, 'check.log');
    execFileSync(which('criu')!, ['check', '-v4', '--log-file', logFile], { stdio: 'ignore' });
    const log = readFileSync(logFile, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const criuSaysBroken = /Hardware breakpoints (don't seem to work|appear to be disabled)/.test(
      log,
    );
    if (process.arch === 'x64') expect(verdict === 'broken').toBe(criuSaysBroken);
  });
});

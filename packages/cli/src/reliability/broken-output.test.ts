// Fault matrix row 30: stdout that goes away (EPIPE) or fills up (ENOSPC): one clear line, exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { cliPath } from '../../test/cli-harness.ts';
import { useFaultCli } from '../../test/fault-harness.ts';

const NO_STACK = /node:events|Unhandled 'error'|\n\s+at /;

describeWith([root, criu], 'fault matrix: broken standard output', () => {
  const { dir, home, stoppedCountingJob, mountTmpfs } = useFaultCli();
  const env = { ...process.env, CRYOPIPE_HOME: home, NO_COLOR: '1' };

  /** Runs the CLI with a stdout pipe whose reading end is closed before anything is written. */
  function withClosedStdout(args: string[]): Promise<{ status: number | null; stderr: string }> {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr })));
  }

  /** Runs the CLI with stdout on /dev/full: every write fails with ENOSPC. */
  function toDevFull(args: string[]) {
    const full = openSync('/dev/full', 'w');
    try {
      return spawnSync(process.execPath, [cliPath, ...args], {
        cwd: dir,
        env,
        encoding: 'utf8',
        stdio: ['ignore', full, 'pipe'],
        timeout: 120_000,
      });
    } finally {
      closeSync(full);
    }
  }

  it('30 EPIPE and ENOSPC on stdout end with one line and exit 1, never a stack trace', async () => {
    const { id } = await stoppedCountingJob('piped', 100_000);
    for (const args of [['ps'], ['ps', '--json'], ['--help'], ['export', id]]) {
      const r = await withClosedStdout(args);
      expect(r.status, `${args}: ${r.stderr}`).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(
        /^error: standard output was closed before cryopipe finished writing \(EPIPE\): the program reading it stopped$/m,
      );
      expect(r.stderr, args.join(' ')).not.toMatch(NO_STACK);
    }
    for (const args of [['ps'], ['ps', '--json'], ['export', id]]) {
      const r = toDevFull(args);
      expect(r.status, `${args}: ${r.stderr}`).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(
        /^error: can't write to (standard output|the output): no space left on device \(ENOSPC\)$/m,
      );
      expect(r.stderr, args.join(' ')).not.toMatch(NO_STACK);
    }

    // An archive to a full file system: the same words, and no partial file left.
    const small = mountTmpfs(join(dir, 'small-out'), '16k');
    const r = spawnSync(process.execPath, [cliPath, 'export', id, '-o', join(small, 'a.tar.zst')], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^error: can't write to the output: no space left on device \(ENOSPC\)$/m,
    );
    expect(r.stderr).toMatch(/^hint: free space where the output goes, then try again$/m);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(readdirSync(small)).toEqual([]);
  });
});

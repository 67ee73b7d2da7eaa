import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { killJobRoot } from '@cryopipe/testkit';
import { afterAll } from 'vitest';

export const cliPath = resolve(import.meta.dirname, '../dist/cli.js');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the CLI's documents field by field
  json: () => any;
}

/**
 * A private CRYOPIPE_HOME and work directory for one test file, and a way to
 * run the built `cryopipe` there as a user would.
 */
export function useCli() {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: build first (pnpm build)`);
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-cli-'));
  const home = join(dir, 'home');
  afterAll(() => {
    // Leave nothing running: kill every job this file started that still runs.
    const r = cli('ps', '--json');
    if (r.status === 0)
      for (const job of r.json() as { id: string; rootPid?: number }[])
        killJobRoot(job.rootPid, job.id);
    rmSync(dir, { recursive: true, force: true });
  });
  /** `cryopipe ARGS…` with extra environment, e.g. another CRYOPIPE_HOME. */
  function cliWith(env: NodeJS.ProcessEnv, ...args: string[]): CliRun {
    const r = spawnSync(process.execPath, [cliPath, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CRYOPIPE_HOME: home, NO_COLOR: '1', ...env },
      timeout: 120_000,
    });
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      json: () => JSON.parse(r.stdout),
    };
  }
  const cli = (...args: string[]) => cliWith({}, ...args);
  return { dir, home, cli, cliWith };
}

/** A deterministic slow writer: prints 0..n-1, one line every `ms` milliseconds. */
export const slowCounter = (n: number, ms = 10) =>
  `i=0; while [ $i -lt ${n} ]; do echo $i; i=$((i+1)); sleep ${ms / 1000}; done`;

export const expectedCount = (n: number) => Array.from({ length: n }, (_, i) => `${i}\n`).join('');

export async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

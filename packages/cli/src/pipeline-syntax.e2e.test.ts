import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCli } from '../test/cli-harness.ts';

const { dir, cli } = useCli();

/** The same string under bash in the same directory; a job's status is pipefail's. */
const bash = (script: string) =>
  spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    cwd: dir,
    stdio: 'ignore',
    timeout: 60_000,
  }).status;

describe('cryopipe run: pipeline strings as bash reads them', () => {
  it('yes | head -c 1 ends with 141 at once, as under bash -o pipefail', () => {
    const script = 'yes | head -c 1';
    const started = Date.now();
    const r = cli('run', '--wait', script);
    expect(r.status, r.stderr).toBe(141);
    expect(r.status).toBe(bash(script));
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  // The pipe to a stage whose stdin is redirected stays connected with no
  // reader (a one-ended pipe in the spawn spec), so the writer gets SIGPIPE.
  it('yes | head -c 1 < /etc/hostname ends with 141 at once, as under bash -o pipefail', () => {
    const script = 'yes | head -c 1 < /etc/hostname';
    const r = cli('run', '--name', 'sigpipe', script);
    expect(r.status, r.stderr).toBe(0);
    try {
      const w = cliWithTimeout(['wait', 'sigpipe'], 5_000);
      expect(w).toBe(bash(script));
    } finally {
      cli('kill', 'sigpipe');
    }
  }, 60_000);

  it('creates and truncates every file of > f1 > f2, as bash does, and writes the last', () => {
    writeFileSync(join(dir, 'f1'), 'old\n');
    const r = cli('run', '--wait', 'echo hi > f1 > f2');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'f1'), 'utf8')).toBe('');
    expect(readFileSync(join(dir, 'f2'), 'utf8')).toBe('hi\n');
  }, 60_000);

  it("sends stderr down the pipe with '2>&1 > f' and both to a file with '&> f'", () => {
    let r = cli('run', '--wait', 'sh -c "echo out; echo err >&2" 2>&1 >out.txt | cat > piped.txt');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('out\n');
    expect(readFileSync(join(dir, 'piped.txt'), 'utf8')).toBe('err\n');
    r = cli('run', '--wait', 'sh -c "echo out; echo err >&2" &> both.txt 1>&1 2>&2 # done');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'both.txt'), 'utf8')).toBe('out\nerr\n');
  }, 60_000);

  it('joins backslash-newline and refuses a newline that starts a second command', () => {
    let r = cli('run', '--wait', 'echo a\\\nb > joined.txt');
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'joined.txt'), 'utf8')).toBe('ab\n');
    r = cli('run', 'echo a > first.txt\necho b');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/newline outside quotes .* separates commands, like ';'/);
    expect(existsSync(join(dir, 'first.txt'))).toBe(false);
  }, 60_000);
});

/** `cryopipe ARGS…` killed after `ms`; its status, or null when it had to be killed. */
function cliWithTimeout(args: string[], ms: number): number | null {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '../dist/cli.js'), ...args], {
    cwd: dir,
    env: { ...process.env, CRYOPIPE_HOME: join(dir, 'home'), NO_COLOR: '1' },
    stdio: 'ignore',
    timeout: ms,
  });
  return r.status;
}

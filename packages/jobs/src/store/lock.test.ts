import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The built engine, so that each worker is a plain node process (no loader in between).
const dist = resolve(import.meta.dirname, '../../dist/index.js');

/**
 * A worker: takes the lock `rounds` times (waiting as long as needed) and
 * inside each critical section appends "enter PID" and "exit PID" to a log
 * (O_APPEND), with a random pause between them.
 */
const WORKER = `
const [lockPath, log, rounds] = process.argv.slice(1);
const { acquireLock } = await import(${JSON.stringify(dist)});
const { appendFileSync } = await import('node:fs');
for (let i = 0; i < Number(rounds); i++) {
  const release = await acquireLock(lockPath, 'stress', { waitMs: 120000 });
  appendFileSync(log, 'enter ' + process.pid + '\\n');
  await new Promise((r) => setTimeout(r, Math.random() * 8));
  appendFileSync(log, 'exit ' + process.pid + '\\n');
  release();
}
`;

const dir = mkdtempSync(join(tmpdir(), 'cryopipe-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the job lock under stress', () => {
  it('never lets two processes in at once, even when one is SIGKILLed inside', async () => {
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build first (pnpm build)`);
    const jobDir = join(dir, 'job');
    mkdirSync(jobDir, { mode: 0o700 });
    const log = join(dir, 'log');
    const workers: ChildProcess[] = Array.from({ length: 6 }, () =>
      spawn(
        process.execPath,
        ['--input-type=module', '-e', WORKER, join(jobDir, 'lock'), log, '15'],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    );
    const ended = workers.map(
      (w) => new Promise<number | null>((r) => w.on('close', (code) => r(code))),
    );
    try {
      // SIGKILL the first worker seen inside its critical section.
      let victim: number | undefined;
      while (victim === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
        const last = lines.at(-1);
        if (last?.startsWith('enter ')) victim = Number(last.slice(6));
      }
      process.kill(victim, 'SIGKILL');
      const codes = await Promise.all(ended);
      expect(codes.filter((c) => c === 0)).toHaveLength(5);

      const lines = readFileSync(log, 'utf8').trim().split('\n');
      let inside: string | undefined;
      for (const line of lines) {
        const [what, pid] = line.split(' ');
        if (what === 'enter') {
          // Only a holder that was killed inside may leave without an "exit".
          if (inside !== undefined) expect(inside, line).toBe(String(victim));
          inside = pid;
        } else {
          expect(pid, line).toBe(inside);
          inside = undefined;
        }
      }
      expect(lines.filter((l) => l.startsWith('exit ')).length).toBeGreaterThanOrEqual(75);
      // Everything released: only the victim's sockets may be left (until the next sweep).
      const left = readdirSync(jobDir).filter(
        (n) => /^lock\.(live|held|new)-/.test(n) && !n.includes(`-${victim}-`),
      );
      expect(left).toEqual([]);
    } finally {
      for (const w of workers) {
        try {
          process.kill(w.pid!, 'SIGKILL');
        } catch {}
      }
    }
  });
});

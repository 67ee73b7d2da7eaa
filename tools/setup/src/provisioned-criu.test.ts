import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { binary, criu, describeWith, root, which } from '@cryopipe/testkit';
import { expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const criuBin = () => process.env.CRIU_BIN ?? which('criu') ?? 'criu';

function pidAlive(pid: number): boolean {
  try {
    // A zombie still "exists" for kill(0); look at its state instead.
    return !/^\S+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describeWith([root, criu, binary('setsid')], 'provisioned criu', () => {
  it('is CRIU 4.x and passes `criu check`', () => {
    const version = execFileSync(criuBin(), ['--version'], { encoding: 'utf8' });
    const match = /Version:\s+(\d+)\.(\d+)/.exec(version);
    expect(match, version).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThanOrEqual(4);
    expect(execFileSync(criuBin(), ['check'], { encoding: 'utf8', stdio: 'pipe' })).toMatch(
      /Looks good/,
    );
  });

  it('really dumps a session-leader process and restores it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryopipe-setup-'));
    try {
      const child = spawn('setsid', ['sleep', '600'], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const pid = child.pid!;
      await new Promise((r) => setTimeout(r, 200));
      execFileSync(criuBin(), ['dump', '-t', String(pid), '-D', dir, '-o', 'dump.log'], {
        stdio: 'pipe',
      });
      await exited; // the dump killed it; we reaped it, so its PID is free again
      expect(pidAlive(pid)).toBe(false);
      expect(statSync(join(dir, 'inventory.img')).size).toBeGreaterThan(0);

      execFileSync(criuBin(), ['restore', '-d', '-D', dir, '-o', 'restore.log'], {
        stdio: 'pipe',
      });
      expect(pidAlive(pid)).toBe(true);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(0, 2)).toEqual(['sleep', '600']);
      process.kill(pid, 'SIGKILL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reuses the cached build on a second provisioning run', () => {
    const run = spawnSync('bash', [join(repo, 'scripts/provision-criu.sh')], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/cached .* passes 'criu check'/);
    expect(run.stderr).not.toMatch(/building/);
    expect(run.stderr).toMatch(/smoke test: dump \+ restore of pid \d+ OK/);
  });
});

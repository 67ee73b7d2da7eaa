import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('packed tarball', () => {
  it('ships the launcher for this arch with its executable bit', () => {
    const dest = mkdtempSync(join(tmpdir(), 'cryopipe-pack-'));
    try {
      const out = execFileSync('pnpm', ['pack', '--pack-destination', dest], {
        cwd: pkgDir,
        encoding: 'utf8',
      });
      const tarball = out.trim().split('\n').pop()!;
      const listing = execFileSync('tar', ['-tvzf', tarball], { encoding: 'utf8' });
      const line = listing
        .split('\n')
        .find((l) => l.endsWith(`dist/bin/linux-${process.arch}/cryopipe-launch`));
      expect(line, listing).toBeDefined();
      expect(line).toMatch(/^-rwxr-xr-x /);
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  }, 60_000);
});

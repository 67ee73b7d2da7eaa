// Release hygiene, checked without publishing: `pnpm -r publish --dry-run`
// (what `pnpm release:dry-run` runs after building) would publish exactly
// the public packages, each at a version its CHANGELOG.md describes; private
// packages are never versioned by changesets.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repo } from './cross.ts';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  publishConfig?: Record<string, unknown>;
}

const manifests = ['packages', 'tools'].flatMap((group) =>
  readdirSync(join(repo, group)).map((dir) => ({
    dir: join(repo, group, dir),
    pkg: JSON.parse(readFileSync(join(repo, group, dir, 'package.json'), 'utf8')) as Manifest,
  })),
);
const publicOnes = manifests.filter((m) => !m.pkg.private);

it('the public packages are exactly the five libraries and the cli', () => {
  expect(publicOnes.map((m) => m.pkg.name).sort()).toEqual(
    [
      '@cryopipe/cli',
      '@cryopipe/criu-client',
      '@cryopipe/jobs',
      '@cryopipe/procfs',
      '@cryopipe/spawn',
    ].sort(),
  );
});

it('a dry-run publish lists exactly the public packages at their versions', () => {
  const out = execFileSync('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  const published = [...out.matchAll(/^\+ (@cryopipe\/[\w-]+)@(\S+)$/gm)].map(
    (m) => `${m[1]}@${m[2]}`,
  );
  expect(published.sort()).toEqual(publicOnes.map((m) => `${m.pkg.name}@${m.pkg.version}`).sort());
}, 300_000);

it('every public package has a LICENSE and a changelog entry for its version', () => {
  for (const { dir, pkg } of publicOnes) {
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), pkg.name).toMatch(/^MIT License/);
    expect(readFileSync(join(dir, 'CHANGELOG.md'), 'utf8'), pkg.name).toContain(
      `## ${pkg.version}\n`,
    );
  }
});

it('changesets never version or publish a private package', () => {
  const config = JSON.parse(readFileSync(join(repo, '.changeset/config.json'), 'utf8')) as {
    ignore: string[];
    privatePackages?: { version: boolean; tag: boolean };
  };
  expect(config.privatePackages).toEqual({ version: false, tag: false });
  const privates = manifests.filter((m) => m.pkg.private).map((m) => m.pkg.name);
  expect(config.ignore.sort()).toEqual(privates.sort());
});

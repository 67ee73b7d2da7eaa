// Fetches the rpc.proto that Debian ships with its criu package
// (`apt-get download criu`; bookworm has no separate libcriu-dev).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Requirement } from '@cryopipe/testkit';

let fetched: { text?: string; problem?: string; version?: string } | undefined;

function fetchOnce(): NonNullable<typeof fetched> {
  if (fetched) return fetched;
  const dir = mkdtempSync(join(tmpdir(), 'criu-deb-'));
  try {
    execFileSync('apt-get', ['download', 'criu'], { cwd: dir, stdio: 'pipe' });
    const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download criu produced no .deb');
    execFileSync('dpkg-deb', ['-x', deb, 'x'], { cwd: dir, stdio: 'pipe' });
    fetched = {
      text: readFileSync(join(dir, 'x/usr/include/criu/rpc.proto'), 'utf8'),
      version: deb.split('_')[1],
    };
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    fetched = {
      problem: `could not fetch Debian's rpc.proto with \`apt-get download criu\` (${stderr || (err as Error).message}); run \`apt-get update\` first`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return fetched;
}

export const debianRpcProto: Requirement = {
  name: "Debian criu's rpc.proto",
  check: () => fetchOnce().problem,
};

export function debianRpcProtoText(): { text: string; version: string } {
  const got = fetchOnce();
  if (!got.text) throw new Error(got.problem);
  return { text: got.text, version: got.version ?? 'unknown' };
}

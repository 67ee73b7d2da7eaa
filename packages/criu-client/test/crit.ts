// CRIU's own image decoder, provisioned by scripts/provision-criu.sh from the
// same source as criu: the oracle our decoder is compared with.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Requirement } from '@cryopipe/testkit';

const run = promisify(execFile);
export const CRIT_POINTER = '/var/cache/cryopipe/crit-current';

/** $CRIT_BIN, else the path provisioning wrote to /var/cache/cryopipe/crit-current. */
export function critPath(): string | undefined {
  if (process.env.CRIT_BIN) return process.env.CRIT_BIN;
  try {
    return readFileSync(CRIT_POINTER, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

let probe: string | undefined | null = null;
export const crit: Requirement = {
  name: 'crit',
  check() {
    if (probe !== null) return probe;
    const bin = critPath();
    if (!bin) {
      probe = `crit not found: no $CRIT_BIN and no ${CRIT_POINTER}; run \`bash scripts/provision-criu.sh\` as root (it builds crit from the CRIU source, with python3-protobuf)`;
      return probe;
    }
    try {
      execFileSync(bin, ['--help'], { stdio: 'pipe' });
      probe = undefined;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
      const why = stderr.split('\n').slice(-1)[0] || (err as Error).message;
      probe = `\`${bin} --help\` failed (${why}); rerun \`bash scripts/provision-criu.sh\` as root`;
    }
    return probe;
  },
};

/** Parses crit's JSON, keeping 64-bit integers exact (as strings). */
function parseCritJson(text: string): { magic: string; entries: unknown[] } {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/**
 * Decodes many images with crit's library in one python process (crit is
 * ~0.2 s of python start-up per image): the pycriu next to the provisioned
 * crit wrapper (<dir>/bin/crit -> <dir>/python), loaded exactly as `crit
 * decode` does. Falls back to one `crit decode` per image when that layout
 * is not there.
 */
export async function critDecodeMany(
  paths: string[],
): Promise<Map<string, { magic: string; entries: unknown[] }>> {
  const bin = critPath();
  if (!bin) throw new Error('crit not provisioned');
  const python = join(dirname(dirname(bin)), 'python');
  const out = new Map<string, { magic: string; entries: unknown[] }>();
  if (!existsSync(join(python, 'pycriu'))) {
    for (const path of paths) out.set(path, await critDecode(path));
    return out;
  }
  const script = fileURLToPath(new URL('./crit-load.py', import.meta.url));
  const { stdout } = await run('/usr/bin/python3', [script, ...paths], {
    env: { ...process.env, PYTHONPATH: python },
    maxBuffer: 1 << 28,
  });
  const lines = stdout.trimEnd().split('\n');
  paths.forEach((path, i) => {
    const doc = parseCritJson(lines[i] ?? '{"error":"no output"}') as { error?: string };
    if (doc.error) throw new Error(`crit could not decode ${path}: ${doc.error}`);
    out.set(path, doc as { magic: string; entries: unknown[] });
  });
  return out;
}

/**
 * `crit decode -i PATH` as parsed JSON. Integers of 16 digits or more become
 * strings first: JSON.parse would round 64-bit values.
 */
export async function critDecode(path: string): Promise<{ magic: string; entries: unknown[] }> {
  const bin = critPath();
  if (!bin) throw new Error('crit not provisioned');
  const { stdout } = await run(bin, ['decode', '-i', path], { maxBuffer: 1 << 28 });
  return parseCritJson(stdout);
}

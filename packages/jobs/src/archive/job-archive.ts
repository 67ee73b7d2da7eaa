import { isCleanAbsolute, JOB_ID } from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';

/**
 * The layout of `cryopipe export`'s tar.zst: this manifest first, then the
 * job directory under `job/` (job.json, logs, run dir, complete checkpoints),
 * then under `outputs/N` the first `size` bytes of each file the newest
 * checkpoint recorded outside the job directory (what the job wrote).
 */
export const MANIFEST_ENTRY = 'cryopipe-export.json';

/** An output file of the job carried in an export archive. */
export interface ArchivedOutput {
  /** `outputs/N` inside the archive. */
  entry: string;
  /** Where the file goes back (absolute). */
  path: string;
  /** Size of the file in bytes at export. */
  size: number;
  /** SHA-256 (hex) of the file's last bytes, to recognise an unchanged copy cheaply. */
  tailSha256: string;
  /** Permission bits: CRIU refuses a file whose mode changed ("bad mode"). */
  mode: number;
}

/** manifest.json of an export archive: what the archive holds. */
export interface ExportManifest {
  /** Format version of the manifest. */
  format: 1;
  /** Id of the exported job. */
  jobId: string;
  /** The job directory exported; the checkpoints hold files open under it by this path. */
  jobDir: string;
  /** When the archive was made, ISO 8601. */
  exportedAt: string;
  /** Numbers of the checkpoints included, oldest first. */
  checkpoints: number[];
  /** The job's output files included. */
  outputs: ArchivedOutput[];
}

export const MAX_MANIFEST_BYTES = 1 << 20;

function invalid(what: string): JobError {
  return new JobError(
    `not a cryopipe export, or a damaged one: ${what}`,
    'REFUSED',
    "make the archive with 'cryopipe export JOB -o FILE'",
  );
}

/** Checks the manifest's shape and every path it names before anything is written. */
export function parseManifest(text: string): ExportManifest {
  if (text.length > MAX_MANIFEST_BYTES) throw invalid('the manifest is too large');
  let m: ExportManifest;
  try {
    m = JSON.parse(text) as ExportManifest;
  } catch {
    throw invalid('the manifest is not JSON');
  }
  if (m?.format !== 1) throw invalid(`unknown format ${JSON.stringify(m?.format)}`);
  if (typeof m.jobId !== 'string' || !JOB_ID.test(m.jobId)) throw invalid('bad job id');
  if (!isCleanAbsolute(m.jobDir) || !m.jobDir.endsWith(`/jobs/${m.jobId}`))
    throw invalid(`bad job directory ${JSON.stringify(m.jobDir)}`);
  if (
    !Array.isArray(m.checkpoints) ||
    !m.checkpoints.every((n) => Number.isSafeInteger(n) && n > 0)
  )
    throw invalid('bad checkpoint list');
  if (!Array.isArray(m.outputs)) throw invalid('bad output list');
  const seen = new Set<string>();
  m.outputs.forEach((o, i) => {
    if (o.entry !== `outputs/${i}`)
      throw invalid(`output ${i} has entry ${JSON.stringify(o.entry)}`);
    if (!isCleanAbsolute(o.path) || o.path.startsWith(`${m.jobDir}/`) || seen.has(o.path))
      throw invalid(`bad output path ${JSON.stringify(o.path)}`);
    if (!Number.isSafeInteger(o.size) || o.size < 0 || !/^[0-9a-f]{64}$/.test(o.tailSha256))
      throw invalid(`bad size or hash for ${o.path}`);
    if (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o777)
      throw invalid(`bad mode for ${o.path}`);
    seen.add(o.path);
  });
  return m;
}

export type EntryTarget =
  | { kind: 'job'; relative: string }
  | { kind: 'output'; output: ArchivedOutput };

/**
 * Where an archive entry may go: a path under `job/` made of plain names
 * (no `..`, `.`, empty or absolute parts) or one of the manifest's outputs.
 * Anything else refuses the whole import.
 */
export function entryTarget(name: string, manifest: ExportManifest): EntryTarget {
  const output = manifest.outputs.find((o) => o.entry === name);
  if (output) return { kind: 'output', output };
  const trimmed = name.replace(/\/$/, '');
  if (trimmed === 'job') return { kind: 'job', relative: '' };
  const parts = trimmed.split('/');
  if (
    parts[0] !== 'job' ||
    parts.length < 2 ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0'))
  )
    throw invalid(
      `entry ${JSON.stringify(name)} is outside the job directory and not a listed output`,
    );
  return { kind: 'job', relative: parts.slice(1).join('/') };
}

import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  type CheckpointMeta,
  isCleanAbsolute,
  JOB_ID,
  parseCheckpointMeta,
} from '../checkpoint/checkpoint-meta.ts';
import { JobError } from '../errors.ts';
import type { FileRecord } from '../integrity/file-state.ts';
import type { JobRecord } from '../store/job-store.ts';
import type { ExportManifest } from './job-archive.ts';

function refused(what: string): JobError {
  return new JobError(
    `refusing the archive: ${what}`,
    'REFUSED',
    'this archive was damaged or forged; import only archives made by cryopipe export',
  );
}

function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}

/**
 * The imported job.json, rebuilt from checked fields only: anything a later
 * command acts on (id, name, cwd, pids, schedule) is validated, and what
 * belongs to the exporting machine (its launcher pid, a staging directory
 * for periodic checkpoints, a copy's output list) is dropped. The job comes
 * in stopped at its checkpoint, whatever state it was exported in.
 */
export function importedJobRecord(text: string, manifest: ExportManifest): JobRecord {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text);
  } catch {
    throw refused('job.json is not JSON');
  }
  const bad = (what: string) => refused(`job.json: ${what}`);
  if (typeof j !== 'object' || j === null || j.version !== 1) throw bad('unknown version');
  if (j.id !== manifest.jobId)
    throw bad(`it names job ${JSON.stringify(j.id)}, the manifest ${manifest.jobId}`);
  if (j.name !== undefined && (typeof j.name !== 'string' || !JOB_ID.test(j.name)))
    throw bad('bad name');
  if (typeof j.command !== 'string' || typeof j.createdAt !== 'string')
    throw bad('bad command or createdAt');
  if (!isCleanAbsolute(j.cwd)) throw bad('cwd is not a clean absolute path');
  if (typeof j.pidNamespace !== 'boolean') throw bad('pidNamespace is not a boolean');
  if (!isCount(j.rootPid)) throw bad('rootPid is not a pid');
  const restores = Array.isArray(j.restores) ? j.restores : [];
  if (!restores.every((r) => typeof r === 'object' && r && isCount(r.from) && isCount(r.rootPid)))
    throw bad('bad restores');
  const record: JobRecord & { adopted?: unknown } = {
    version: 1,
    id: manifest.jobId,
    ...(j.name !== undefined ? { name: j.name as string } : {}),
    command: j.command,
    createdAt: j.createdAt,
    cwd: j.cwd,
    pidNamespace: j.pidNamespace,
    phase: 'checkpointed',
    rootPid: j.rootPid as number,
    restores,
  };
  const copyOf = j.copyOf as JobRecord['copyOf'] | undefined;
  if (copyOf !== undefined) {
    if (typeof copyOf?.job !== 'string' || !JOB_ID.test(copyOf.job) || !isCount(copyOf.checkpoint))
      throw bad('bad copyOf');
    record.copyOf = { job: copyOf.job, checkpoint: copyOf.checkpoint };
  }
  const schedule = j.schedule as JobRecord['schedule'] | undefined;
  if (schedule !== undefined) {
    if (!isCount(schedule?.everyMs) || schedule.everyMs === 0) throw bad('bad schedule');
    if (schedule.keep !== undefined && !isCount(schedule.keep)) throw bad('bad schedule keep');
    record.schedule = {
      everyMs: schedule.everyMs,
      ...(schedule.keep !== undefined ? { keep: schedule.keep } : {}),
    };
  }
  const adopted = j.adopted as { pid?: unknown; terminals?: unknown } | undefined;
  if (adopted !== undefined) {
    if (
      !isCount(adopted?.pid) ||
      !Array.isArray(adopted.terminals) ||
      !adopted.terminals.every((t) => typeof t === 'string')
    )
      throw bad('bad adopted');
    record.adopted = { pid: adopted.pid, terminals: adopted.terminals };
  }
  return record;
}

/**
 * Checks every checkpoint in the staged job directory before anything is
 * put in place: exactly the manifest's checkpoints, each a directory whose
 * checkpoint.json passes the strict parser, names this job and its own
 * number and directory, and lists as files only the job's own outputs (as
 * the manifest lists them) or files inside the job directory. A forged
 * `files` entry would make a later restore cut back or hand criu any file
 * on the machine.
 */
export function validateStagedCheckpoints(
  stagedJobDir: string,
  manifest: ExportManifest,
): CheckpointMeta[] {
  const dir = join(stagedJobDir, 'checkpoints');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // No checkpoints directory: the list below says what is missing.
  }
  const expected = manifest.checkpoints.map(String).sort();
  if (names.slice().sort().join(',') !== expected.join(','))
    throw refused(
      `its checkpoints directory holds ${JSON.stringify(names.sort())}, its manifest lists ${JSON.stringify(expected)}`,
    );
  const outputs = new Set(manifest.outputs.map((o) => o.path));
  return manifest.checkpoints.map((n) => {
    const cpDir = join(dir, String(n));
    if (!lstatSync(cpDir).isDirectory()) throw refused(`checkpoint ${n} is not a directory`);
    const where = `checkpoint ${n}'s checkpoint.json`;
    let text: string;
    try {
      text = readFileSync(join(cpDir, 'checkpoint.json'), 'utf8');
    } catch {
      throw refused(`checkpoint ${n} has no checkpoint.json`);
    }
    const meta = parseCheckpointMeta(text, where);
    if (meta.jobId !== manifest.jobId)
      throw refused(`${where} belongs to job ${JSON.stringify(meta.jobId)}, not ${manifest.jobId}`);
    if (meta.number !== n) throw refused(`${where} says it is checkpoint ${meta.number}`);
    if (meta.jobDir !== undefined && !meta.jobDir.endsWith(`/jobs/${manifest.jobId}`))
      throw refused(
        `${where} was taken in ${meta.jobDir}, not a directory of job ${manifest.jobId}`,
      );
    const stray = strayFile(meta, manifest.jobDir, outputs);
    if (stray)
      throw refused(
        `${where} lists ${stray}, which is neither one of the job's outputs in the manifest nor a file in its job directory`,
      );
    return meta;
  });
}

/**
 * The first file a checkpoint lists that is neither inside the job directory
 * it was taken in (its checkpoints excepted) nor one of `outputs`: what an
 * archive may not carry, since a restore would cut back or reopen it.
 */
export function strayFile(
  meta: CheckpointMeta,
  jobDir: string,
  outputs: ReadonlySet<string>,
): string | undefined {
  const own = meta.jobDir ?? jobDir;
  const checkpoints = join(own, 'checkpoints');
  return meta.files.find(
    (f) => !outputs.has(f.path) && !(isWithin(f.path, own) && !isWithin(f.path, checkpoints)),
  )?.path;
}

/**
 * What `import` writes into the job directory (imported.json) when it put
 * the job's outputs somewhere else than the paths its checkpoints recorded:
 * a restore hands criu each file at its new path (inherit-fd), as it does
 * for a copy (relocation.ts).
 */
export interface ImportRecord {
  format: 1;
  importedAt: string;
  /** Ed25519 key id (sha256 of the raw public key) of the signer, when signed. */
  signedBy?: string;
  /** Each output: the path in the images, and where it was put. */
  outputs: { from: string; to: string }[];
  /**
   * Set by `cryopipe receive` (migrate): the images arrived over ssh and
   * their identities were recorded here, after they were written, so a
   * restore checks them by identity like a local checkpoint's.
   */
  migratedFrom?: string;
}

export const IMPORT_RECORD = 'imported.json';

export function readImportRecord(jobDir: string): ImportRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(jobDir, IMPORT_RECORD), 'utf8');
  } catch {
    return undefined;
  }
  const r = JSON.parse(text) as ImportRecord;
  if (
    r?.format !== 1 ||
    !Array.isArray(r.outputs) ||
    !r.outputs.every((o) => isCleanAbsolute(o?.from) && isCleanAbsolute(o?.to))
  )
    throw new JobError(`${join(jobDir, IMPORT_RECORD)} is malformed`, 'REFUSED');
  return r;
}

/**
 * For a restore in place of an imported job: the outputs its checkpoint
 * recorded at paths the import did not use, with where they are now. Only
 * files the checkpoint lists and the import moved are returned.
 */
export function importedOutputMoves(
  jobDir: string,
  files: readonly FileRecord[],
): { from: string; to: string; record: FileRecord }[] {
  const record = readImportRecord(jobDir);
  if (!record) return [];
  const to = new Map(record.outputs.map((o) => [o.from, o.to]));
  return files.flatMap((f) => {
    const moved = to.get(f.path);
    return moved !== undefined && moved !== f.path ? [{ from: f.path, to: moved, record: f }] : [];
  });
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

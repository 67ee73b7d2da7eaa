import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileInheritKey, openInheritedFile } from '@cryopipe/criu-client';
import { JobError } from '../errors.ts';
import { isWithin } from '../store/paths.ts';

export { isWithin };

import type { FileRecord } from '../integrity/file-state.ts';
import { mkdirPrivate } from '../store/home.ts';

/**
 * A file or directory of the dumped tree that the restored tree finds at
 * another path. CRIU reopens files by the paths in its images; for a moved
 * one the restore opens the new path itself and hands the descriptor over
 * (inherit-fd), which is how two copies of one checkpoint can run side by
 * side, and how a job imported under another CRYOPIPE_HOME comes back.
 */
export interface Move {
  /** The path in the images. */
  from: string;
  /** Where the restored tree gets it. */
  to: string;
  /** The checkpoint's record of the file; absent for the run directory. */
  record?: FileRecord;
}

export interface RelocationInput {
  /** Every file the tree had open for writing, as the checkpoint recorded them. */
  files: readonly FileRecord[];
  /** The job directory the images refer to (checkpoint.json's jobDir). */
  fromJobDir: string;
  /** The job directory of the job being restored. */
  toJobDir: string;
  /** For a copy: where files outside the job directory go (same base name). */
  outputDir?: string;
}

/** Where `path` of the images lives for a job directory at `toJobDir` (job files follow the job). */
export function relocatedPath(path: string, fromJobDir: string, toJobDir: string): string {
  return isWithin(path, fromJobDir) ? join(toJobDir, relative(fromJobDir, path)) : path;
}

/**
 * The moves a restore needs: the run directory and the job's own files follow
 * the job directory; other files stay put unless `outputDir` is given. Two
 * outputs with one base name can't share an output directory: refused.
 */
export function planRelocation(input: RelocationInput): Move[] {
  const { fromJobDir, toJobDir, outputDir } = input;
  const moves: Move[] = [];
  const taken = new Map<string, string>();
  for (const record of input.files) {
    let to = relocatedPath(record.path, fromJobDir, toJobDir);
    if (to === record.path && outputDir !== undefined) {
      to = join(outputDir, basename(record.path));
      const other = taken.get(to);
      if (other !== undefined) {
        throw new JobError(
          `the job writes two files named ${basename(record.path)} (${other} and ${record.path}); a copy can't put both in ${outputDir}`,
          'USAGE',
          'restore the copy after renaming one of them in the pipeline, or restore in place',
        );
      }
      taken.set(to, record.path);
    }
    if (to !== record.path) moves.push({ from: record.path, to, record });
  }
  const runDir = join(fromJobDir, 'run');
  const newRunDir = relocatedPath(runDir, fromJobDir, toJobDir);
  if (newRunDir !== runDir) moves.push({ from: runDir, to: newRunDir });
  return moves;
}

/**
 * Writes the first `size` bytes of `from` (the checkpointed part of a file
 * the original job may still be extending) to a new file `to`, never
 * replacing one that exists. The caller checks the copy against the record.
 */
export async function copyCheckpointedBytes(from: string, to: string, size: number): Promise<void> {
  if (existsSync(to)) {
    throw new JobError(
      `${to} already exists; a copy of the job never overwrites files`,
      'REFUSED',
      'remove it or give the copy another --output-dir',
    );
  }
  mkdirPrivate(join(to, '..'));
  const mode = statSync(from).mode & 0o777;
  if (size === 0) writeFileSync(to, '', { flag: 'wx', mode });
  else
    await pipeline(
      createReadStream(from, { start: 0, end: size - 1 }),
      createWriteStream(to, { flags: 'wx', mode }),
    );
}

export interface InheritedFds {
  inheritFd: { key: string; fd: number }[];
  close(): void;
}

/**
 * Opens every move's new path as the tree had the old one open, for criu's
 * inherit-fd. A file the tree opened several times at different offsets
 * can't be handed over as one descriptor: refused, naming it.
 */
export function openMoves(moves: readonly Move[]): InheritedFds {
  const opened: { key: string; fd: number }[] = [];
  const close = () => {
    for (const { fd } of opened.splice(0)) closeSync(fd);
  };
  try {
    for (const move of moves) {
      const key = fileInheritKey(move.from);
      if (!move.record) {
        opened.push({ key, fd: openInheritedFile(move.to, { access: 'read', directory: true }) });
        continue;
      }
      // Checkpoints of older cryopipe versions did not record opens: assume one writer at the end.
      const opens = move.record.opens ?? [
        { pos: move.record.size, access: 'write' as const, append: false },
      ];
      if (opens.length !== 1) {
        throw new JobError(
          `can't move ${move.from} to ${move.to}: the job has it open ${opens.length} times at different offsets (${opens.map((o) => o.pos).join(', ')}), and criu hands a moved file over as one descriptor`,
          'REFUSED',
          'restore this checkpoint in place instead',
        );
      }
      opened.push({ key, fd: openInheritedFile(move.to, opens[0]!) });
    }
  } catch (err) {
    close();
    throw err;
  }
  return { inheritFd: opened, close };
}

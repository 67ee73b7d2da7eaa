import type { FileRecord } from '../integrity/file-state.ts';

/** Version of the migrate protocol; both sides must speak the same. */
export const MIGRATE_PROTOCOL = 1;

/** source → destination: what is coming, so the destination can say whether it can take it. */
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  jobId: string;
  name?: string;
  /** criu's version on the source: images restore only with the same version. */
  criuVersion: string;
  /** The source's `criu cpuinfo dump` image (base64): the destination checks its CPU against it. */
  cpuinfo: string;
  /** Bytes the destination must have free: the tree's resident memory and its outputs. */
  bytesNeeded: number;
  /** The job's outputs (files outside its job directory) as the source sees them now. */
  outputs: string[];
  /** Put the outputs into this directory on the destination, instead of their recorded paths. */
  outputDir?: string;
  /** Move the job as an export archive (no page server): `migrate --via-archive`. */
  viaArchive?: boolean;
  /** The source machine's host name, recorded with the job on the destination. */
  source: string;
  /** Port the destination's page server listens on (127.0.0.1), reached through the ssh forward. */
  pagePort: number;
}

/** destination → source: ready, the page server listens. */
export interface ReadyMessage {
  type: 'ready';
  criuVersion: string;
  freeBytes: number;
}

/** either way: the sender gives up; the receiver of this message cleans up. */
export interface ErrorMessage {
  type: 'error';
  message: string;
  code: string;
  hint?: string;
}

/** source → destination: the bytes of one file follow in data frames, exactly `size` of them. */
export interface FileMessage {
  type: 'file';
  /** 'job': `path` is relative to the job directory; 'output': `path` is the recorded absolute path. */
  role: 'job' | 'output';
  path: string;
  size: number;
  mode: number;
}

/** source → destination: everything is sent; restore checkpoint `checkpoint`. */
export interface RestoreMessage {
  type: 'restore';
  checkpoint: number;
  /** The job directory on the source (the images name files under it). */
  jobDir: string;
  /** The output records of the checkpoint (sizes, tail hashes). */
  outputs: FileRecord[];
}

/** destination → source: the job runs there. */
export interface RestoredMessage {
  type: 'restored';
  id: string;
  rootPid: number;
  /** How long the destination's restore took (restoreJob), ms. */
  restoreMs: number;
  /** Bytes the page server received (pages and pagemaps). */
  pageBytes: number;
  /** Where each output went on the destination. */
  outputs: { from: string; to: string }[];
}

/** source → destination: the source's copy is gone; the move is complete. */
export interface DoneMessage {
  type: 'done';
}

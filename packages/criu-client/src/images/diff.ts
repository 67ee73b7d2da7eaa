// What changed between two checkpoints of the same job: memory by kind per
// process, the offset of every open file, the bytes in each pipe.
import type { CheckpointSummary, MemoryBytes, PipeSummary } from './checkpoint.ts';

/** How one process's saved memory changed between two checkpoints. */
export interface MemoryChange {
  /** The process, by its pid in the checkpoints. */
  pid: number;
  /** Its command name (comm). */
  command: string;
  /** Saved memory by kind in `a`; undefined when the process is new in `b`. */
  before?: MemoryBytes | undefined;
  /** Saved memory by kind in `b`; undefined when the process is gone in `b`. */
  after?: MemoryBytes | undefined;
  /** after − before per kind (a missing side counts as 0). */
  delta: MemoryBytes;
}

/** One descriptor on a regular file, matched by pid and fd number. */
export interface FileOffsetChange {
  /** The file's path. */
  path: string;
  /** The process holding the descriptor. */
  pid: number;
  /** The descriptor number. */
  fd: number;
  /** File offset in `a`; undefined when the descriptor is new in `b`. */
  before?: number | undefined;
  /** File offset in `b`; undefined when the descriptor is gone in `b`. */
  after?: number | undefined;
  /** after − before, when both exist. */
  delta?: number | undefined;
  /** Recorded file sizes, when they differ. */
  sizeBefore?: number | undefined;
  /** The recorded size in `b`, when it differs from `sizeBefore`. */
  sizeAfter?: number | undefined;
}

/** How the bytes in flight in one pipe or FIFO changed between two checkpoints. */
export interface PipeChange {
  /** The pipe's id in `b` (or `a` when it is gone); ids change across a restore. */
  pipeId: number;
  /** Anonymous pipe or named pipe (FIFO). */
  kind: 'pipe' | 'fifo';
  /** The ends in `b` (or `a` when it is gone), as `pid:fd:read|write`. */
  ends: string[];
  /** Bytes in flight in `a`; undefined when the pipe is new in `b`. */
  before?: number | undefined;
  /** Bytes in flight in `b`; undefined when the pipe is gone in `b`. */
  after?: number | undefined;
  /** after − before (a missing side counts as 0). */
  delta: number;
}

/** What changed from checkpoint `a` to checkpoint `b` ({@link diffCheckpoints}). */
export interface CheckpointDiff {
  /** Pids only in `b` / only in `a`. */
  processesAdded: number[];
  /** Pids only in `a`. */
  processesRemoved: number[];
  /** Saved memory of every process, per kind, before and after. */
  memory: MemoryChange[];
  /** Every file descriptor whose offset or recorded size changed, or that exists on one side only. */
  files: FileOffsetChange[];
  /** Every pipe whose buffered bytes changed, or that exists on one side only. */
  pipes: PipeChange[];
}

const kinds = ['private', 'shared', 'file'] as const;

function pipeKey(pipe: PipeSummary): string {
  return pipe.ends
    .map((e) => `${e.pid}:${e.fd}:${e.end}`)
    .sort()
    .join(' ');
}

function memoryChanges(a: CheckpointSummary, b: CheckpointSummary): MemoryChange[] {
  const before = new Map(a.processes.map((p) => [p.pid, p]));
  const after = new Map(b.processes.map((p) => [p.pid, p]));
  const pids = [...new Set([...before.keys(), ...after.keys()])].sort((x, y) => x - y);
  return pids.map((pid) => {
    const x = before.get(pid);
    const y = after.get(pid);
    const delta = { private: 0, shared: 0, file: 0 };
    for (const k of kinds) delta[k] = (y?.memory[k] ?? 0) - (x?.memory[k] ?? 0);
    return {
      pid,
      command: y?.command ?? x?.command ?? '',
      before: x?.memory,
      after: y?.memory,
      delta,
    };
  });
}

function fileChanges(a: CheckpointSummary, b: CheckpointSummary): FileOffsetChange[] {
  type Open = { path: string; pos: number; size?: number | undefined };
  const collect = (c: CheckpointSummary) => {
    const out = new Map<string, Open>();
    for (const p of c.processes) {
      for (const d of p.descriptors) {
        if (d.type === 'file' && d.size !== undefined) {
          out.set(`${p.pid}:${d.fd}`, { path: d.path, pos: d.pos, size: d.size });
        }
      }
    }
    return out;
  };
  const before = collect(a);
  const after = collect(b);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  const out: FileOffsetChange[] = [];
  for (const key of keys) {
    const [pid, fd] = key.split(':').map(Number) as [number, number];
    const x = before.get(key);
    const y = after.get(key);
    if (x && y && x.path === y.path && x.pos === y.pos && x.size === y.size) continue;
    out.push({
      path: y?.path ?? x?.path ?? '',
      pid,
      fd,
      before: x?.pos,
      after: y?.pos,
      delta: x && y ? y.pos - x.pos : undefined,
      ...(x?.size !== y?.size && { sizeBefore: x?.size, sizeAfter: y?.size }),
    });
  }
  return out.sort((p, q) => p.pid - q.pid || p.fd - q.fd);
}

function pipeChanges(a: CheckpointSummary, b: CheckpointSummary): PipeChange[] {
  // Same pipe id: the same pipe (no restore in between). Otherwise, after a
  // restore gave pipes new ids, the same ends (pid, fd, direction).
  const pairs: [PipeSummary | undefined, PipeSummary | undefined][] = [];
  const idsA = new Map(a.pipes.map((p) => [`${p.kind}:${p.pipeId}`, p]));
  const restB: PipeSummary[] = [];
  for (const y of b.pipes) {
    const x = idsA.get(`${y.kind}:${y.pipeId}`);
    if (x) {
      idsA.delete(`${y.kind}:${y.pipeId}`);
      pairs.push([x, y]);
    } else restB.push(y);
  }
  const byEnds = new Map([...idsA.values()].map((p) => [pipeKey(p), p]));
  for (const y of restB) {
    const x = byEnds.get(pipeKey(y));
    if (x) byEnds.delete(pipeKey(y));
    pairs.push([x, y]);
  }
  for (const x of byEnds.values()) pairs.push([x, undefined]);
  const out: PipeChange[] = [];
  for (const [x, y] of pairs) {
    if (x && y && x.bufferedBytes === y.bufferedBytes) continue;
    const pipe = (y ?? x)!;
    out.push({
      pipeId: pipe.pipeId,
      kind: pipe.kind,
      ends: pipeKey(pipe).split(' '),
      before: x?.bufferedBytes,
      after: y?.bufferedBytes,
      delta: (y?.bufferedBytes ?? 0) - (x?.bufferedBytes ?? 0),
    });
  }
  return out.sort((p, q) => p.pipeId - q.pipeId);
}

/**
 * What changed from checkpoint `a` to checkpoint `b` (both from
 * readCheckpoint). Processes and descriptors are matched by pid and fd
 * number, which a restore keeps; pipes by id, else (a restore gives them new
 * ids) by their ends. JSON-serialisable.
 */
export function diffCheckpoints(a: CheckpointSummary, b: CheckpointSummary): CheckpointDiff {
  const pidsA = new Set(a.processes.map((p) => p.pid));
  const pidsB = new Set(b.processes.map((p) => p.pid));
  return {
    processesAdded: [...pidsB].filter((p) => !pidsA.has(p)).sort((x, y) => x - y),
    processesRemoved: [...pidsA].filter((p) => !pidsB.has(p)).sort((x, y) => x - y),
    memory: memoryChanges(a, b),
    files: fileChanges(a, b),
    pipes: pipeChanges(a, b),
  };
}

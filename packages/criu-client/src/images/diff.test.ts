import { describe, expect, it } from 'vitest';
import type { CheckpointSummary, PipeSummary, ProcessSummary } from './checkpoint.ts';
import { diffCheckpoints } from './diff.ts';

function proc(pid: number, pos: number, size: number, memory = 4096): ProcessSummary {
  return {
    pid,
    ppid: 1,
    pgid: pid,
    sid: pid,
    command: `p${pid}`,
    state: 'alive',
    exitCode: 0,
    threads: [{ tid: pid }],
    memory: { private: memory, shared: 0, file: 0 },
    mapped: { private: memory, shared: 0, file: 0 },
    pages: memory / 4096,
    descriptors: [
      { fd: 0, type: 'pipe', pipeId: 0, end: 'read', flags: 0 },
      { fd: 1, type: 'file', path: '/out', pos, flags: 1, size },
    ],
  };
}

function pipe(pipeId: number, bufferedBytes: number): PipeSummary {
  return {
    pipeId,
    kind: 'pipe',
    bufferedBytes,
    ends: [
      { pid: 10, fd: 1, end: 'write' },
      { pid: 11, fd: 0, end: 'read' },
    ],
  };
}

function checkpoint(processes: ProcessSummary[], pipes: PipeSummary[]): CheckpointSummary {
  return {
    dir: '/x',
    imgVersion: 2,
    rootPid: processes[0]?.pid ?? 0,
    processes,
    pipes,
    files: [],
    images: [],
  };
}

describe('diffCheckpoints', () => {
  it('reports offsets, sizes, memory and pipe bytes that changed', () => {
    const a = checkpoint([proc(10, 100, 100), proc(11, 0, 0)], [pipe(500, 10)]);
    const b = checkpoint([proc(10, 250, 250, 8192), proc(12, 0, 0)], [pipe(500, 4096)]);
    const diff = diffCheckpoints(a, b);
    expect(diff.processesAdded).toEqual([12]);
    expect(diff.processesRemoved).toEqual([11]);
    expect(diff.files).toContainEqual({
      path: '/out',
      pid: 10,
      fd: 1,
      before: 100,
      after: 250,
      delta: 150,
      sizeBefore: 100,
      sizeAfter: 250,
    });
    expect(diff.memory.find((m) => m.pid === 10)?.delta).toEqual({
      private: 4096,
      shared: 0,
      file: 0,
    });
    expect(diff.memory.find((m) => m.pid === 11)?.after).toBeUndefined();
    expect(diff.pipes).toEqual([
      {
        pipeId: 500,
        kind: 'pipe',
        ends: ['10:1:write', '11:0:read'],
        before: 10,
        after: 4096,
        delta: 4086,
      },
    ]);
  });

  it('matches a pipe across a restore, which gives it a new id, by its ends', () => {
    const a = checkpoint([proc(10, 0, 0)], [pipe(500, 10)]);
    const b = checkpoint([proc(10, 0, 0)], [pipe(9000, 30)]);
    const [change] = diffCheckpoints(a, b).pipes;
    expect(change).toMatchObject({ pipeId: 9000, before: 10, after: 30, delta: 20 });
  });

  it('is empty between a checkpoint and itself', () => {
    const a = checkpoint([proc(10, 5, 5)], [pipe(500, 10)]);
    expect(diffCheckpoints(a, a)).toMatchObject({
      processesAdded: [],
      processesRemoved: [],
      files: [],
      pipes: [],
    });
  });
});

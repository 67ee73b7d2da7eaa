import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { PATH_ENV, useTempDirs } from '../test/helpers.ts';
import { PipelineSpecError } from './errors.ts';
import { spawnPipeline } from './spawn-pipeline.ts';
import { resolvePipeline } from './spec.ts';

describe('dup sources (2>&1)', () => {
  it('resolve chains to the real source and reject unset targets and cycles', () => {
    const p = resolvePipeline(
      {
        stages: [
          {
            argv: ['x'],
            fds: { 3: { type: 'null' }, 4: { type: 'dup', fd: 3 }, 5: { type: 'dup', fd: 4 } },
          },
        ],
      },
      '/run',
    );
    expect(p.stages[0]!.fds.get(5)).toEqual({ kind: 'dup', fd: 3 });
    const bad = (fds: Record<number, { type: 'dup'; fd: number }>) => {
      try {
        resolvePipeline({ stages: [{ argv: ['x'], fds }] }, '/run');
      } catch (err) {
        if (PipelineSpecError.is(err)) return err.problems.join('\n');
      }
      return '';
    };
    expect(bad({ 4: { type: 'dup', fd: 9 } })).toMatch(/fd 4 duplicates fd 9, which is not set/);
    expect(bad({ 4: { type: 'dup', fd: 5 }, 5: { type: 'dup', fd: 4 } })).toMatch(/dup cycle/);
  });
});

describeWith([root], 'dup sources in real stages', () => {
  const tempDir = useTempDirs();

  it('shares one open file between stdout and stderr, in write order', async () => {
    const dir = tempDir();
    const out = join(dir, 'both.txt');
    const handle = await spawnPipeline(
      {
        stages: [
          {
            argv: ['sh', '-c', 'echo one; echo two >&2; echo three'],
            fds: { 1: { type: 'file', path: out, mode: 'truncate' }, 2: { type: 'dup', fd: 1 } },
          },
        ],
        env: PATH_ENV,
      },
      { runDir: join(dir, 'run') },
    );
    await handle.wait();
    // One open file description: the lines interleave instead of overwriting each other.
    expect(readFileSync(out, 'utf8')).toBe('one\ntwo\nthree\n');
  });

  it('sends stderr into the pipe to the next stage', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.txt');
    const handle = await spawnPipeline(
      {
        stages: [
          {
            argv: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2'],
            fds: { 2: { type: 'dup', fd: 1 } },
          },
          { argv: ['sort'], fds: { 1: { type: 'file', path: out, mode: 'truncate' } } },
        ],
        env: PATH_ENV,
      },
      { runDir: join(dir, 'run') },
    );
    await handle.wait();
    expect(readFileSync(out, 'utf8')).toBe('to-stderr\nto-stdout\n');
  });
});

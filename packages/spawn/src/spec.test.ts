import { describe, expect, it } from 'vitest';
import { PipelineSpecError, SpawnError } from './errors.ts';
import { currentUmask } from './proc.ts';
import { commandOf, resolvePipeline } from './spec.ts';

const RUN = '/run/cryopipe/job';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (PipelineSpecError.is(err)) return err.problems;
    throw err;
  }
  throw new Error('expected a PipelineSpecError');
}

describe('resolvePipeline', () => {
  it('wires a linear pipeline with the documented defaults', () => {
    const p = resolvePipeline({ stages: [{ argv: ['a'] }, { argv: ['b'] }], cwd: '/tmp' }, RUN);
    expect(p.pipeCount).toBe(1);
    const [a, b] = p.stages;
    expect([...a!.fds]).toEqual([
      [0, { kind: 'null', write: false }],
      [1, { kind: 'pipe', pipe: 0, end: 'write' }],
      [2, { kind: 'file', path: `${RUN}/stage-1.log`, mode: 'truncate' }],
    ]);
    expect([...b!.fds]).toEqual([
      [0, { kind: 'pipe', pipe: 0, end: 'read' }],
      [1, { kind: 'file', path: `${RUN}/stdout`, mode: 'truncate' }],
      [2, { kind: 'file', path: `${RUN}/stage-2.log`, mode: 'truncate' }],
    ]);
    expect(a!.env).toEqual({});
    expect(a!.umask).toBe(currentUmask()); // the caller's, as a shell's children get it
    expect(a!.cwd).toBe('/tmp');
  });

  it('adds explicit edges and files, resolving relative paths against the stage cwd', () => {
    const p = resolvePipeline(
      {
        stages: [
          { argv: ['a'], fds: { 2: { type: 'null' } } },
          { argv: ['b'], cwd: 'sub', fds: { 5: { type: 'file', path: 'in.txt', mode: 'read' } } },
        ],
        edges: [{ from: { stage: 1, fd: 4 }, to: { stage: 0, fd: 3 } }],
        cwd: '/base',
        env: { A: '1' },
      },
      RUN,
    );
    expect(p.pipeCount).toBe(2);
    expect(p.stages[0]!.fds.get(3)).toEqual({ kind: 'pipe', pipe: 1, end: 'read' });
    expect(p.stages[0]!.fds.get(2)).toEqual({ kind: 'null', write: true });
    expect(p.stages[1]!.fds.get(4)).toEqual({ kind: 'pipe', pipe: 1, end: 'write' });
    expect(p.stages[1]!.fds.get(5)).toEqual({
      kind: 'file',
      path: '/base/sub/in.txt',
      mode: 'read',
    });
    expect(p.stages[1]!.env).toEqual({ A: '1' });
  });

  it('inherits the environment only when asked, stage env winning', () => {
    process.env['CRYOPIPE_TEST_VAR'] = 'outer';
    const p = resolvePipeline(
      { stages: [{ argv: ['a'], env: { X: 'stage' } }], env: { X: 'pipe' }, inheritEnv: true },
      RUN,
    );
    expect(p.stages[0]!.env['CRYOPIPE_TEST_VAR']).toBe('outer');
    expect(p.stages[0]!.env['X']).toBe('stage');
    delete process.env['CRYOPIPE_TEST_VAR'];
  });

  it('lists every problem of a bad spec at once', () => {
    const problems = problemsOf(() =>
      resolvePipeline(
        {
          stages: [
            { argv: [] },
            { argv: ['x\0y'], env: { 'A=B': 'v' }, umask: 0o1000, fds: { 2000: { type: 'null' } } },
          ],
          edges: [{ from: { stage: 0, fd: 1 }, to: { stage: 9, fd: 0 } }],
        },
        RUN,
      ),
    );
    expect(problems.join('\n')).toMatch(/stages\[0\]\.argv must be a non-empty array/);
    expect(problems.join('\n')).toMatch(/NUL byte/);
    expect(problems.join('\n')).toMatch(/key "A=B"/);
    expect(problems.join('\n')).toMatch(/umask must be an integer/);
    expect(problems.join('\n')).toMatch(/fds key 2000/);
    expect(problems.join('\n')).toMatch(/edges\[0\]\.to\.stage must name a stage/);
  });

  it('refuses a descriptor wired twice', () => {
    const problems = problemsOf(() =>
      resolvePipeline(
        {
          stages: [{ argv: ['a'], fds: { 1: { type: 'null' } } }, { argv: ['b'] }],
        },
        RUN,
      ),
    );
    expect(problems).toEqual(['stage 0 fd 1 is wired twice (fds)']);
  });

  it('refuses an empty pipeline and an unknown file mode', () => {
    expect(problemsOf(() => resolvePipeline({ stages: [] }, RUN))).toEqual([
      'stages must be a non-empty array',
    ]);
    const bad = { type: 'file', path: '/x', mode: 'rw' } as unknown as { type: 'null' };
    expect(
      problemsOf(() => resolvePipeline({ stages: [{ argv: ['a'] }], stdin: bad }, RUN))[0],
    ).toMatch(/stdin\.mode must be one of read, write, append, truncate/);
  });

  it('errors are recognisable by brand, not only instanceof', () => {
    const err = new PipelineSpecError(['x']);
    const copy = { ...err, [Symbol.for('cryopipe.spawn.error')]: true, code: 'SPEC_INVALID' };
    expect(PipelineSpecError.is(copy)).toBe(true);
    expect(SpawnError.is(copy)).toBe(true);
    expect(PipelineSpecError.is(new Error('x'))).toBe(false);
  });
});

describe('commandOf', () => {
  it('quotes what a shell would need quoted', () => {
    expect(commandOf(['gzip', '-1'])).toBe('gzip -1');
    expect(commandOf(['sh', '-c', "echo it's"])).toBe("sh -c 'echo it'\\''s'");
  });
});

import { describe, expect, it } from 'vitest';
import { planPipeline } from './pipeline-spec.ts';
import { PipelineSyntaxError, parsePipelineString } from './pipeline-syntax.ts';

const opts = { cwd: '/w', logsDir: '/l', env: { PATH: '/bin' } };
const plan = (input: string) => planPipeline(parsePipelineString(input), opts);
const fdsOf = (input: string) => plan(input).spec.stages.map((s) => s.fds);

describe('planPipeline', () => {
  it('gives each stage its pipes, stdin /dev/null, stderr and the last stdout in logs/', () => {
    const { spec, sideEffects } = plan('a | b');
    expect(spec.edges).toEqual([{ from: { stage: 0, fd: 1 }, to: { stage: 1, fd: 0 } }]);
    expect(spec.stages.map((s) => s.fds)).toEqual([
      { 0: { type: 'null' }, 2: { type: 'file', path: '/l/stage-1.log', mode: 'truncate' } },
      {
        1: { type: 'file', path: '/l/stdout.log', mode: 'truncate' },
        2: { type: 'file', path: '/l/stage-2.log', mode: 'truncate' },
      },
    ]);
    expect(sideEffects).toEqual([]);
  });

  it("applies redirections in order: '2>&1 > f' sends stderr down the pipe", () => {
    const { spec } = plan('a 2>&1 > f | b');
    expect(spec.edges).toEqual([{ from: { stage: 0, fd: 2 }, to: { stage: 1, fd: 0 } }]);
    expect(spec.stages[0]!.fds).toEqual({
      0: { type: 'null' },
      1: { type: 'file', path: '/w/f', mode: 'truncate' },
    });
    expect(fdsOf('a > f 2>&1')[0]).toEqual({
      0: { type: 'null' },
      1: { type: 'file', path: '/w/f', mode: 'truncate' },
      2: { type: 'dup', fd: 1 },
    });
  });

  it('opens every redirection of one fd, in order: earlier files are side effects', () => {
    const { spec, sideEffects } = plan('a > f1 >> f2 > f3 < in 0< in2');
    expect(sideEffects).toEqual([
      { stage: 0, path: '/w/f1', mode: 'truncate' },
      { stage: 0, path: '/w/f2', mode: 'append' },
      { stage: 0, path: '/w/in', mode: 'read' },
    ]);
    expect(spec.stages[0]!.fds?.[1]).toEqual({ type: 'file', path: '/w/f3', mode: 'truncate' });
    expect(spec.stages[0]!.fds?.[0]).toEqual({ type: 'file', path: '/w/in2', mode: 'read' });
  });

  it('treats self-dups as no-ops and dups of dups as one open file', () => {
    expect(fdsOf('a 1>&1 2>&2 0<&0')).toEqual(fdsOf('a'));
    expect(fdsOf('a 3> f 4>&3 5>&4 3>&1')[0]).toEqual({
      0: { type: 'null' },
      1: { type: 'file', path: '/l/stdout.log', mode: 'truncate' },
      2: { type: 'file', path: '/l/stage-1.log', mode: 'truncate' },
      3: { type: 'dup', fd: 1 },
      4: { type: 'file', path: '/w/f', mode: 'truncate' },
      5: { type: 'dup', fd: 4 },
    });
  });

  it('keeps a moved pipe end connected (3>&1 > f: the pipe is on fd 3)', () => {
    const { spec } = plan('a 3>&1 >f | b 4<&0 < in');
    expect(spec.edges).toEqual([{ from: { stage: 0, fd: 3 }, to: { stage: 1, fd: 4 } }]);
  });

  it('keeps a pipe whose other end was redirected away as a one-ended pipe, as bash does', () => {
    // Nobody holds the missing end: the reader sees EOF, the writer gets SIGPIPE.
    const { spec } = plan('a > f | b | c < in');
    expect(spec.edges).toEqual([{ to: { stage: 1, fd: 0 } }, { from: { stage: 1, fd: 1 } }]);
    expect(spec.stages[1]!.fds?.[0]).toBeUndefined();
    expect(spec.stages[1]!.fds?.[1]).toBeUndefined();
  });

  it('refuses a copy of a descriptor that is not open, as bash does', () => {
    let error: unknown;
    try {
      plan('a 2>&5 2> f');
    } catch (err) {
      error = err;
    }
    expect(PipelineSyntaxError.is(error)).toBe(true);
    expect((error as Error).message).toMatch(/copies fd 5, which is not open there/);
  });
});

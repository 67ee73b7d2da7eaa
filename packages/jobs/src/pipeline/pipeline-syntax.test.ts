import { MAX_FD } from '@cryopipe/spawn';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PipelineSyntaxError, parsePipelineArgv, parsePipelineString } from './pipeline-syntax.ts';

const syntaxError = (fn: () => unknown): PipelineSyntaxError => {
  try {
    fn();
  } catch (err) {
    if (PipelineSyntaxError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a PipelineSyntaxError');
};

describe('parsePipelineString', () => {
  it('parses the encode pipeline with redirections', () => {
    const p = parsePipelineString(
      'ffmpeg -i "my clip.mkv" -f yuv4mpegpipe - 2>ffmpeg.log | aomenc --passes=1 -o out.ivf - 2>> enc.log',
    );
    expect(p.stages).toEqual([
      {
        argv: ['ffmpeg', '-i', 'my clip.mkv', '-f', 'yuv4mpegpipe', '-'],
        redirections: [{ fd: 2, kind: 'write', path: 'ffmpeg.log' }],
      },
      {
        argv: ['aomenc', '--passes=1', '-o', 'out.ivf', '-'],
        redirections: [{ fd: 2, kind: 'append', path: 'enc.log' }],
      },
    ]);
  });

  it('handles quotes, escapes and every redirection form', () => {
    const p = parsePipelineString(
      `cat < 'in put' 3<extra | tr a\\ b 'x'"y" > out 2>&1 4>& 2 5>>log "a\\"b\\\\c\\n"`,
    );
    expect(p.stages[0]).toEqual({
      argv: ['cat'],
      redirections: [
        { fd: 0, kind: 'read', path: 'in put' },
        { fd: 3, kind: 'read', path: 'extra' },
      ],
    });
    expect(p.stages[1]!.argv).toEqual(['tr', 'a b', 'xy', 'a"b\\c\\n']);
    expect(p.stages[1]!.redirections).toEqual([
      { fd: 1, kind: 'write', path: 'out' },
      { fd: 2, kind: 'dup', target: 1 },
      { fd: 4, kind: 'dup', target: 2 },
      { fd: 5, kind: 'append', path: 'log' },
    ]);
  });

  it('keeps $, globs and ~ literally: nothing is expanded', () => {
    expect(parsePipelineString('echo $HOME *.mkv ~ a?b').stages[0]!.argv).toEqual([
      'echo',
      '$HOME',
      '*.mkv',
      '~',
      'a?b',
    ]);
  });

  it('treats digits inside a word as part of the word', () => {
    expect(parsePipelineString('x264 -o 2pass 10').stages[0]!.argv).toEqual([
      'x264',
      '-o',
      '2pass',
      '10',
    ]);
  });

  it('follows bash on backslash-newline, comments and newlines after |', () => {
    const argvs = (input: string) => parsePipelineString(input).stages.map((s) => s.argv);
    expect(argvs('ec\\\nho a\\\nb "c\\\nd" \'e\\\nf\'')).toEqual([['echo', 'ab', 'cd', 'e\\\nf']]);
    expect(argvs('a x#y "#q" # comment | b\n')).toEqual([['a', 'x#y', '#q']]);
    expect(argvs('a # a comment ends at the newline \\\n')).toEqual([['a']]);
    expect(argvs('\n a |\n\n # why\n b \n\n')).toEqual([['a'], ['b']]);
    expect(argvs('a 2\\\n>f')).toEqual([['a']]);
    expect(parsePipelineString('a 2\\\n>f').stages[0]!.redirections).toEqual([
      { fd: 2, kind: 'write', path: 'f' },
    ]);
  });

  it("reads '&> f' and '&>> f' as bash does: stdout to f, then 2>&1", () => {
    for (const [input, kind] of [
      ['a &> f', 'write'],
      ['a &>>f', 'append'],
    ] as const) {
      expect(parsePipelineString(input).stages[0]!.redirections).toEqual([
        { fd: 1, kind, path: 'f' },
        { fd: 2, kind: 'dup', target: 1 },
      ]);
    }
    expect(parsePipelineArgv(['a', '&>', 'f']).stages[0]!.redirections).toHaveLength(2);
  });

  it.each([
    ['', /empty pipeline/],
    ['# just a comment', /empty pipeline/],
    ['a\nb', /newline outside quotes \(at character 2\) separates commands, like ';'/],
    ['a > \n f', /newline outside quotes/],
    ['a 2>&-', /closing or moving a descriptor/],
    ['a >& f', /'>& FILE' at character 3 is not supported: write '&> FILE'/],
    ['a 2>&1-', /closing or moving a descriptor/],
    ['a 2>& -', /closing a descriptor/],
    ['a 2>&1x', /must end the word/],
    ["a $'x'", /quoting form '\$''/],
    ['a "$(b)"', /command substitution/],
    ['a "`b`"', /command substitution/],
    ['a b$(c)', /command substitution/],
    ['   ', /empty pipeline/],
    ['a | | b', /stage 2 has no command/],
    ['a |', /stage 2 has no command/],
    ['| a', /stage 1 has no command/],
    ['> out', /stage 1 has redirections but no command/],
    ['a >', /needs a file name/],
    ['a 2>&', /needs a descriptor number/],
    ["a 'open", /unterminated single quote/],
    ['a "open', /unterminated double quote/],
    ['a ; b', /sequencing/],
    ['a && b', /'&&' is not supported/],
    ['a & ', /already runs the pipeline in the background/],
    ['a << EOF', /here-documents/],
    ['a |& b', /2>&1 \|/],
    ['a $(b)', /command substitution/],
    ['a `b`', /command substitution/],
    ['a 99999>x', /out of range: use 0 to 1023/],
    ['a \\', /trailing backslash/],
  ])('rejects %j with a clear message', (input, message) => {
    expect(syntaxError(() => parsePipelineString(input)).message).toMatch(message);
  });
});

describe('parsePipelineArgv', () => {
  it('splits on exact operator tokens only', () => {
    const p = parsePipelineArgv([
      'ffmpeg',
      '-vf',
      'scale=1280:-2',
      '-f',
      'yuv4mpegpipe',
      '-',
      '|',
      'aomenc',
      '-o',
      'a|b.ivf',
      '-',
      '2>',
      'enc.log',
    ]);
    expect(p.stages.map((s) => s.argv)).toEqual([
      ['ffmpeg', '-vf', 'scale=1280:-2', '-f', 'yuv4mpegpipe', '-'],
      ['aomenc', '-o', 'a|b.ivf', '-'],
    ]);
    expect(p.stages[1]!.redirections).toEqual([{ fd: 2, kind: 'write', path: 'enc.log' }]);
  });

  it('rejects shell control operators and dangling redirections', () => {
    expect(syntaxError(() => parsePipelineArgv(['a', ';', 'b'])).message).toMatch(/argument 2/);
    expect(syntaxError(() => parsePipelineArgv(['a', '>'])).message).toMatch(/needs a file name/);
    expect(syntaxError(() => parsePipelineArgv([])).message).toMatch(/empty pipeline/);
  });
});

describe('properties', () => {
  it('never crashes: any string parses or throws a PipelineSyntaxError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        try {
          const p = parsePipelineString(input);
          for (const s of p.stages) expect(s.argv.length).toBeGreaterThan(0);
        } catch (err) {
          if (!PipelineSyntaxError.is(err)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips single-quoted words through the string form', () => {
    const word = fc.string({ minLength: 1, maxLength: 12 }).filter((w) => !w.includes("'"));
    const stages = fc.array(fc.array(word, { minLength: 1, maxLength: 5 }), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(stages, (argvs) => {
        const text = argvs.map((a) => a.map((w) => `'${w}'`).join(' ')).join(' | ');
        expect(parsePipelineString(text).stages.map((s) => s.argv)).toEqual(argvs);
        // In argv form a token made only of operator characters is an operator.
        const plain = argvs.map((a) => a.filter((w) => !/^[\d<>&|;()`]+$/.test(w)));
        if (plain.some((a) => a.length === 0)) return;
        const flat = plain.flatMap((a, k) => (k ? ['|', ...a] : a));
        expect(parsePipelineArgv(flat).stages.map((s) => s.argv)).toEqual(plain);
      }),
    );
  });

  it('accepts every fd number up to MAX_FD and none above', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_FD * 4 }), (fd) => {
        const run = () => parsePipelineString(`cat ${fd}> f`);
        if (fd <= MAX_FD) expect(run().stages[0]!.redirections[0]).toMatchObject({ fd });
        else expect(syntaxError(run).message).toMatch(/out of range/);
      }),
    );
  });
});

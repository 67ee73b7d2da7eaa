import { MAX_FD } from '@cryopipe/spawn';

/**
 * The pipeline language of `cryopipe run`: words, `|`, and redirections —
 * parsed without a shell, so nothing is expanded, globbed or executed.
 *
 *   word        plain characters; 'single quotes' are literal;
 *               "double quotes" honour \" \\ and \$ only; a backslash
 *               outside quotes escapes the next character
 *   |           pipes the previous stage's stdout into the next one's stdin
 *   < FILE      stdin from FILE            N< FILE   fd N from FILE
 *   > FILE      stdout to FILE (truncate)  N> FILE   fd N to FILE
 *   >> FILE     stdout appended to FILE    N>> FILE  fd N appended
 *   2>&1        fd 2 onto what fd 1 is     N>&M      fd N onto fd M
 *
 * Anything else a shell would treat specially (`;`, `&`, `&&`, `||`, `<<`,
 * `$(…)`, backquotes, globs) is either rejected with a clear error or, for
 * `$`, `*`, `?` and `~`, kept literally.
 */

export type Redirection =
  | { fd: number; kind: 'read' | 'write' | 'append'; path: string }
  | { fd: number; kind: 'dup'; target: number };

export interface StageSyntax {
  argv: string[];
  redirections: Redirection[];
}

export interface PipelineSyntax {
  stages: StageSyntax[];
}

/** A malformed pipeline; `position` is a character offset, or a token index for argv input. */
const brand = Symbol.for('cryopipe.PipelineSyntaxError');
export class PipelineSyntaxError extends Error {
  readonly [brand] = true;
  override readonly name = 'PipelineSyntaxError';
  readonly code = 'PIPELINE_SYNTAX';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
  static is(value: unknown): value is PipelineSyntaxError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

type Token =
  | { type: 'word'; value: string; pos: number }
  | { type: 'op'; value: string; pos: number };

const OPERATOR = /^\d*(?:[<>]&\d*|>>|[<>])$|^\|$/;
const UNSUPPORTED = new Map<string, string>(
  Object.entries({
    ';': "';' (sequencing) is not supported: run one pipeline per job",
    '&': "'&' is not needed: `cryopipe run` already runs the pipeline in the background",
    '&&': "'&&' is not supported: run one pipeline per job",
    '||': "'||' is not supported: run one pipeline per job",
    '<>': "'<>' (open for reading and writing) is not supported: use '<' for input or '>' for output",
    '>|': "'>|' is not needed: nothing sets noclobber here, so write '>'",
    '<<': "here-documents ('<<') are not supported: put the input in a file and use '< FILE'",
    '|&': "'|&' is not supported: write '2>&1 |' instead",
    '(': 'subshells are not supported: wrap the commands in a script and run that',
    ')': 'subshells are not supported: wrap the commands in a script and run that',
    '`': 'command substitution is not supported: nothing is expanded; compute the value first',
  }),
);

/** The operator starting `rest`, if any: a redirection (with its fd numbers glued on) or a control operator. */
function operatorAt(rest: string): string | undefined {
  const redirection = /^\d*(?:<>|>\||[<>]&\d*|<<|>>|[<>])/.exec(rest);
  if (redirection) return redirection[0];
  return /^(?:\|\||\|&|&&|[|&;()`])/.exec(rest)?.[0];
}

/** Splits a pipeline string into words and operators, honouring quotes. */
function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const start = i;
    const rest = input.slice(i);
    const op = operatorAt(rest);
    if (op !== undefined) {
      const problem = UNSUPPORTED.get(op.replace(/^\d+/, ''));
      if (problem) throw new PipelineSyntaxError(`${problem} (at character ${start + 1})`, start);
      tokens.push({ type: 'op', value: op, pos: start });
      i += op.length;
      continue;
    }
    if (rest.startsWith('$(')) {
      throw new PipelineSyntaxError(
        `command substitution '$(' is not supported: nothing is expanded (at character ${i + 1})`,
        i,
      );
    }
    // A word: runs until unquoted whitespace or an operator character.
    let word = '';
    while (i < n) {
      const ch = input[i]!;
      if (ch === ' ' || ch === '\t' || ch === '\n' || '|&;<>()`'.includes(ch)) break;
      if (ch === "'") {
        const end = input.indexOf("'", i + 1);
        if (end < 0)
          throw new PipelineSyntaxError(`unterminated single quote at character ${i + 1}`, i);
        word += input.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '"') {
        let j = i + 1;
        for (;;) {
          if (j >= n)
            throw new PipelineSyntaxError(`unterminated double quote at character ${i + 1}`, i);
          const d = input[j]!;
          if (d === '"') break;
          if (d === '\\' && j + 1 < n && '"\\$'.includes(input[j + 1]!)) {
            word += input[j + 1];
            j += 2;
          } else {
            word += d;
            j++;
          }
        }
        i = j + 1;
      } else if (ch === '\\') {
        if (i + 1 >= n) throw new PipelineSyntaxError(`a trailing backslash escapes nothing`, i);
        word += input[i + 1];
        i += 2;
      } else {
        word += ch;
        i++;
      }
    }
    tokens.push({ type: 'word', value: word, pos: start });
  }
  return tokens;
}

/** Parses one pipeline string, e.g. `ffmpeg -i in.mkv -f yuv4mpegpipe - | aomenc - -o out.ivf 2> enc.log`. */
export function parsePipelineString(input: string): PipelineSyntax {
  return build(tokenize(input), (t) => `at character ${t.pos + 1}`);
}

/**
 * Parses an already split command line, as after `cryopipe run --`: a token
 * is an operator only when it is exactly one (`|`, `>`, `2>&1`, …), so
 * arguments such as `-vf scale=1280:-2` pass through untouched.
 */
export function parsePipelineArgv(argv: readonly string[]): PipelineSyntax {
  const tokens: Token[] = argv.map((value, pos) => {
    if (OPERATOR.test(value)) return { type: 'op', value, pos };
    const problem = UNSUPPORTED.get(value.replace(/^\d+(?=[<>])/, ''));
    if (problem) throw new PipelineSyntaxError(`${problem} (argument ${pos + 1})`, pos);
    return { type: 'word', value, pos };
  });
  return build(tokens, (t) => `at argument ${t.pos + 1}`);
}

function fdNumber(text: string, fallback: number, where: string, pos: number): number {
  if (text === '') return fallback;
  const fd = Number(text);
  if (!Number.isSafeInteger(fd) || fd > MAX_FD) {
    throw new PipelineSyntaxError(
      `descriptor number ${text} ${where} is out of range: use 0 to ${MAX_FD}`,
      pos,
    );
  }
  return fd;
}

function build(tokens: Token[], where: (t: Token) => string): PipelineSyntax {
  if (tokens.length === 0) {
    throw new PipelineSyntaxError('empty pipeline: give at least one command', 0);
  }
  const stages: StageSyntax[] = [];
  let current: StageSyntax = { argv: [], redirections: [] };
  const finish = (t: Token | undefined) => {
    if (current.argv.length === 0) {
      const at = t ? ` ${where(t)}` : '';
      const what = current.redirections.length ? 'redirections but no command' : 'no command';
      throw new PipelineSyntaxError(
        `stage ${stages.length + 1} has ${what}${at}: every '|' needs a command on both sides`,
        t?.pos ?? 0,
      );
    }
    stages.push(current);
    current = { argv: [], redirections: [] };
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.type === 'word') {
      current.argv.push(t.value);
      continue;
    }
    if (t.value === '|') {
      finish(t);
      continue;
    }
    const m = /^(\d*)(>>|>&|<&|>|<)(\d*)$/.exec(t.value);
    if (!m) throw new PipelineSyntaxError(`unknown operator '${t.value}' ${where(t)}`, t.pos);
    const [, fdText = '', op = '', glued = ''] = m;
    const isInput = op.startsWith('<');
    const fd = fdNumber(fdText, isInput ? 0 : 1, where(t), t.pos);
    if (op === '>&' || op === '<&') {
      let targetText = glued;
      if (targetText === '') {
        const next = tokens[k + 1];
        if (next?.type !== 'word' || !/^\d+$/.test(next.value)) {
          throw new PipelineSyntaxError(
            `'${t.value}' ${where(t)} needs a descriptor number, as in 2>&1`,
            t.pos,
          );
        }
        targetText = next.value;
        k++;
      }
      const target = fdNumber(targetText, 1, where(t), t.pos);
      current.redirections.push({ fd, kind: 'dup', target });
      continue;
    }
    if (glued !== '') {
      throw new PipelineSyntaxError(`unexpected '${glued}' after '${op}' ${where(t)}`, t.pos);
    }
    const next = tokens[k + 1];
    if (next?.type !== 'word' || next.value === '') {
      throw new PipelineSyntaxError(`'${t.value}' ${where(t)} needs a file name after it`, t.pos);
    }
    k++;
    const kind = op === '<' ? 'read' : op === '>>' ? 'append' : 'write';
    current.redirections.push({ fd, kind, path: next.value });
  }
  finish(tokens.at(-1));
  return { stages };
}

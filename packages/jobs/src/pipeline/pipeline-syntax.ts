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

/** One redirection of a stage, as parsed: `N< path`, `N> path`, `N>> path` or `N>&M`. */
export type Redirection =
  | {
      /** The descriptor redirected. */
      fd: number;
      /** `<` read, `>` write (truncate), `>>` append. */
      kind: 'read' | 'write' | 'append';
      /** The file, as written in the pipeline. */
      path: string;
    }
  | {
      /** The descriptor redirected. */
      fd: number;
      /** `N>&M`: a duplicate of another descriptor. */
      kind: 'dup';
      /** The descriptor duplicated. */
      target: number;
    };

/** One stage of a parsed pipeline. */
export interface StageSyntax {
  /** The command and its arguments, quotes removed. */
  argv: string[];
  /** The stage's redirections, in the order written. */
  redirections: Redirection[];
}

/** A pipeline parsed from shell-like text (`a | b > out`). */
export interface PipelineSyntax {
  /** The stages, in pipeline order. */
  stages: StageSyntax[];
}

const brand = Symbol.for('cryopipe.PipelineSyntaxError');
/** A malformed pipeline; `position` is a character offset, or a token index for argv input. */
export class PipelineSyntaxError extends Error {
  /** Brand that `is()` checks, so errors are recognised across duplicate package copies. @internal */
  readonly [brand] = true;
  /** Always 'PipelineSyntaxError'. */
  override readonly name = 'PipelineSyntaxError';
  /** Always 'PIPELINE_SYNTAX'. */
  readonly code = 'PIPELINE_SYNTAX';
  constructor(
    message: string,
    /** Where the problem is: a 0-based character offset in the text, or a token index for argv input. */
    readonly position: number,
  ) {
    super(message);
  }
  /** True when `value` is a PipelineSyntaxError (also from another copy of this package). */
  static is(value: unknown): value is PipelineSyntaxError {
    return typeof value === 'object' && value !== null && brand in value;
  }
}

type Token =
  | { type: 'word'; value: string; pos: number }
  | { type: 'op'; value: string; pos: number }
  /** An unquoted newline: bash's command separator. */
  | { type: 'newline'; value: '\n'; pos: number };

const OPERATOR = /^\d*(?:[<>]&\d*|>>|[<>])$|^\|$|^&>>?$/;
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

/** The operator starting at `i`, if any: a redirection (with its fd numbers glued on) or a control operator. */
function operatorAt(text: string, i: number): string | undefined {
  const rest = text.slice(i, i + 32);
  const redirection = /^\d*(?:<>|>\||[<>]&\d*|<<|>>|[<>])/.exec(rest);
  if (redirection) return redirection[0];
  return /^(?:\|\||\|&|&>>|&>|&&|[|&;()`])/.exec(rest)?.[0];
}

/** Characters that end a word outside quotes (and after which a new word starts). */
const BREAK = ' \t\n|&;<>()`';

/**
 * Removes every backslash-newline outside single quotes and outside
 * comments, as bash does before it splits words (line continuation; also
 * inside double quotes). `origin[k]` is the input offset of output char k,
 * so errors can point into what the user typed.
 */
function joinContinuations(input: string): { text: string; origin: number[] } {
  let text = '';
  const origin: number[] = [];
  const emit = (from: number, to: number) => {
    for (let k = from; k < to; k++) origin.push(k);
    text += input.slice(from, to);
  };
  const n = input.length;
  let wordStart = true;
  let i = 0;
  while (i < n) {
    const c = input[i]!;
    if (c === '\\') {
      // A backslash-newline vanishes; any other escape is kept for the tokenizer.
      if (input[i + 1] !== '\n') {
        emit(i, Math.min(i + 2, n));
        wordStart = false;
      }
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      const stop = end < 0 ? n : end + 1;
      emit(i, stop);
      i = stop;
      wordStart = false;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      emit(i, j);
      while (j < n && input[j] !== '"') {
        if (input[j] === '\\' && input[j + 1] === '\n') j += 2;
        else {
          const step = input[j] === '\\' ? Math.min(2, n - j) : 1;
          emit(j, j + step);
          j += step;
        }
      }
      emit(j, Math.min(j + 1, n));
      i = j + 1;
      wordStart = false;
      continue;
    }
    if (c === '#' && wordStart) {
      // A comment runs to the end of the line; a backslash does not continue it.
      const end = input.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      emit(i, stop);
      i = stop;
      continue;
    }
    emit(i, i + 1);
    wordStart = BREAK.includes(c);
    i++;
  }
  return { text, origin };
}

/** Splits a pipeline string into words, operators and newlines, honouring quotes and comments. */
function tokenize(input: string): Token[] {
  const { text, origin } = joinContinuations(input);
  const at = (k: number) => origin[k] ?? input.length;
  const fail = (message: string, k: number): never => {
    throw new PipelineSyntaxError(`${message} (at character ${at(k) + 1})`, at(k));
  };
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\n') {
      tokens.push({ type: 'newline', value: '\n', pos: at(i) });
      i++;
      continue;
    }
    if (c === '#') {
      // bash's rule: '#' starting a word begins a comment that runs to the end of the line.
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end;
      continue;
    }
    const start = i;
    const op = operatorAt(text, i);
    if (op !== undefined) {
      const problem = UNSUPPORTED.get(op.replace(/^\d+/, ''));
      if (problem) fail(problem, start);
      if (/[<>]&\d*$/.test(op)) {
        const next = text[i + op.length];
        if (next === '-')
          fail(
            `closing or moving a descriptor ('${op}-') is not supported: every stage keeps fds 0, 1 and 2`,
            start,
          );
        if (/\d$/.test(op) && next !== undefined && !BREAK.includes(next))
          fail(`in '${op}${next}…' the descriptor number after '&' must end the word`, start);
      }
      tokens.push({ type: 'op', value: op, pos: at(start) });
      i += op.length;
      continue;
    }
    // A word: runs until unquoted whitespace or an operator character.
    let word = '';
    while (i < n) {
      const ch = text[i]!;
      if (BREAK.includes(ch)) break;
      if (ch === '$' && '("\''.includes(text[i + 1] ?? '')) {
        const what =
          text[i + 1] === '(' ? "command substitution '$('" : `the quoting form '$${text[i + 1]}'`;
        fail(`${what} is not supported: nothing is expanded`, i);
      }
      if (ch === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) fail('unterminated single quote', i);
        word += text.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '"') {
        let j = i + 1;
        for (;;) {
          if (j >= n) fail('unterminated double quote', i);
          const d = text[j]!;
          if (d === '"') break;
          if (d === '`' || (d === '$' && text[j + 1] === '(')) {
            fail('command substitution is not supported, even in double quotes', j);
          }
          if (d === '\\' && j + 1 < n && '"\\$`'.includes(text[j + 1]!)) {
            word += text[j + 1];
            j += 2;
          } else {
            word += d;
            j++;
          }
        }
        i = j + 1;
      } else if (ch === '\\') {
        if (i + 1 >= n) fail('a trailing backslash escapes nothing', i);
        word += text[i + 1];
        i += 2;
      } else {
        word += ch;
        i++;
      }
    }
    tokens.push({ type: 'word', value: word, pos: at(start) });
  }
  return withoutNewlines(tokens);
}

/**
 * bash reads a newline as a command separator, except right after '|'
 * (the pipeline goes on) and on empty lines. One pipeline per job: a newline
 * that would start a second command is refused, like ';'.
 */
function withoutNewlines(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (const [k, t] of tokens.entries()) {
    if (t.type !== 'newline') {
      out.push(t);
      continue;
    }
    const before = out.at(-1);
    const after = tokens.slice(k + 1).find((u) => u.type !== 'newline');
    if (before === undefined || after === undefined) continue;
    if (before.type === 'op' && before.value === '|') continue;
    throw new PipelineSyntaxError(
      `a newline outside quotes (at character ${t.pos + 1}) separates commands, like ';': that is not supported; run one pipeline per job (a newline right after '|' is fine, and a backslash at the end of a line continues it)`,
      t.pos,
    );
  }
  return out;
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
    if (t.value === '&>' || t.value === '&>>') {
      // bash's '&> FILE' is '> FILE 2>&1' ('&>> FILE': '>> FILE 2>&1').
      const path = fileAfter(tokens, k, where);
      k++;
      current.redirections.push(
        { fd: 1, kind: t.value === '&>' ? 'write' : 'append', path },
        { fd: 2, kind: 'dup', target: 1 },
      );
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
        if (next?.type === 'word' && next.value === '-') {
          throw new PipelineSyntaxError(
            `closing a descriptor ('${t.value}-') is not supported ${where(t)}: every stage gets fds 0, 1 and 2`,
            t.pos,
          );
        }
        if (op === '>&' && fdText === '' && next?.type === 'word' && !/^\d+-?$/.test(next.value)) {
          // bash reads '>& FILE' as '&> FILE', but unquotes FILE twice: refused, not imitated.
          throw new PipelineSyntaxError(
            `'>& FILE' ${where(t)} is not supported: write '&> FILE' (or '> FILE 2>&1')`,
            t.pos,
          );
        }
        if (next?.type !== 'word' || !/^\d+$/.test(next.value)) {
          throw new PipelineSyntaxError(
            `'${t.value}' ${where(t)} needs a descriptor number, as in 2>&1${next?.type === 'word' && /^\d+-$/.test(next.value) ? " (moving a descriptor with 'N>&M-' is not supported)" : ''}`,
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
    const path = fileAfter(tokens, k, where);
    k++;
    const kind = op === '<' ? 'read' : op === '>>' ? 'append' : 'write';
    current.redirections.push({ fd, kind, path });
  }
  finish(tokens.at(-1));
  return { stages };
}

/** The file name after the redirection at `tokens[k]`. */
function fileAfter(tokens: Token[], k: number, where: (t: Token) => string): string {
  const t = tokens[k]!;
  const next = tokens[k + 1];
  if (next?.type !== 'word' || next.value === '') {
    throw new PipelineSyntaxError(`'${t.value}' ${where(t)} needs a file name after it`, t.pos);
  }
  return next.value;
}

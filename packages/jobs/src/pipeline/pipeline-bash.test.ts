// RELIABILITY row 16: pipeline strings mean what they mean to bash.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, describeWith } from '@cryopipe/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobStore } from '../store/job-store.ts';
import { waitForJob } from '../store/wait-job.ts';
import { startJob } from './start-job.ts';

/**
 * The probe every generated stage runs: it writes its argv and, for fds
 * 0..9, what each is (readlink of /proc/self/fd/N) and how it is open, into
 * $PROBE_DIR/<argv[1]>, NUL-separated so any argument byte survives.
 */
const PROBE_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  static char out[65536];
  size_t len = 0;
  for (int a = 0; a < argc; a++) len += (size_t)snprintf(out + len, sizeof out - len, "arg%c%s%c", 0, argv[a], 0);
  for (int fd = 0; fd < 10; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) continue;
    char path[32], link[4096];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    int acc = flags & O_ACCMODE;
    const char *mode = acc == O_RDONLY ? "r" : acc == O_WRONLY ? "w" : "rw";
    len += (size_t)snprintf(out + len, sizeof out - len, "fd%c%d%c%s%s%c%s%c", 0, fd, 0, mode,
                            (flags & O_APPEND) ? "+append" : "", 0, link, 0);
  }
  char report[4096];
  snprintf(report, sizeof report, "%s/%s", getenv("PROBE_DIR"), argv[1]);
  int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, out, len) != (ssize_t)len) return 3;
  return 0;
}
`;

/** Files present before each run: reads only name these, so bash and cryopipe both can open them. */
const EXISTING = ['in', 'sp ace', "it's"];
const NEW = ['out', 'a "b"', '#x'];

/** One argument/file name as a bash word, in one of several quoting styles per piece. */
const SAFE = /^[A-Za-z0-9._/:@%+=,-]+$/;
const styles = fc.constantFrom('single', 'double', 'escape', 'plain');
function render(value: string, pieceStyles: string[], breaks: boolean[]): string {
  if (value === '') return pieceStyles[0] === 'double' ? '""' : "''";
  const cut = Math.max(1, Math.ceil(value.length / pieceStyles.length));
  const pieces: string[] = [];
  for (let k = 0; k * cut < value.length; k++) {
    const piece = value.slice(k * cut, (k + 1) * cut);
    const style = pieceStyles[k] ?? 'escape';
    let text: string;
    if (style === 'single' && !piece.includes("'")) text = `'${piece}'`;
    else if (style === 'double') text = `"${piece.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
    else if (style === 'plain' && SAFE.test(piece)) text = piece;
    else text = [...piece].map((c) => (c === '\n' ? "'\n'" : SAFE.test(c) ? c : `\\${c}`)).join('');
    // A line continuation between two pieces of one word: bash removes it.
    pieces.push(k > 0 && breaks[k] ? `\\\n${text}` : text);
  }
  return pieces.join('');
}

const CHARS = [...'aZ09-._ \t\n|&;<>()$*?[]#~{},=\'"\\`!%'];
const word = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 8 }),
    fc.array(styles, { minLength: 1, maxLength: 3 }),
    fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  )
  .map(([value, s, b]) => ({ value, text: render(value, s, b) }));
const fileName = (names: string[]) =>
  fc
    .tuple(
      fc.constantFrom(...names),
      fc.array(styles, { minLength: 1, maxLength: 2 }),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    )
    .map(([value, s, b]) => render(value, s, b));

const fdText = fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined });
const gap = fc.constantFrom('', ' ');
/** A redirection; dups name an fd index resolved later against the fds open at that point. */
type Item =
  | { word: string }
  | { redir: string; opens?: number }
  | { dup: string; fd: number; pick: number };
const redirection: fc.Arbitrary<Item> = fc.oneof(
  fc
    .tuple(fdText, fc.constantFrom('<'), gap, fileName(EXISTING))
    .map(([fd, op, g, f]) => ({ redir: `${fd ?? ''}${op}${g}${f}`, opens: fd ?? 0 })),
  fc
    .tuple(fdText, fc.constantFrom('>', '>>'), gap, fileName([...EXISTING, ...NEW]))
    .map(([fd, op, g, f]) => ({ redir: `${fd ?? ''}${op}${g}${f}`, opens: fd ?? 1 })),
  fc
    .tuple(fc.constantFrom('&>', '&>>'), gap, fileName([...EXISTING, ...NEW]))
    .map(([op, g, f]) => ({ redir: `${op}${g}${f}` })),
  fc.tuple(fdText, fc.constantFrom('>&', '<&'), gap, fc.nat()).map(([fd, op, g, pick]) => ({
    dup: `${fd ?? ''}${op}${g}`,
    fd: fd ?? (op === '>&' ? 1 : 0),
    pick,
  })),
);

/** Items in order; a dup copies an fd that is open at that point, as a valid bash line must. */
function renderStage(tag: string, probe: string, items: Item[], continuations: boolean[]): string {
  const open = new Set([0, 1, 2]);
  const parts: string[] = [];
  const words = [probe, tag];
  items.forEach((item, k) => {
    let text: string;
    if ('word' in item) text = item.word;
    else if ('redir' in item) {
      text = item.redir;
      if (item.opens !== undefined) open.add(item.opens);
    } else {
      const fds = [...open];
      text = `${item.dup}${fds[item.pick % fds.length]}`;
      open.add(item.fd);
    }
    parts.push(continuations[k] ? `\\\n${text}` : text);
  });
  return [...words, ...parts].join(' ');
}

const stage = fc.tuple(
  fc.array(
    fc.oneof(
      word.map((w): Item => ({ word: w.text })),
      redirection,
    ),
    { maxLength: 5 },
  ),
  fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
);
const pipeline = fc.tuple(
  fc.array(stage, { minLength: 1, maxLength: 3 }),
  fc.array(fc.constantFrom(' | ', '|', ' |\n  ', ' | \\\n', '| # note\n'), {
    minLength: 2,
    maxLength: 2,
  }),
  fc.constantFrom('', '\n', ' # the end', ' #x\n'),
);

interface Report {
  argv: string[];
  fds: Record<number, string>;
}

function readReports(dir: string, stages: number): Report[] {
  return Array.from({ length: stages }, (_, i) => {
    const fields = readFileSync(join(dir, `s${i}`), 'latin1').split('\0');
    const report: Report = { argv: [], fds: {} };
    for (let k = 0; k < fields.length - 1; ) {
      if (fields[k] === 'arg') {
        report.argv.push(fields[k + 1]!);
        k += 2;
      } else {
        report.fds[Number(fields[k + 1])] = `${fields[k + 2]} ${fields[k + 3]}`;
        k += 4;
      }
    }
    return report;
  });
}

/** Pipe inodes become pipe#1, pipe#2… in order of appearance; run-specific paths become names. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `mode path` where path is exactly `path` (or, with a suffix, starts with `path` + suffix). */
const exact = (path: string, prefix?: string) =>
  new RegExp(`^(\\S+) ${literally(path)}${prefix ? literally(prefix) : '$'}`);

function normalize(reports: Report[], names: [RegExp, string][]): Report[] {
  const pipes = new Map<string, string>();
  return reports.map((r) => ({
    argv: r.argv,
    fds: Object.fromEntries(
      Object.entries(r.fds).map(([fd, what]) => {
        let text = what.replace(/pipe:\[(\d+)\]/, (_, inode: string) => {
          if (!pipes.has(inode)) pipes.set(inode, `pipe#${pipes.size + 1}`);
          return pipes.get(inode)!;
        });
        for (const [from, to] of names)
          text = text.replace(from, (_, mode: string) => `${mode} ${to}`);
        return [fd, text];
      }),
    ),
  }));
}

function filesIn(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => {
        const st = statSync(join(dir, name));
        return [name, `${st.size} bytes, mode ${(st.mode & 0o777).toString(8)}`];
      }),
  );
}

function prepare(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'cwd'), { recursive: true });
  mkdirSync(join(dir, 'reports'));
  for (const name of EXISTING) writeFileSync(join(dir, 'cwd', name), `old ${name}\n`);
}

describeWith([binary('bash'), binary('cc')], 'pipeline strings against bash -c', () => {
  let root: string;
  let probe: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'cryopipe-bash-'));
    writeFileSync(join(root, 'probe.c'), PROBE_C);
    probe = join(root, 'probe');
    execFileSync('cc', ['-O1', '-o', probe, join(root, 'probe.c')]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives every stage the argv, descriptors and files bash gives it', async () => {
    const store = new JobStore(join(root, 'home'));
    await fc.assert(
      fc.asyncProperty(pipeline, async ([stages, separators, ending]) => {
        const text =
          stages
            .map(([items, cont], i) => renderStage(`s${i}`, probe, items, cont))
            .reduce((acc, s, i) => `${acc}${separators[i - 1] ?? ' | '}${s}`) + ending;
        const bashDir = join(root, 'bash');
        const oursDir = join(root, 'ours');
        prepare(bashDir);
        prepare(oursDir);

        const stdout = openSync(join(bashDir, 'stdout'), 'w');
        const stderr = openSync(join(bashDir, 'stderr'), 'w');
        const bash = spawnSync('bash', ['-c', text], {
          cwd: join(bashDir, 'cwd'),
          env: { ...process.env, PROBE_DIR: join(bashDir, 'reports') },
          stdio: ['ignore', stdout, stderr],
          timeout: 30_000,
        });
        closeSync(stdout);
        closeSync(stderr);
        expect(bash.status, readFileSync(join(bashDir, 'stderr'), 'utf8')).toBe(0);

        const started = await startJob(store, {
          pipeline: text,
          cwd: join(oursDir, 'cwd'),
          env: { ...process.env, PROBE_DIR: join(oursDir, 'reports') },
          pidNamespace: false,
        });
        const ended = await waitForJob(store, started.job.id, { pollMs: 25 });
        expect(ended.exitCode).toBe(0);
        const logs = store.logsDir(started.job.id);

        const theirs = normalize(readReports(join(bashDir, 'reports'), stages.length), [
          [exact(join(bashDir, 'cwd'), '/'), '<cwd>/'],
          [exact(join(bashDir, 'stdout')), '<stdout>'],
          [exact(join(bashDir, 'stderr')), '<stderr>'],
        ]);
        const ours = normalize(readReports(join(oursDir, 'reports'), stages.length), [
          [exact(join(oursDir, 'cwd'), '/'), '<cwd>/'],
          [exact(join(logs, 'stdout.log')), '<stdout>'],
          [new RegExp(`^(\\S+) ${literally(logs)}/stage-\\d+\\.log$`), '<stderr>'],
        ]);
        expect({ text, reports: ours }).toEqual({ text, reports: theirs });
        expect(filesIn(join(oursDir, 'cwd'))).toEqual(filesIn(join(bashDir, 'cwd')));
        store.remove(started.job.id);
      }),
      { numRuns: 60 },
    );
  }, 300_000);
});

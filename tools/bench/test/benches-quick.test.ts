// Every bench the docs give a command for, run once in its quick mode
// (BENCH_QUICK=1: tiny sizes, one round) so that none can rot: the command
// must resolve on a fresh clone (package, script, tsx as a devDependency,
// file), the script must exit 0, and the table it prints must have every row
// with finite numbers. Nobody reads the numbers here; the benches run
// exactly as documented, only smaller. procfs's scan has its own quick test
// next to it (packages/procfs/bench/scan.bench.test.ts).
//
// Each bench runs with this package's tsx directly, not through pnpm (whose
// start-up alone costs ~0.8 s of CPU): resolveCommand checks that pnpm would
// run the same file.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { binary, criu, describeWith, type Requirement, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { crit } from '../../../packages/criu-client/test/crit.ts';
import {
  type BenchCommand,
  benchDocs,
  commandLines,
  repo,
  resolveCommand,
} from './bench-commands.ts';

/** Settings a bench reads that would make its quick run something else. */
const SIZE_KNOBS = [
  'ROUNDS',
  'SIZES',
  'QUICK',
  'MIB',
  'FRAMES',
  'CHECKPOINTS',
  'EVERY',
  'RUN_BASE',
];

/**
 * Runs `tsx FILE` in `dir` with BENCH_QUICK=1, in its own process group so
 * that a run over its time is killed with everything it started (the
 * benches clean up after themselves when they finish).
 */
function runQuick(
  dir: string,
  file: string,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_QUICK: '1', NO_COLOR: '1' };
  for (const k of SIZE_KNOBS) delete env[k];
  const child = spawn(join(dir, 'node_modules/.bin/tsx'), [file], {
    cwd: dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    stderr += `\n(killed after ${timeoutMs} ms)`;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every finite number in `text` (a leading sign and a decimal part included). */
function numbers(text: string): number[] {
  return [...text.matchAll(/-?\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
}

/** The one line of `out` matching `re`, with its numbers, all finite. */
function row(out: string, re: RegExp): number[] {
  const lines = out.split('\n').filter((l) => re.test(l));
  expect(lines, `one line matching ${re} in:\n${out}`).toHaveLength(1);
  const xs = numbers(lines[0]!);
  expect(xs.length, lines[0]).toBeGreaterThan(0);
  for (const x of xs) expect(Number.isFinite(x), lines[0]).toBe(true);
  return xs;
}

/** A ratio as printed (`1.23×`, `1.23x`, `-> ratio 1.23`), finite and positive. */
function ratioIn(line: string): number {
  const m = line.match(/(\d+\.\d+)\s*[×x](?![a-z])|ratio (\d+\.\d+)/);
  expect(m, `a ratio in: ${line}`).not.toBeNull();
  const r = Number(m![1] ?? m![2]);
  expect(r).toBeGreaterThan(0);
  return r;
}

const lineOf = (out: string, re: RegExp) => out.split('\n').find((l) => re.test(l)) ?? '';

interface QuickBench {
  /** The script, relative to the repository. */
  file: string;
  needs: Requirement[];
  /** Wall time allowed, from the slowest run measured under load, times 3 or more. */
  timeoutMs: number;
  /** Checks the printed table. */
  check(out: string): void;
}

const ffmpeg = binary('ffmpeg');
const svt = binary('SvtAv1EncApp');
const python = binary('python3');
const sshd = binary('sshd');

// Wall time of each quick run, measured here on the 2-core VM while other engineers'
// builds and tests ran (load 5-17; four runs), is next to its timeout: at least 3x the
// slowest. The whole file: 104-137 s.
const benches: QuickBench[] = [
  {
    file: 'packages/spawn/bench/start-latency.ts',
    needs: [root],
    timeoutMs: 60_000, // 4.4-7.1 s
    check(out) {
      expect(out).toMatch(/^\| candidate \| p10 ms \| median ms \| p90 ms \| median vs sh \|$/m);
      const names = [
        'sh -c "true \\| true"',
        'execa true.pipe(true)',
        'cryopipe plain',
        'cryopipe pidns',
        'cryopipe pidns, default output files',
        'cryopipe plain: started',
        'cryopipe pidns: started',
        'cryopipe pidns, default output files: started',
      ];
      for (const name of names) {
        const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const xs = row(out, new RegExp(`^\\| ${esc} \\|`));
        expect(xs.slice(-4).every((x) => x >= 0)).toBe(true);
        ratioIn(lineOf(out, new RegExp(`^\\| ${esc} \\|`)));
      }
      expect(ratioIn(lineOf(out, /^\| sh -c/))).toBe(1);
      row(out, /^\| reference: create one empty file/);
    },
  },
  {
    file: 'packages/criu-client/bench/criu-client.bench.ts',
    needs: [root, criu],
    timeoutMs: 60_000, // 5.0-9.4 s
    check(out) {
      row(out, /^VERSION on an open swrk session: median [\d.]+ ms \(n=20\)$/);
      ratioIn(lineOf(out, /^spawn criu swrk \+ VERSION: median .* \(n=3\) vs `criu --version`/));
      ratioIn(lineOf(out, /^dump --leave-running via client: median .* \(n=2\) vs `criu dump`/));
    },
  },
  {
    file: 'packages/criu-client/bench/images.bench.ts',
    needs: [root, criu, crit],
    timeoutMs: 90_000, // 5.4-12.7 s
    check(out) {
      const [files, , framed] = row(
        out,
        /^checkpoint: .*: \d+ files, .* \(\d+ framed images/,
      ).slice(-4);
      expect(files).toBeGreaterThan(framed!);
      for (const name of [
        'ours: readImages',
        'ours: readCheckpoint',
        'crit: pycriu load of every image',
        'crit: `crit decode` per image',
      ]) {
        const line = lineOf(
          out,
          new RegExp(
            `^${name.replace(/[`]/g, '.')}.*: median [\\d.]+ ms \\(n=1\\) -> [\\d.]+x ours$`,
          ),
        );
        expect(line, `${name} in:\n${out}`).not.toBe('');
        ratioIn(line);
      }
    },
  },
  {
    file: 'tools/bench/src/checkpoint.bench.ts',
    needs: [root, criu, python],
    timeoutMs: 120_000, // 10.3-19.0 s
    check(out) {
      row(out, /^checkpoint of a \d+ MiB job \(leave running\), median of 1:$/);
      ratioIn(lineOf(out, /^ {2}cryopipe checkpoint \(whole command\) [\d.]+ ms {2}vs criu dump/));
      ratioIn(lineOf(out, /^ {2}cryopipe's dump request alone +[\d.]+ ms {2}vs criu dump/));
      ratioIn(lineOf(out, /^ {2}cryopipe restore [\d.]+ ms {2}vs criu restore -d [\d.]+ ms/));
      row(out, /^ {2}cryopipe \d+ MiB\/s {2}vs dd \d+ MiB\/s {2}ratio [\d.]+$/);
    },
  },
  {
    file: 'tools/bench/src/scale.bench.ts',
    needs: [root, criu, python],
    timeoutMs: 120_000, // 19.1-24.0 s
    check(out) {
      expect(out).toMatch(
        /^\| job \| `checkpoint --leave-running` vs `criu dump --leave-running` \|/m,
      );
      const line = lineOf(out, /^\| 32 MiB \|/);
      const cells = line.split('|').slice(2, -1);
      expect(cells, line).toHaveLength(4);
      for (const cell of cells.slice(0, 3)) ratioIn(cell);
      expect(cells[2]).toMatch(/verified by (identity|content)/);
      row(out, /^\| 32 MiB \|/);
    },
  },
  {
    file: 'tools/bench/src/image-hash.bench.ts',
    needs: [],
    timeoutMs: 60_000, // 2.4-3.9 s
    check(out) {
      row(out, /^images: 4 × 4 MiB \+ 100 × 2 KiB \(16 MiB\), 1 rounds, medians$/);
      row(out, /^ {2}sha256, one thread: +\d+ ms \(\d+ MiB\/s\)$/);
      ratioIn(
        lineOf(out, /^ {2}sha256, \d+ worker threads: +\d+ ms \(\d+ MiB\/s\), [\d.]+× faster$/),
      );
      row(out, /^ {2}identity check \(restore path\): [\d.]+ ms for 104 images$/);
    },
  },
  {
    file: 'tools/bench/src/migrate.bench.ts',
    needs: [root, criu, python, sshd],
    timeoutMs: 300_000, // sized from the migrate e2e file: 55 s quiet, 137 s at load 12
    check(out) {
      row(out, /^machine: .*; 1 rounds, candidates alternating$/);
      row(
        out,
        /^link \(veth between two network namespaces\), 32 MiB: plain TCP \d+ MiB\/s, ssh \(.+\) \d+ MiB\/s$/,
      );
      row(
        out,
        /^downtime moving a 16 MiB job A→B, median of 1 \(frozen \/ transfer \/ restore\):$/,
      );
      for (const c of [
        'cryopipe migrate',
        'cryopipe migrate --via-archive',
        'raw criu page-server',
      ])
        row(
          out,
          new RegExp(
            `^ {2}${c.replace(/[-.]/g, '\\$&')} +\\d+ ms {2}\\(\\d+ ms / \\d+ ms / \\d+ ms\\)$`,
          ),
        );
      ratioIn(lineOf(out, /^ {2}migrate vs raw criu: ratio [\d.]+×$/));
    },
  },
  {
    file: 'tools/bench/src/startup.bench.ts',
    needs: [root],
    timeoutMs: 120_000, // 6.8-25.6 s (25.6 at load 16)
    check(out) {
      expect(out).toMatch(/^1 rounds, candidates alternating, medians$/m);
      expect(ratioIn(lineOf(out, /^ {2}node -e '' +\d+ ms/))).toBe(1);
      const commands = [
        'cryopipe --version',
        'cryopipe --help',
        'cryopipe ps \\(3 jobs\\)',
        'cryopipe logs j0',
        'cryopipe wait j0',
        'cryopipe restore --help',
      ];
      for (const c of commands) ratioIn(lineOf(out, new RegExp(`^ {2}${c} +\\d+ ms`)));
      expect(out.match(/^ {4}loads: /gm)).toHaveLength(commands.length);
    },
  },
  {
    file: 'tools/bench/src/live-downtime.bench.ts',
    needs: [root, criu, ffmpeg, svt],
    timeoutMs: 240_000, // 10.2-66.8 s (66.8 at load 16)
    check(out) {
      row(out, /^2 live checkpoints of ffmpeg \| SvtAv1EncApp/);
      row(out, /^ {2}1 {2}job dir +\d+ ms/);
      row(out, /^ {2}2 {2}\/dev\/shm +\d+ ms/);
      row(out, /^downtime per live checkpoint \(CRIU frozen time\): median \d+ ms, max \d+ ms/);
      ratioIn(
        lineOf(
          out,
          /^ {2}images straight to the job dir: median \d+ ms; staged in \/dev\/shm: median \d+ ms/,
        ),
      );
    },
  },
  {
    file: 'tools/bench/src/periodic-throughput.bench.ts',
    needs: [root, criu, ffmpeg, svt],
    timeoutMs: 180_000, // 16.3-32.8 s (32.8 at load 16)
    check(out) {
      row(out, /^ {2}no checkpoints +[\d.]+ frames\/s$/);
      row(out, /^ {2}--checkpoint-every 1s +[\d.]+ frames\/s {2}\(\d+ live checkpoints/);
      row(out, /^ {2}throughput cost -?[\d.]+%/);
      expect(out).toMatch(/^ {2}outputs byte-identical across all runs: yes$/m);
    },
  },
];

/** The bench scripts in the repository (tools/bench/src/*.bench.ts, packages/NAME/bench/*.ts). */
function benchFiles(): string[] {
  const files = readdirSync(join(repo, 'tools/bench/src'))
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => `tools/bench/src/${f}`);
  for (const name of readdirSync(join(repo, 'packages'))) {
    let entries: string[];
    try {
      entries = readdirSync(join(repo, 'packages', name, 'bench'));
    } catch {
      continue;
    }
    for (const f of entries)
      if (f.endsWith('.ts') && !f.endsWith('.test.ts')) files.push(`packages/${name}/bench/${f}`);
  }
  return files.sort();
}

const documented: BenchCommand[] = [];
const problems: string[] = [];
for (const doc of benchDocs())
  for (const line of commandLines(doc)) {
    const resolved = resolveCommand(doc, line);
    if (typeof resolved === 'string') problems.push(resolved);
    else documented.push(resolved);
  }
const fileOf = (c: BenchCommand) => relative(repo, join(c.dir, c.file));

describe('documented bench commands', () => {
  it('all resolve on a fresh clone: package, script, tsx as a devDependency, file', () => {
    expect(problems).toEqual([]);
    expect(documented.length).toBeGreaterThanOrEqual(benches.length);
  });

  it('cover every bench script, and each has a quick run here (or its own quick test)', () => {
    const ownTest = ['packages/procfs/bench/scan.bench.ts'];
    const documentedFiles = [...new Set(documented.map(fileOf))].sort();
    expect(documentedFiles).toEqual(benchFiles());
    expect([...benches.map((b) => b.file), ...ownTest].sort()).toEqual(documentedFiles);
  });

  it('resolve like pnpm would (a broken command is named with its doc)', () => {
    const doc = join(repo, 'BENCHMARKS.md');
    expect(resolveCommand(doc, 'pnpm --filter @cryopipe/nope bench')).toMatch(
      /BENCHMARKS\.md: `pnpm --filter @cryopipe\/nope bench`: no workspace package/,
    );
    expect(resolveCommand(doc, 'pnpm --filter @cryopipe/spawn bench:nope')).toMatch(
      /has no script 'bench:nope'/,
    );
    expect(resolveCommand(doc, 'pnpm --filter @cryopipe/bench exec tsx src/gone.ts')).toMatch(
      /has no file src\/gone\.ts/,
    );
    const images = resolveCommand(
      doc,
      'ROUNDS=3 pnpm --filter @cryopipe/criu-client bench:images -- --quick',
    );
    expect(images).toMatchObject({ file: 'bench/images.bench.ts', args: ['--quick'] });
  });
});

for (const bench of benches) {
  describeWith(bench.needs, `quick run of ${bench.file}`, () => {
    it('exits 0 and prints every row with finite numbers', {
      timeout: bench.timeoutMs,
    }, async () => {
      const command = documented.find((c) => fileOf(c) === bench.file);
      expect(command, `a documented command for ${bench.file}`).toBeDefined();
      const { dir, file } = command!;
      const t0 = performance.now();
      const { code, stdout, stderr } = await runQuick(dir, file, bench.timeoutMs - 5_000);
      console.log(`${bench.file}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(code, `${bench.file} failed:\n${stderr}\n${stdout}`).toBe(0);
      expect(stdout).not.toMatch(/NaN|Infinity/);
      bench.check(stdout);
    });
  });
}

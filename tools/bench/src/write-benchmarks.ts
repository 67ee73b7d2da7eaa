/**
 * `pnpm bench` at the root: runs every benchmark one after the other (never
 * two at once on a 2-core machine) and writes BENCHMARKS.md with the
 * machine, the versions, each exact command and its verbatim output.
 * With BENCH_QUICK=1 every bench runs in its quick mode (tiny sizes, one
 * round) and the document goes to stdout instead: a smoke run of them all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machine } from './measure.ts';

const root = join(import.meta.dirname, '../../..');
const benches: { title: string; filter: string; what: string; script?: string }[] = [
  {
    title: 'Checkpoint and restore: cryopipe against raw criu and dd',
    filter: '@cryopipe/bench',
    what: 'a 200 MiB job started with cryopipe run; dump with leave-running, restore from the same images, image throughput',
  },
  {
    title: 'Cost by job size: cryopipe against raw criu at 256 MiB, 1 GiB and 4 GiB',
    filter: '@cryopipe/bench',
    script: 'src/scale.bench.ts',
    what: 'issue 20: whole commands and frozen time against raw criu as the job grows, the disk (dd with fsync / direct reads) as the limit; QUICK=1 for 64 and 128 MiB. After each cryopipe checkpoint the benchmark waits, untimed, for the background sealer (the content hashes) so it never competes with the next candidate, and prints how long sealing took',
  },
  {
    title: 'Image hashing: one thread against worker threads, and the identity check',
    filter: '@cryopipe/bench',
    script: 'src/image-hash.bench.ts',
    what: '4 × 128 MiB + 100 small images from the page cache; what a restore pays instead when the images are unchanged',
  },
  {
    title: 'Start-up cost per command',
    filter: '@cryopipe/bench',
    script: 'src/startup.bench.ts',
    what: "`node -e ''` against `cryopipe --version`, `--help`, `ps` with 10 jobs, `logs`, `wait` and `restore --help` (what every engine command loads before it works), and the packages each loads (target: `ps` ≤ 2× `node -e ''`)",
  },
  {
    title: 'Downtime per live checkpoint of the SVT-AV1 encode',
    filter: '@cryopipe/bench',
    script: 'src/live-downtime.bench.ts',
    what: 'ffmpeg | SvtAv1EncApp started with cryopipe run, `cryopipe checkpoint --leave-running` every 3 s; CRIU frozen time and where it goes (target ≤ 0.5 s)',
  },
  {
    title: 'Encode throughput with a checkpoint every 60 s',
    filter: '@cryopipe/bench',
    script: 'src/periodic-throughput.bench.ts',
    what: 'the same SVT-AV1 encode to the end, plain against `cryopipe run --checkpoint-every 60s`, back to back (target < 2%)',
  },
  {
    title: 'Moving a running job to another machine: migrate against the archive path and raw criu',
    filter: '@cryopipe/bench',
    script: 'src/migrate.bench.ts',
    what: 'issue 19: 200 MiB and 1 GiB jobs moved between two network namespaces on a veth (one sshd each): `cryopipe migrate` (page server through the ssh connection), `--via-archive`, and raw criu page-server migration over plain TCP; the link measured in the same run (targets: ≤ 1.5 s, ≤ 1.2× raw criu)',
  },
  {
    title: '@cryopipe/procfs: full /proc scan',
    filter: '@cryopipe/procfs',
    what: 'stat + every descriptor of every process, against @stroncium/procfs',
  },
  {
    title: '@cryopipe/spawn: pipeline start latency',
    filter: '@cryopipe/spawn',
    what: 'a two-stage pipeline, against sh -c and execa',
  },
  {
    title: '@cryopipe/criu-client: RPC',
    filter: '@cryopipe/criu-client',
    what: 'a request on an open session; spawn + VERSION against criu --version; dump against criu dump',
  },
];

/**
 * What a run's numbers mean (the bounds, what was tried) is written by
 * hand in tools/bench/notes/<bench>.md and kept under its section, so a new
 * run replaces the numbers without losing the analysis. Notes quote the
 * run they were written from; a rerun that changes the picture needs them
 * revised.
 */
function notes(b: { filter: string; script?: string }): string {
  const name = b.script
    ? b.script.replace(/^src\//, '').replace(/\.bench\.ts$/, '')
    : b.filter === '@cryopipe/bench'
      ? 'checkpoint' // the package's default bench: src/checkpoint.bench.ts
      : b.filter.replace(/^@cryopipe\//, '');
  const path = join(import.meta.dirname, '../notes', `${name}.md`);
  return existsSync(path) ? `\n${readFileSync(path, 'utf8').trim()}\n` : '';
}

/** The commit measured, so numbers can be matched to code (`+dirty` with local changes). */
function commit(): string {
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  return git('status', '--porcelain', '--untracked-files=no') ? `${head}+dirty` : head;
}

const sections: string[] = [];
for (const b of benches) {
  const args = b.script ? ['exec', 'tsx', b.script] : ['bench'];
  const cmd = `pnpm --filter ${b.filter} ${args.join(' ')}`;
  process.stderr.write(`[bench] ${cmd}\n`);
  const r = spawnSync('pnpm', ['--silent', '--filter', b.filter, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const output = `${r.stdout}${r.status === 0 ? '' : `\n(exited ${r.status})\n${r.stderr}`}`.trim();
  process.stderr.write(`${output}\n\n`);
  sections.push(
    `## ${b.title}\n\n${b.what}.\n\n\`\`\`sh\n${cmd}\n\`\`\`\n\n\`\`\`\n${output}\n\`\`\`\n${notes(b)}`,
  );
}

const document = `# Benchmarks

Written by \`pnpm bench\` (tools/bench/src/write-benchmarks.ts) on ${new Date().toISOString().slice(0, 10)}
at commit ${commit()}: ${machine()}. Each benchmark runs its candidates side by side in one run and
prints ratios; nothing here is a timed test. The machines are small and
noisy: compare the ratios, not the absolute numbers. Each package's own
BENCHMARKS.md explains its method and what limits it.

${sections.join('\n')}`;
if (process.env.BENCH_QUICK === '1') {
  // Quick numbers mean nothing: never let them replace the real ones.
  process.stdout.write(document);
  process.stderr.write('[bench] quick mode: BENCHMARKS.md left as it was\n');
} else {
  writeFileSync(join(root, 'BENCHMARKS.md'), document);
  process.stderr.write('[bench] wrote BENCHMARKS.md\n');
}

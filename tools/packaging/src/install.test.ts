// What an npm user gets: every public package packed with `pnpm pack`,
// installed from the tarballs into an empty directory with every C compiler
// on PATH shadowed by a stub that records its use, then imported from ESM and
// CommonJS, type-checked from TypeScript (node16 and bundler resolution), and
// driven through the installed `cryopipe` bin: --help, doctor, and a real
// pipeline started, checkpointed and restored.
//
// Registry dependencies (@bufbuild/protobuf, tar-stream and theirs) come from
// npm's cache when it has them (--prefer-offline), else from the registry.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criu, describeWith, killJobRoot, root } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ELF_MACHINE, elfMachineOf, repo } from './cross.ts';

/** The public packages, in dependency order, with the subpaths they export. */
const PACKAGES = [
  { dir: 'procfs', name: '@cryopipe/procfs', subpaths: ['.'] },
  { dir: 'spawn', name: '@cryopipe/spawn', subpaths: ['.'] },
  { dir: 'criu-client', name: '@cryopipe/criu-client', subpaths: ['.', './images'] },
  { dir: 'jobs', name: '@cryopipe/jobs', subpaths: ['.'] },
  { dir: 'cli', name: '@cryopipe/cli', subpaths: ['.'] },
];
const specifiers = PACKAGES.flatMap((p) =>
  p.subpaths.map((s) => (s === '.' ? p.name : `${p.name}/${s.slice(2)}`)),
);

const COMPILERS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'musl-gcc', 'aarch64-linux-gnu-gcc', 'make'];
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const canRequireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

describeWith([root, criu], 'packed tarballs installed as an npm user would', () => {
  let dir: string;
  let app: string;
  let packs: string;
  let shadow: string;
  const tarballs = new Map<string, string>();

  /** Runs a command in the installed app with the compilers shadowed. */
  function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(cmd, args, {
      cwd: app,
      encoding: 'utf8',
      timeout: 300_000,
      env: {
        ...process.env,
        PATH: `${shadow}:${process.env.PATH}`,
        CRYOPIPE_HOME: join(dir, 'home'),
        NO_COLOR: '1',
        ...env,
      },
    });
    return { status: r.status, out: r.stdout, err: r.stderr, all: `${r.stdout}\n${r.stderr}` };
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cryopipe-install-'));
    packs = join(dir, 'packs');
    app = join(dir, 'app');
    shadow = join(dir, 'no-compilers');
    for (const d of [packs, app, shadow]) mkdirSync(d);
    for (const c of COMPILERS) {
      writeFileSync(
        join(shadow, c),
        `#!/bin/sh\necho "$0 $*" >> ${join(dir, 'compiler-used')}\necho "no C compiler here" >&2\nexit 1\n`,
      );
      chmodSync(join(shadow, c), 0o755);
    }
    for (const p of PACKAGES) {
      const out = execFileSync('pnpm', ['pack', '--pack-destination', packs], {
        cwd: join(repo, 'packages', p.dir),
        encoding: 'utf8',
      });
      tarballs.set(p.name, out.trim().split('\n').pop()!);
    }
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const install = run('npm', [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...tarballs.values(),
    ]);
    if (install.status !== 0) throw new Error(`npm install failed:\n${install.all}`);
  });

  afterAll(() => {
    // Kill anything a failed test left running, by the pids the store recorded.
    const ps = run('npx', ['--no-install', 'cryopipe', 'ps', '--json']);
    if (ps.status === 0) {
      for (const job of JSON.parse(ps.out) as { id: string; rootPid?: number }[])
        killJobRoot(job.rootPid, job.id);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs without running a compiler', () => {
    expect(existsSync(join(dir, 'compiler-used'))).toBe(false);
    expect(readdirSync(join(app, 'node_modules/@cryopipe')).sort()).toEqual(
      ['cli', 'criu-client', 'jobs', 'procfs', 'spawn'].sort(),
    );
  });

  it('every tarball holds a LICENSE, a README, the notices of what it bundles, and no source maps', () => {
    for (const [name, tarball] of tarballs) {
      const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
      expect(files, name).toContain('package/LICENSE');
      expect(files, name).toContain('package/README.md');
      expect(
        files.filter((f) => f.endsWith('.map')),
        name,
      ).toEqual([]);
      // Code bundled from a dependency ships that dependency's licenses.
      const bundled = execFileSync('tar', ['-xzOf', tarball, '--wildcards', 'package/dist/*.js'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }).includes('@bufbuild/protobuf (Apache-2.0 AND BSD-3-Clause)');
      if (bundled) expect(files, name).toContain('package/THIRD-PARTY-NOTICES.md');
      if (name === '@cryopipe/criu-client') expect(bundled, name).toBe(true);
    }
  });

  it('no package ships a second bundle: its entries are thin and share chunks', () => {
    // Each entry point (a library's index, the cli's bin, the engine's
    // checkpointer process) only imports the chunks that hold the code; a
    // second full bundle would show up as a second large entry.
    const entries: Record<string, string[]> = {
      cli: ['index.js', 'cli.js'],
      jobs: ['index.js', 'checkpointer.js'],
    };
    for (const [pkg, files] of Object.entries(entries)) {
      const dist = join(app, 'node_modules/@cryopipe', pkg, 'dist');
      const sizes = files.map((f) => statSync(join(dist, f)).size);
      // At most one of them may hold real code (jobs' index is the engine).
      expect(
        sizes.filter((n) => n > 4 * 1024),
        `${pkg}: ${files} are ${sizes} bytes`,
      ).toHaveLength(pkg === 'cli' ? 0 : 1);
    }
  });

  it('ships both architectures of every native part, stripped, with the right ELF machine', () => {
    const installed = (pkg: string, rel: string) => join(app, 'node_modules', pkg, rel);
    for (const arch of ['x64', 'arm64'] as const) {
      const parts = [
        installed('@cryopipe/spawn', `dist/bin/linux-${arch}/cryopipe-launch`),
        installed('@cryopipe/criu-client', `dist/native/seqpacket-linux-${arch}.node`),
      ];
      for (const part of parts) {
        expect(elfMachineOf(part), part).toBe(ELF_MACHINE[arch]);
        const sections = execFileSync('readelf', ['-S', '-W', part], { encoding: 'utf8' });
        expect(sections, `${part} is not stripped`).not.toMatch(/\.symtab|\.debug_/);
      }
      expect(statSync(parts[0]!).mode & 0o111, `${parts[0]} is executable`).toBe(0o111);
    }
  });

  // ESM only: a CommonJS TypeScript consumer on `module: node16` can only
  // import() them (attw's cjs-resolves-to-esm); `require()` works at run time
  // on Node ≥ 20.19 and type-checks with `module: node20`/`nodenext` (TS ≥ 5.8).
  // Profile node16: TypeScript's legacy node10 resolution knows no `exports`,
  // so it cannot see a subpath such as @cryopipe/criu-client/images.
  it('arethetypeswrong finds no problem in any tarball (ESM only)', () => {
    const attw = join(repo, 'node_modules/.bin/attw');
    for (const [name, tarball] of tarballs) {
      const r = spawnSync(
        attw,
        [
          tarball,
          '--profile',
          'node16',
          '--ignore-rules',
          'cjs-resolves-to-esm',
          '--format',
          'ascii',
        ],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('on an unsupported platform the native parts fail naming it and what is supported', () => {
    // Node as if on riscv64: each package must refuse clearly, not crash.
    const pretend = (arch: string, code: string) =>
      run(process.execPath, [
        '--input-type=module',
        '-e',
        `Object.defineProperty(process, 'arch', { value: '${arch}' }); ${code}`,
      ]);
    const launcher = pretend(
      'riscv64',
      "const { launcherPath } = await import('@cryopipe/spawn'); launcherPath();",
    );
    expect(launcher.status).not.toBe(0);
    expect(launcher.err).toMatch(/linux-riscv64/);
    expect(launcher.err).toMatch(/linux-x64 and linux-arm64/);
    const addon = pretend(
      'riscv64',
      "const { probeHardwareBreakpoints } = await import('@cryopipe/criu-client'); await probeHardwareBreakpoints();",
    );
    expect(addon.status).not.toBe(0);
    expect(addon.err).toMatch(/linux-riscv64/);
    expect(addon.err).toMatch(/linux-x64 and linux-arm64 with glibc/);
  });

  it('imports every package and subpath from ESM', () => {
    for (const spec of specifiers) {
      const r = run(process.execPath, [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length);`,
      ]);
      expect(r.status, `${spec}: ${r.all}`).toBe(0);
      expect(Number(r.out.trim()), spec).toBeGreaterThan(0);
    }
  });

  it.runIf(canRequireEsm)('requires every package and subpath from CommonJS', () => {
    for (const spec of specifiers) {
      const r = run(process.execPath, [
        '--input-type=commonjs',
        '-e',
        `console.log(Object.keys(require(${JSON.stringify(spec)})).length);`,
      ]);
      expect(r.status, `${spec}: ${r.all}`).toBe(0);
      expect(Number(r.out.trim()), spec).toBeGreaterThan(0);
    }
  });

  for (const resolution of ['node16', 'bundler'] as const) {
    it(`type-checks a TypeScript consumer with ${resolution} resolution`, () => {
      const consumer = join(app, `consumer-${resolution}`);
      mkdirSync(consumer, { recursive: true });
      writeFileSync(
        join(consumer, 'index.ts'),
        [
          "import { Procfs } from '@cryopipe/procfs';",
          "import { spawnPipeline, type PidNamespaceMode } from '@cryopipe/spawn';",
          "import { CriuClient } from '@cryopipe/criu-client';",
          "import { readCheckpoint } from '@cryopipe/criu-client/images';",
          "import { main } from '@cryopipe/cli';",
          "import * as jobs from '@cryopipe/jobs';",
          'const mode: PidNamespaceMode = "auto";',
          'export const used = [Procfs, spawnPipeline, CriuClient, readCheckpoint, main, jobs, mode];',
          'export const exitCode: Promise<number> = main(["--help"]);',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(consumer, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'es2022',
            module: resolution === 'node16' ? 'node16' : 'esnext',
            moduleResolution: resolution,
            typeRoots: [join(repo, 'node_modules/@types')],
            types: ['node'],
            skipLibCheck: false,
          },
          include: ['index.ts'],
        }),
      );
      const tsc = join(repo, 'node_modules/typescript/bin/tsc');
      const r = run(process.execPath, [tsc, '-p', consumer]);
      expect(r.status, r.all).toBe(0);
    });
  }

  it('runs `npx cryopipe --help` and `npx cryopipe doctor`', () => {
    const help = run('npx', ['--no-install', 'cryopipe', '--help']);
    expect(help.status, help.all).toBe(0);
    expect(help.out).toMatch(/^Usage: cryopipe <command>/m);
    const doctor = run('npx', ['--no-install', 'cryopipe', 'doctor', '--json']);
    expect(doctor.status, doctor.all).toBe(0);
    expect(JSON.parse(doctor.out)).toBeTypeOf('object');
  });

  it('starts, checkpoints and restores a two-stage pipeline through the installed CLI', async () => {
    const n = 300;
    const counter = `i=0; while [ $i -lt ${n} ]; do echo $i; i=$((i+1)); sleep 0.02; done`;
    const cli = (...args: string[]) => run('npx', ['--no-install', 'cryopipe', ...args]);
    const started = cli(
      'run',
      '--json',
      '--name',
      'installed',
      '--',
      'sh',
      '-c',
      counter,
      '|',
      'cat',
      '>',
      'count.txt',
    );
    expect(started.status, started.all).toBe(0);
    const out = join(app, 'count.txt');
    const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').length - 1 : 0);
    for (let t = 0; lines() < 20; t++) {
      if (t > 600) throw new Error('the pipeline wrote nothing in 15 s');
      await new Promise((r) => setTimeout(r, 25));
    }
    const checkpoint = cli('checkpoint', '--json', 'installed');
    expect(checkpoint.status, checkpoint.all).toBe(0);
    const frozenAt = lines();
    expect(frozenAt).toBeLessThan(n);
    const restore = cli('restore', '--json', 'installed');
    expect(restore.status, restore.all).toBe(0);
    const waited = cli('wait', '--json', 'installed');
    expect(waited.status, waited.all).toBe(0);
    const expected = Array.from({ length: n }, (_, i) => `${i}\n`).join('');
    expect(readFileSync(out, 'utf8')).toBe(expected);
  });
});

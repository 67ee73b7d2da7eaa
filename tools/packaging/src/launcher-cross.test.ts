// The shipped launcher of each architecture runs a real two-stage pipeline,
// fd-exact: the foreign one (arm64 on an x64 host) through qemu-user, invoked
// explicitly (CI machines may have no binfmt_misc registration), with stages
// that are static probes of that architecture, themselves run through qemu.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAUNCHER_ENV, spawnPipeline } from '@cryopipe/spawn';
import { describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Arch,
  buildStatic,
  crossRequirements,
  ELF_MACHINE,
  elfMachineOf,
  hostArch,
  repo,
  runner,
} from './cross.ts';

const launcherOf = (arch: Arch) =>
  join(repo, 'packages/spawn/dist/bin', `linux-${arch}`, 'cryopipe-launch');

interface ProbeReport {
  fds: Map<number, string>;
  arch: string;
}

/** Splits the pipeline's output into the reports of stage 0 then stage 1. */
function parseReports(text: string): ProbeReport[] {
  const reports: ProbeReport[] = [];
  let fds = new Map<number, string>();
  for (const line of text.split('\n')) {
    const fd = /^fd (\d+) (.*)$/.exec(line);
    if (fd) fds.set(Number(fd[1]), fd[2]!);
    const end = /^end (\S+)$/.exec(line);
    if (end) {
      reports.push({ fds, arch: end[1]! });
      fds = new Map();
    }
  }
  return reports;
}

describeWith(crossRequirements, 'the shipped launcher of each arch', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cryopipe-cross-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const arch of ['x64', 'arm64'] as const) {
    it(`linux-${arch}: a two-stage pipeline gets exactly its descriptors`, async () => {
      const launcher = launcherOf(arch);
      expect(elfMachineOf(launcher)).toBe(ELF_MACHINE[arch]);
      const probe = join(dir, `probe-${arch}`);
      buildStatic(arch, join(repo, 'tools/packaging/fixtures/fd-probe.c'), probe);
      // The launcher must be one executable path: a wrapper that execs it under qemu.
      const wrapper = join(dir, `launch-${arch}`);
      writeFileSync(wrapper, `#!/bin/sh\nexec ${[...runner(arch), launcher].join(' ')} "$@"\n`);
      chmodSync(wrapper, 0o755);

      const runDir = join(dir, `run-${arch}`);
      const out = join(dir, `out-${arch}`);
      const saved = process.env[LAUNCHER_ENV];
      process.env[LAUNCHER_ENV] = arch === hostArch ? launcher : wrapper;
      try {
        const handle = await spawnPipeline(
          {
            stages: [{ argv: [...runner(arch), probe] }, { argv: [...runner(arch), probe, 'cat'] }],
            env: { PATH: '/usr/bin:/bin' },
            stdout: { type: 'file', path: out, mode: 'truncate' },
          },
          { runDir, pidNamespace: false },
        );
        const result = await handle.wait();
        expect(result.exitCode ?? 0).toBe(0);
      } finally {
        if (saved === undefined) delete process.env[LAUNCHER_ENV];
        else process.env[LAUNCHER_ENV] = saved;
      }

      const reports = parseReports(readFileSync(out, 'utf8'));
      expect(reports.map((r) => r.arch)).toEqual([arch, arch]);
      const [first, second] = reports as [ProbeReport, ProbeReport];
      // Exactly 0, 1, 2 and nothing else, in both stages.
      expect([...first.fds.keys()]).toEqual([0, 1, 2]);
      expect([...second.fds.keys()]).toEqual([0, 1, 2]);
      expect(first.fds.get(0)).toBe('/dev/null');
      expect(first.fds.get(1)).toMatch(/^pipe:\[\d+\]$/);
      // The pipe stage 0 writes is the one stage 1 reads.
      expect(second.fds.get(0)).toBe(first.fds.get(1));
      expect(second.fds.get(1)).toBe(out);
      expect(first.fds.get(2)).toMatch(new RegExp(`^${runDir}/stage-\\d+\\.log$`));
      expect(second.fds.get(2)).toMatch(new RegExp(`^${runDir}/stage-\\d+\\.log$`));
      expect(second.fds.get(2)).not.toBe(first.fds.get(2));
    });
  }
});

// The shipped N-API addon of each architecture loads in a Node of that
// architecture and passes the socket checks that need no criu (message
// boundaries, sizes up to 150 KB, a descriptor received by SCM_RIGHTS):
// x64 in this Node, arm64 in Debian's arm64 Node run explicitly through
// qemu-aarch64-static (no binfmt_misc needed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { arm64NodeRoot } from './arm64-node.ts';
import {
  type Arch,
  crossRequirements,
  ELF_MACHINE,
  elfMachineOf,
  hostArch,
  qemu,
  repo,
} from './cross.ts';

const addonOf = (arch: Arch) =>
  join(repo, 'packages/criu-client/dist/native', `seqpacket-linux-${arch}.node`);
const probe = join(repo, 'tools/packaging/fixtures/addon-probe.cjs');

describeWith(
  [...crossRequirements, binary('python3'), binary('apt-get'), binary('dpkg-deb')],
  'the shipped addon of each arch',
  () => {
    let dir: string;
    let passFile: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'cryopipe-addon-'));
      passFile = join(dir, 'passed.txt');
      writeFileSync(passFile, `passed by SCM_RIGHTS ${Date.now()}\n`);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    for (const arch of ['x64', 'arm64'] as const) {
      it(`linux-${arch}: loads and passes the socket checks in a ${arch} Node`, () => {
        const addon = addonOf(arch);
        expect(elfMachineOf(addon)).toBe(ELF_MACHINE[arch]);
        let out: string;
        if (arch === hostArch) {
          out = execFileSync(process.execPath, [probe, addon, passFile], { encoding: 'utf8' });
        } else {
          const root = arm64NodeRoot();
          out = execFileSync(qemu, [join(root, 'usr/bin/node'), probe, addon, passFile], {
            encoding: 'utf8',
            env: { ...process.env, QEMU_LD_PREFIX: root },
            timeout: 120_000,
          });
        }
        expect(JSON.parse(out)).toEqual({
          arch,
          sizes: [1, 7, 4096, 65537, 150000],
          intact: true,
          passed: true,
          exit: 0,
        });
      }, 600_000);
    }
  },
);

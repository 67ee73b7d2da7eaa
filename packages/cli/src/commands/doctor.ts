import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { CriuClient, findCriu, probeHardwareBreakpoints } from '@cryopipe/criu-client';
import type { Command } from '../command.ts';
import { EXIT } from '../errors.ts';
import { formatBytes } from '../output.ts';

type Verdict = 'ok' | 'warn' | 'fail';
interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  fix?: string;
}

const run = promisify(execFile);

export const doctor: Command = {
  name: 'doctor',
  summary: 'check whether this machine can checkpoint and restore, and what to change',
  usage: '',
  options: {},
  examples: [
    'cryopipe doctor',
    'cryopipe doctor --json | jq ".checks[] | select(.verdict != \\"ok\\")"',
  ],
  async run({ store, out }) {
    const checks: Check[] = [];
    const root = process.geteuid?.() === 0;
    checks.push(
      root
        ? { name: 'root', verdict: 'ok', detail: 'running as root' }
        : {
            name: 'root',
            verdict: 'fail',
            detail: `running as uid ${process.geteuid?.()}`,
            fix: 'run cryopipe as root (sudo): CRIU needs CAP_SYS_ADMIN, CAP_SYS_PTRACE and more',
          },
    );

    let criuPath: string | undefined;
    try {
      criuPath = findCriu();
    } catch (err) {
      checks.push({
        name: 'criu',
        verdict: 'fail',
        detail: (err as Error).message,
        fix: "install CRIU 4.x: bash scripts/setup.sh in the cryopipe repository builds it from Debian's archive",
      });
    }
    let criuVersion: string | undefined;
    if (criuPath) {
      const criu = CriuClient.swrk({ criuPath });
      try {
        criuVersion = (await criu.version()).text;
        const major = Number(criuVersion.split('.')[0]);
        checks.push(
          major >= 4
            ? { name: 'criu', verdict: 'ok', detail: `${criuPath}, version ${criuVersion}` }
            : {
                name: 'criu',
                verdict: 'fail',
                detail: `${criuPath} is version ${criuVersion}`,
                fix: 'CRIU 3.x fails on current kernels (vDSO); install 4.x (bash scripts/setup.sh)',
              },
        );
        if (root) {
          const features = await criu.featureCheck({
            memTrack: true,
            pidfdStore: true,
            lazyPages: true,
          });
          checks.push({
            name: 'memory tracking',
            verdict: features.memTrack ? 'ok' : 'warn',
            detail: features.memTrack
              ? 'soft-dirty tracking available: checkpoints pre-dump memory while the job runs (--pre-dump auto), so freezes write only what changed'
              : 'no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY): --track-mem and pre-dump are unavailable; every checkpoint freezes the job for the full memory dump (--staging-dir /dev/shm shortens the write part)',
            ...(features.memTrack
              ? {}
              : {
                  fix: 'use a kernel built with CONFIG_MEM_SOFT_DIRTY=y for shorter freezes (optional)',
                }),
          });
          checks.push({
            name: 'pidfd',
            verdict: features.pidfdStore ? 'ok' : 'warn',
            detail: features.pidfdStore
              ? 'pidfd supported'
              : 'no pidfd store support in this kernel/criu',
          });
        }
      } catch (err) {
        checks.push({
          name: 'criu',
          verdict: 'fail',
          detail: `${criuPath}: ${(err as Error).message}`,
          fix: 'reinstall CRIU 4.x (bash scripts/setup.sh)',
        });
      } finally {
        await criu.close();
      }
      if (root) {
        try {
          const { stdout, stderr } = await run(criuPath, ['check'], { encoding: 'utf8' });
          const text = `${stdout}${stderr}`.trim().split('\n');
          const warnings = text.filter((l) => /^Warn/.test(l));
          checks.push({
            name: 'criu check',
            verdict: warnings.length ? 'warn' : 'ok',
            detail: [text.at(-1) ?? '', ...warnings].join(' | '),
          });
        } catch (err) {
          const e = err as { stderr?: string; stdout?: string };
          checks.push({
            name: 'criu check',
            verdict: 'fail',
            detail: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | '),
            fix: 'see which kernel feature criu is missing above',
          });
        }
      }
    }

    checks.push(
      existsSync('/proc/self/ns/pid')
        ? {
            name: 'PID namespaces',
            verdict: 'ok',
            detail:
              'available: jobs run as PID 1 of their own namespace and restore with fresh PIDs',
          }
        : {
            name: 'PID namespaces',
            verdict: 'warn',
            detail:
              'unavailable: jobs must run with --no-pid-namespace and restores need their old PIDs',
            fix: 'enable CONFIG_PID_NS',
          },
    );
    checks.push(
      existsSync('/proc/self/ns/time')
        ? {
            name: 'time namespaces',
            verdict: 'ok',
            detail: 'available: CLOCK_MONOTONIC stays continuous across a restore',
          }
        : {
            name: 'time namespaces',
            verdict: 'warn',
            detail: 'unavailable (kernel < 5.6): monotonic clocks jump on restore',
            fix: 'use a kernel with CONFIG_TIME_NS',
          },
    );

    const bp = probeHardwareBreakpoints();
    const criuCopes =
      criuVersion !== undefined &&
      (Number(criuVersion.split('.')[0]) > 4 ||
        (Number(criuVersion.split('.')[0]) === 4 && Number(criuVersion.split('.')[1]) >= 2));
    checks.push(
      bp === 'works'
        ? { name: 'hardware breakpoints', verdict: 'ok', detail: 'work' }
        : {
            name: 'hardware breakpoints',
            verdict: criuCopes ? 'ok' : 'warn',
            detail: `${bp} (a VM without debug registers); ${criuCopes ? `criu ${criuVersion} probes this itself` : 'criu < 4.2 hangs during dump unless CRIU_FAULT=130, which cryopipe sets automatically'}`,
          },
    );

    const scopeFile = '/proc/sys/kernel/yama/ptrace_scope';
    if (existsSync(scopeFile)) {
      const scope = Number(readFileSync(scopeFile, 'utf8').trim());
      checks.push(
        scope >= 3
          ? {
              name: 'ptrace scope',
              verdict: 'fail',
              detail:
                'yama ptrace_scope is 3: no process may be traced, so CRIU can not seize the tree',
              fix: 'set kernel.yama.ptrace_scope to 1 or less (needs a reboot once it is 3)',
            }
          : { name: 'ptrace scope', verdict: 'ok', detail: `yama ptrace_scope ${scope}` },
      );
    }

    const homeProblem = store.homeProblem();
    checks.push(
      homeProblem
        ? {
            name: 'home',
            verdict: 'fail',
            detail: `${homeProblem}: 'run' refuses it (another user could change the jobs in it)`,
            fix: `make it yours and private (chown, chmod 700), or point CRYOPIPE_HOME at a directory of your own`,
          }
        : { name: 'home', verdict: 'ok', detail: `${store.home}: private` },
    );

    let where = store.home;
    while (!existsSync(where) && dirname(where) !== where) where = dirname(where);
    const fs = statfsSync(where);
    const free = fs.bavail * fs.bsize;
    checks.push({
      name: 'free space',
      verdict: free < 1024 ** 3 ? 'warn' : 'ok',
      detail: `${formatBytes(free)} free for ${store.home} (images are about the size of the job's memory)`,
      ...(free < 1024 ** 3 ? { fix: 'free space, or point CRYOPIPE_HOME at a larger disk' } : {}),
    });

    const worst: Verdict = checks.some((c) => c.verdict === 'fail')
      ? 'fail'
      : checks.some((c) => c.verdict === 'warn')
        ? 'warn'
        : 'ok';
    out.result({ kernel: release(), home: store.home, verdict: worst, checks });
    for (const c of checks) {
      const mark =
        c.verdict === 'ok'
          ? out.paint('32', 'ok  ')
          : c.verdict === 'warn'
            ? out.paint('33', 'warn')
            : out.paint('31', 'FAIL');
      out.line(`${mark}  ${c.name}: ${c.detail}`);
      if (c.fix && c.verdict !== 'ok') out.line(`      fix: ${c.fix}`);
    }
    out.line(
      worst === 'fail'
        ? '\nThis machine can not checkpoint yet: fix the FAIL lines.'
        : '\nThis machine can checkpoint and restore.',
    );
    return worst === 'fail' ? EXIT.environment : EXIT.ok;
  },
};

import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import {
  ADDON_ENV,
  type BreakpointSupport,
  CriuClient,
  findCriu,
  probeHardwareBreakpoints,
} from '@cryopipe/criu-client';
import { LAUNCHER_ENV, launcherPath, launcherVersion } from '@cryopipe/spawn';
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
    /** Runs one check; whatever it throws becomes a FAIL line instead of a crash. */
    const attempt = async (name: string, fix: string, body: () => Promise<void> | void) => {
      try {
        await body();
      } catch (err) {
        checks.push({ name, verdict: 'fail', detail: firstLine(err), fix });
      }
    };
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

    // `run` starts every job through the static launcher binary.
    await attempt(
      'launcher',
      `reinstall @cryopipe/spawn (or rebuild it: pnpm --filter @cryopipe/spawn build), or point ${LAUNCHER_ENV} at a built cryopipe-launch`,
      async () => {
        const path = launcherPath();
        const v = await launcherVersion(path);
        checks.push({
          name: 'launcher',
          verdict: 'ok',
          detail: `${path}, version ${v.version} (${v.spec})`,
        });
      },
    );

    // `checkpoint` and `restore` talk to criu over a SOCK_SEQPACKET socket from a native addon.
    let addon = false;
    let bp: BreakpointSupport | undefined;
    await attempt(
      'native addon',
      `reinstall @cryopipe/criu-client (or rebuild it: pnpm --filter @cryopipe/criu-client build), or point ${ADDON_ENV} at a built .node file`,
      () => {
        bp = probeHardwareBreakpoints(); // the first call loads the addon
        addon = true;
        checks.push({ name: 'native addon', verdict: 'ok', detail: 'criu-client addon loads' });
      },
    );

    let criuPath: string | undefined;
    let criuVersion: string | undefined;
    await attempt(
      'criu',
      "install CRIU 4.x: bash scripts/setup.sh in the cryopipe repository builds it from Debian's archive (or set CRIU_BIN)",
      async () => {
        criuPath = findCriu();
        // `criu --version` needs neither root nor the addon.
        const { stdout } = await run(criuPath, ['--version'], {
          encoding: 'utf8',
          timeout: 10_000,
        });
        criuVersion = /Version:\s*(\S+)/.exec(stdout)?.[1];
        if (!criuVersion) throw new Error(`${criuPath} --version printed no version: ${stdout}`);
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
      },
    );

    if (criuPath && root && addon) {
      await attempt('criu features', 'reinstall CRIU 4.x (bash scripts/setup.sh)', async () => {
        const criu = CriuClient.swrk({ criuPath: criuPath! });
        try {
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
        } finally {
          await criu.close();
        }
      });
    }
    if (criuPath && root) {
      // The kernel features criu needs, as criu itself judges them.
      try {
        const { stdout, stderr } = await run(criuPath, ['check'], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        const text = `${stdout}${stderr}`.trim().split('\n');
        const warnings = text.filter((l) => /^Warn/.test(l));
        checks.push({
          name: 'criu check',
          verdict: warnings.length ? 'warn' : 'ok',
          detail: [text.at(-1) ?? '', ...warnings].join(' | '),
        });
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message?: string };
        const said = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
        checks.push({
          name: 'criu check',
          verdict: 'fail',
          detail: said ? said.split('\n').slice(-3).join(' | ') : firstLine(err),
          fix: 'criu names the kernel feature it is missing: use a kernel with it enabled',
        });
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

    const criuCopes =
      criuVersion !== undefined &&
      (Number(criuVersion.split('.')[0]) > 4 ||
        (Number(criuVersion.split('.')[0]) === 4 && Number(criuVersion.split('.')[1]) >= 2));
    if (bp !== undefined)
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

    checks.push(homeCheck(store.home));

    let where = store.home;
    while (!existsSync(where) && dirname(where) !== where) where = dirname(where);
    await attempt('free space', 'point CRYOPIPE_HOME at a directory you can read', () => {
      const fs = statfsSync(where);
      const free = fs.bavail * fs.bsize;
      checks.push({
        name: 'free space',
        verdict: free < 1024 ** 3 ? 'warn' : 'ok',
        detail: `${formatBytes(free)} free for ${store.home} (images are about the size of the job's memory)`,
        ...(free < 1024 ** 3 ? { fix: 'free space, or point CRYOPIPE_HOME at a larger disk' } : {}),
      });
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
          ? out.paint('32', 'OK  ')
          : c.verdict === 'warn'
            ? out.paint('33', 'WARN')
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

/** What went wrong, without the advice a library appends (the check's fix says it). */
function firstLine(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  return text.split(/\.\s+(?=[A-Z])/)[0]!;
}

/**
 * The home holds images that run as root on restore: it must be yours (or
 * root's) and not writable by group or others, or restores are refused.
 */
function homeCheck(home: string): Check {
  const uid = process.geteuid?.() ?? 0;
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(home);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return {
        name: 'home',
        verdict: 'ok',
        detail: `${home} does not exist yet; the first 'cryopipe run' creates it private (0700)`,
      };
    return {
      name: 'home',
      verdict: 'fail',
      detail: `${home} can't be inspected: ${firstLine(err)}`,
      fix: 'point CRYOPIPE_HOME at a directory you own',
    };
  }
  const problems: string[] = [];
  if (!st.isDirectory()) problems.push('is not a directory');
  if (st.uid !== uid && st.uid !== 0)
    problems.push(`is owned by uid ${st.uid}, not by you (uid ${uid})`);
  if ((st.mode & 0o022) !== 0)
    problems.push(`is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`);
  return problems.length === 0
    ? {
        name: 'home',
        verdict: 'ok',
        detail: `${home} is yours and private (mode ${(st.mode & 0o7777).toString(8)})`,
      }
    : {
        name: 'home',
        verdict: 'fail',
        detail: `${home} ${problems.join(' and ')}: restores would refuse its images`,
        fix: `chown ${uid} ${home} && chmod go-w ${home}, or point CRYOPIPE_HOME elsewhere`,
      };
}

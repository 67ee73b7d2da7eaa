// Fault matrix rows 1, 2 and 12: a dump that dies half-way loses nothing.
import {
  existsSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { until } from '../../test/cli-harness.ts';
import {
  checkpointsOf,
  criuDumpWorkerOf,
  digestTree,
  jobDir,
  memoryHog,
  processesWith,
  processState,
  useFaultCli,
} from '../../test/fault-harness.ts';

const lineCount = (path: string) => readFileSync(path, 'utf8').split('\n').length;

/** The job's processes keep running: none stopped or traced, and the counter moves on. */
async function expectRunning(marker: string, out: string): Promise<void> {
  const pids = processesWith(marker);
  expect(pids.length).toBeGreaterThan(0);
  for (const pid of pids) {
    const st = processState(pid);
    expect(st?.state, `pid ${pid}`).toMatch(/[RSD]/);
    expect(st?.tracerPid, `pid ${pid}`).toBe(0);
  }
  const before = lineCount(out);
  await until(() => lineCount(out) > before + 5, 'the job to keep counting');
}

describeWith([root, criu], 'fault matrix: a dump that dies half-way', () => {
  const { dir, home, cli, run, start, mountTmpfs } = useFaultCli();

  it('criu SIGKILLed mid-dump: job keeps running, no partial checkpoint, earlier one intact, clear error', async () => {
    const marker = `hog-killed-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'killed',
      '--json',
      '--',
      ...memoryHog(400, marker),
      '>',
      'killed.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const id = started.json().id as string;
    const out = join(dir, 'killed.txt');
    await until(() => existsSync(out) && lineCount(out) > 3, 'the job to start counting');

    const first = cli('checkpoint', 'killed', '--leave-running');
    expect(first.status, first.stderr).toBe(0);
    const cp1 = join(jobDir(home, id), 'checkpoints', '1');
    // The background sealer rewrites checkpoint.json: the digest is taken after it.
    expect(await waitForSealer(cp1, 60_000), 'the sealer to finish').toBe(true);
    const cp1Digest = digestTree(cp1);

    const second = start(['checkpoint', 'killed', '--leave-running']);
    const checkpoints = join(jobDir(home, id), 'checkpoints');
    let killed: number | undefined;
    // Kill criu's dump worker once it is writing pages (the images are half there).
    await until(() => {
      const tmp = readdirSync(checkpoints).find((n) => n.startsWith('.tmp-'));
      if (!tmp) return false;
      const pages = readdirSync(join(checkpoints, tmp)).filter((n) => n.startsWith('pages-'));
      if (!pages.some((p) => statSync(join(checkpoints, tmp, p)).size > 0)) return false;
      killed = criuDumpWorkerOf(second.child.pid!);
      if (killed) process.kill(killed, 'SIGKILL');
      return killed !== undefined;
    }, 'criu to be writing pages');
    const r = await second.done;
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/checkpoint of job \w+ failed: .*criu killed by SIGKILL/);
    expect(r.stderr).toMatch(/The job is still running/);
    expect(r.stderr).toMatch(/earlier checkpoints are intact/);

    expect(checkpointsOf(home, id)).toEqual(['1']);
    expect(digestTree(cp1)).toEqual(cp1Digest);
    await expectRunning(marker, out);

    // The job is not damaged by the aborted dump: a new checkpoint works.
    const again = cli('checkpoint', 'killed', '--leave-running', '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(again.json().checkpoint).toBe(2);
    await expectRunning(marker, out);
  });

  it('disk full during a dump (tmpfs home): job keeps running, space given back, earlier checkpoint intact', async () => {
    const small = mountTmpfs(join(dir, 'small-home'), '96m');
    const marker = `hog-full-${process.pid}`;
    const growFile = join(dir, 'grow-now');
    const started = run(
      [
        'run',
        '--name',
        'full',
        '--json',
        '--',
        ...memoryHog(8, marker, { file: growFile, mib: 200 }),
        '>',
        'full.txt',
      ],
      { home: small },
    );
    expect(started.status, started.stderr).toBe(0);
    const id = started.json().id as string;
    const out = join(dir, 'full.txt');
    await until(() => existsSync(out) && lineCount(out) > 3, 'the job to start counting');

    const first = run(['checkpoint', 'full', '--leave-running'], { home: small });
    expect(first.status, first.stderr).toBe(0);
    const cp1 = join(jobDir(small, id), 'checkpoints', '1');
    expect(await waitForSealer(cp1, 60_000), 'the sealer to finish').toBe(true);
    const cp1Digest = digestTree(cp1);
    const freeAfterFirst = statfsFree(small);

    writeFileSync(growFile, '');
    await until(() => readFileSync(out, 'utf8').includes('grown'), 'the job to grow');

    for (const mode of [['--leave-running'], []]) {
      const r = run(['checkpoint', 'full', ...mode], { home: small });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/No space left on device|ENOSPC/);
      expect(r.stderr).toMatch(/hint: free space where the images go/);
      expect(r.stderr.match(/Dumping FAILED/g)).toHaveLength(1); // criu's log quoted once
      expect(r.stderr).toMatch(/The job is still running/);
      expect(checkpointsOf(small, id)).toEqual(['1']);
      expect(digestTree(cp1)).toEqual(cp1Digest);
      // The partial images are gone: the space is free again.
      expect(statfsFree(small)).toBeGreaterThanOrEqual(freeAfterFirst - 1024 * 1024);
      await expectRunning(marker, out);
    }
    // Staged in /dev/shm the dump succeeds; the store fills up while the images move in.
    const staged = run(['checkpoint', 'full', '--leave-running', '--staging-dir', '/dev/shm'], {
      home: small,
    });
    expect(staged.status, staged.stderr).toBe(1);
    expect(staged.stderr).toMatch(/could not be moved into the job store: .*(ENOSPC|no space)/i);
    expect(staged.stderr).toMatch(/The job is still running/);
    expect(readdirSync('/dev/shm').filter((n) => n.startsWith(`cryopipe-${id}-`))).toEqual([]);
    expect(checkpointsOf(small, id)).toEqual(['1']);
    expect(digestTree(cp1)).toEqual(cp1Digest);
    expect(statfsFree(small)).toBeGreaterThanOrEqual(freeAfterFirst - 1024 * 1024);
    await expectRunning(marker, out);
    const ps = run(['ps', '--json'], { home: small }).json() as { id: string; state: string }[];
    expect(ps.find((j) => j.id === id)?.state).toBe('running');
  });
});

function statfsFree(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

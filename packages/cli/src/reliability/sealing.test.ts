// The content hashes of a checkpoint's images come from a detached,
// low-priority sealer after the command returns (packages/jobs/src/integrity/seal.ts):
// a sealer that dies leaves a complete, unsealed checkpoint; an image changed
// before it was hashed is never sealed, and nothing that needs the content
// (restore after a change, export) takes it on trust. See RELIABILITY.md,
// "What the checks cost".
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { waitForSealer } from '@cryopipe/jobs';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until } from '../../test/cli-harness.ts';
import {
  jobDir,
  killQuietly,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

const STOP_SEALER = { env: { CRYOPIPE_FAULT_POINT: 'seal:hashing' } };

interface Image {
  name: string;
  size: number;
  sha256?: string;
}

/** Field N (1-based, after the comm) of /proc/PID/stat, or undefined once the process is gone. */
function statField(pid: number, n: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[n - 3];
  } catch {
    return undefined;
  }
}

const gone = (pid: number) => {
  const state = statField(pid, 3);
  return state === undefined || state === 'Z';
};

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describeWith([root, criu], 'sealing: content hashes by a detached low-priority sealer', () => {
  const { dir, home, cli, run } = useFaultCli();
  const sealers: number[] = [];

  async function runningJob(name: string) {
    const marker = `${name}-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      name,
      '--json',
      '--',
      'sh',
      '-c',
      `${slowCounter(400)} # ${marker}`,
      '|',
      'cat',
      '>',
      `${name}.txt`,
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, `${name}.txt`);
    await until(() => existsSync(out) && statSync(out).size > 100, 'some output');
    return { id: started.json().id as string, out, marker };
  }

  /** Checkpoints with the sealer stopped before it reads anything; returns its pid. */
  async function checkpointWithSealerStopped(name: string, id: string, n: number) {
    const cp = run(['checkpoint', name, '--json'], STOP_SEALER);
    expect(cp.status, cp.stderr).toBe(0);
    const cpDir = join(jobDir(home, id), 'checkpoints', String(n));
    const pid = Number(readFileSync(join(cpDir, 'seal.pid'), 'utf8'));
    sealers.push(pid);
    await until(() => statField(pid, 3) === 'T', 'the sealer to reach its fault point');
    return { cpDir, pid };
  }

  const images = (cpDir: string): Image[] =>
    JSON.parse(readFileSync(join(cpDir, 'checkpoint.json'), 'utf8')).images;

  it('returns before hashing; the sealer runs at nice 19, and a killed one leaves a checkpoint that restores and that export seals', async () => {
    try {
      const job = await runningJob('seala');
      const { cpDir, pid } = await checkpointWithSealerStopped('seala', job.id, 1);
      await until(() => processesWith(job.marker).length === 0, 'the dumped tree to be gone');

      // The sealer: its own process, lowest CPU priority, lowest best-effort I/O priority.
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(cpDir);
      expect(statField(pid, 19)).toBe('19');
      expect(spawnSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).stdout).toMatch(
        /best-effort: prio 7/,
      );
      // Nothing hashed yet, and everyone says so.
      expect(images(cpDir).filter((e) => e.sha256 !== undefined)).toEqual([]);
      expect(cli('inspect', 'seala', '--json').json().checkpoint.sealed).toBe(false);
      expect(
        cli('ps', '--json')
          .json()
          .find((j: { id: string }) => j.id === job.id).sealed,
      ).toBe(false);

      // A sealer that dies half-way: the checkpoint is complete, just not sealed.
      process.kill(pid, 'SIGKILL');
      await until(() => gone(pid), 'the sealer to die');
      const restored = cli('restore', 'seala', '--json');
      expect(restored.status, restored.stderr).toBe(0);
      expect(restored.json().verified).toBe('identity');
      const stopped = run(['checkpoint', 'seala', '--json'], STOP_SEALER);
      expect(stopped.status, stopped.stderr).toBe(0);
      const cp2 = join(jobDir(home, job.id), 'checkpoints', '2');
      const pid2 = Number(readFileSync(join(cp2, 'seal.pid'), 'utf8'));
      sealers.push(pid2);
      await until(() => processesWith(job.marker).length === 0, 'the dumped tree to be gone');
      await until(() => statField(pid2, 3) === 'T', 'the second sealer to stop');
      process.kill(pid2, 'SIGKILL');
      await until(() => gone(pid2), 'the second sealer to die');

      // An export needs the content: it hashes what no sealer did.
      const archive = join(dir, 'seala.tar.zst');
      const exported = cli('export', 'seala', '-o', archive);
      expect(exported.status, exported.stderr).toBe(0);
      for (const cp of [cpDir, cp2]) {
        for (const image of images(cp)) {
          if (statSync(join(cp, image.name)).isFile())
            expect(image.sha256, image.name).toBe(sha256(join(cp, image.name)));
        }
      }
      const listed = spawnSync('sh', ['-c', `zstd -dc '${archive}' | tar -t`], {
        encoding: 'utf8',
      });
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/checkpoints\/2\/checkpoint\.json/);
      expect(listed.stdout).not.toMatch(/seal\.pid/);

      const last = cli('restore', 'seala', '--verify', '--json');
      expect(last.status, last.stderr).toBe(0);
      expect(last.json().verified).toBe('content');
      await untilFinished(home, job.id);
      expect(readFileSync(job.out, 'utf8')).toBe(expectedCount(400));
    } finally {
      for (const pid of sealers) killQuietly(pid);
    }
  });

  it('an image changed before it was hashed is never sealed: restore and export refuse it; an intact unsealed one passes --verify', async () => {
    try {
      const job = await runningJob('sealb');
      const first = await checkpointWithSealerStopped('sealb', job.id, 1);
      await until(() => processesWith(job.marker).length === 0, 'the dumped tree to be gone');

      // Unsealed but unchanged: --verify reads every image, and identity proves them criu's.
      const verified = cli('restore', 'sealb', '--verify', '--json');
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.json().verified).toBe('content');

      // The stopped sealer goes on and seals checkpoint 1 with the images' true digests.
      process.kill(first.pid, 'SIGCONT');
      expect(await waitForSealer(first.cpDir, 60_000)).toBe(true);
      for (const image of images(first.cpDir))
        if (statSync(join(first.cpDir, image.name)).isFile())
          expect(image.sha256, image.name).toBe(sha256(join(first.cpDir, image.name)));
      expect(existsSync(join(first.cpDir, 'seal.pid'))).toBe(false);

      const second = await checkpointWithSealerStopped('sealb', job.id, 2);
      await until(() => processesWith(job.marker).length === 0, 'the dumped tree to be gone');
      const core = readdirSync(second.cpDir).find((f) => /^core-\d+\.img$/.test(f))!;
      const path = join(second.cpDir, core);
      const at = statSync(path).size >> 1;
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.from([readFileSync(path)[at]! ^ 0xff]), 0, 1, at);
      closeSync(fd);
      process.kill(second.pid, 'SIGCONT');
      expect(await waitForSealer(second.cpDir, 60_000)).toBe(true);
      const unsealed = images(second.cpDir).filter((e) => e.sha256 === undefined);
      expect(unsealed.map((e) => e.name)).toEqual([core]);

      const refused = cli('restore', 'sealb');
      expect(refused.status).toBe(6);
      expect(refused.stderr).toContain(
        `${core}: changed since the checkpoint, whose content hash was never recorded`,
      );
      expect(processesWith(job.marker)).toEqual([]);
      const exported = cli('export', 'sealb', '-o', join(dir, 'sealb.tar.zst'));
      expect(exported.status).toBe(6);
      expect(exported.stderr).toContain(
        `checkpoint 2 of job ${job.id} can't be exported: ${core} changed after the checkpoint`,
      );
      // The older, sealed checkpoint still restores and finishes the job.
      const older = cli('restore', 'sealb', '--from', '1', '--json');
      expect(older.status, older.stderr).toBe(0);
      await untilFinished(home, job.id);
      expect(readFileSync(job.out, 'utf8')).toBe(expectedCount(400));
    } finally {
      for (const pid of sealers) killQuietly(pid);
    }
  });
});

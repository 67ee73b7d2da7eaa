// `cryopipe inspect` on real jobs checkpointed by the real criu: what it shows
// must be what the kernel had (bytes in a pipe, output sizes) and what
// cryopipe's checkpoint.json recorded.
import { chmodSync, cpSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { slowCounter, until, useCli } from '../test/cli-harness.ts';

const IN_FLIGHT = 'hello-in-flight';
const STARTED = 'started\n';

interface Proc {
  pid: number;
  command: string;
  stage?: number;
  argv?: string[];
  state: string;
  memory: { private: number; shared: number; file: number };
  descriptors: { fd: number; type: string; pipeId?: number; end?: string; path?: string }[];
}

/** The comm of a host pid, or undefined once it is gone. */
function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

describe('cryopipe inspect without a job', () => {
  const { cli, dir } = useCli();

  it('says when the job does not exist (exit 3) and documents itself', () => {
    const r = cli('inspect', 'nosuchjob');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/no job 'nosuchjob'/);
    const help = cli('inspect', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(
      /Usage: cryopipe inspect JOB \[N\][\s\S]*--diff M[\s\S]*--raw IMAGE[\s\S]*Examples:/,
    );
    expect(cli('--help').stdout).toMatch(/inspect\s+show what a checkpoint holds/);
  });

  it('names a file that is not an image, without a stack trace', () => {
    const path = join(dir, 'not-an-image.img');
    writeFileSync(path, 'just text, no criu header');
    const r = cli('inspect', '--raw', path);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(path);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(cli('inspect', '--raw', join(dir, 'missing.img')).status).toBe(3);
  });
});

describeWith([root, criu], 'cryopipe inspect on real checkpoints', () => {
  const { cli, dir, home } = useCli();
  let id = '';
  let cpDir = '';

  it('shows the tree, the bytes in flight in the pipe and the recorded output size', async () => {
    // Stage 1 leaves 15 bytes in the pipe that stage 2 never reads; stage 2
    // writes 8 bytes to out.txt. Both then exec sleep, so `sleep` as their
    // comm says the writes are done.
    const started = cli(
      'run',
      '--name',
      'inflight',
      '--json',
      `sh -c 'printf ${IN_FLIGHT}; exec sleep 1000' | sh -c 'printf "${STARTED.trim()}\\n"; exec sleep 1000' > out.txt`,
    );
    expect(started.status, started.stderr).toBe(0);
    id = started.json().id;
    const hostPids = (started.json().stages as { pid: number }[]).map((s) => s.pid);
    expect(hostPids).toHaveLength(2);
    await until(() => hostPids.every((p) => comm(p) === 'sleep'), 'both stages to exec sleep');

    const cp = cli('checkpoint', 'inflight', '--leave-running', '--json');
    expect(cp.status, cp.stderr).toBe(0);
    cpDir = join(home, 'jobs', id, 'checkpoints', '1');
    const out = join(dir, 'out.txt');

    const r = cli('inspect', 'inflight', '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.job.id).toBe(id);
    expect(doc.checkpoints).toEqual([1]);
    expect(doc.checkpoint).toMatchObject({
      number: 1,
      leaveRunning: true,
      imageBytes: cp.json().imageBytes,
      frozenMs: cp.json().frozenMs,
    });

    // The tree: the launcher and both stages, each with its command line.
    const procs = doc.processes as Proc[];
    const stage1 = procs.find((p) => p.stage === 1);
    const stage2 = procs.find((p) => p.stage === 2);
    expect(stage1?.argv).toEqual(['sh', '-c', `printf ${IN_FLIGHT}; exec sleep 1000`]);
    expect(stage2?.argv).toEqual(['sh', '-c', `printf "started\\n"; exec sleep 1000`]);
    expect(stage1?.command).toBe('sleep');
    expect(stage2?.command).toBe('sleep');
    expect(stage1?.state).toBe('alive');
    expect(stage1!.memory.private).toBeGreaterThan(0);
    const rootProc = procs.find((p) => p.pid === doc.rootPid);
    expect(rootProc?.command).toBe('cryopipe-launch');
    expect(procs.filter((p) => p.stage === undefined)).toEqual([rootProc]);

    // The pipe between them holds exactly what stage 1 wrote.
    expect(doc.pipes).toHaveLength(1);
    const pipe = doc.pipes[0];
    expect(pipe.bufferedBytes).toBe(IN_FLIGHT.length);
    expect(pipe.ends).toEqual(
      expect.arrayContaining([
        { pid: stage1!.pid, fd: 1, end: 'write' },
        { pid: stage2!.pid, fd: 0, end: 'read' },
      ]),
    );
    expect(stage1!.descriptors.find((d) => d.fd === 1)).toMatchObject({
      type: 'pipe',
      pipeId: pipe.pipeId,
      end: 'write',
    });
    expect(stage2!.descriptors.find((d) => d.fd === 1)).toMatchObject({ type: 'file', path: out });

    // The output: criu's recorded size = cryopipe's record = the file on disk.
    const criuFile = (doc.files as { path: string; size?: number; writable: boolean }[]).find(
      (f) => f.path === out,
    );
    const cryopipeFile = (doc.checkpoint.files as { path: string; size: number }[]).find(
      (f) => f.path === out,
    );
    expect(criuFile?.size).toBe(STARTED.length);
    expect(criuFile?.writable).toBe(true);
    expect(cryopipeFile?.size).toBe(criuFile?.size);
    expect(statSync(out).size).toBe(STARTED.length);

    // The human view says the same.
    const human = cli('inspect', 'inflight');
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain(`checkpoint 1 of job ${id} (inflight)`);
    expect(human.stdout).toContain(`pipe ${pipe.pipeId}: ${IN_FLIGHT.length} bytes in flight`);
    expect(human.stdout).toMatch(
      /└─ sleep {2}\[stage 1: sh -c 'printf hello-in-flight; exec sleep 1000'\]/,
    );
    expect(human.stdout).toMatch(/└─ sleep {2}\[stage 2: sh -c /);
    expect(human.stdout).toMatch(
      new RegExp(`\\n${STARTED.length} +write +${stage2!.pid} +${out}\\n`),
    );
    expect(human.stdout).toContain(`1 → pipe ${pipe.pipeId} (write end)`);
    expect(human.stdout).toContain('live (the job was left running)');
  });

  it('dumps one image with --raw', () => {
    const r = cli('inspect', '--raw', join(cpDir, 'pstree.img'));
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.magic).toBe('PSTREE');
    const pids = (cli('inspect', 'inflight', '--json').json().processes as Proc[]).map(
      (p) => p.pid,
    );
    expect((doc.entries as { pid: number }[]).map((e) => e.pid).sort()).toEqual(pids.sort());
    // Raw page data has no entries: a clear error, not a crash.
    const pages = cli('inspect', '--raw', join(cpDir, 'pages-1.img'));
    expect(pages.status).toBe(1);
    expect(pages.stderr).toMatch(/does not start with a CRIU image header/);
  });

  it('lists the checkpoints that exist when N is unknown (exit 3)', () => {
    const r = cli('inspect', 'inflight', '7');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/has no checkpoint 7/);
    expect(r.stderr).toMatch(/it has: 1$/m);
    expect(cli('inspect', 'inflight', 'two').status).toBe(2);
    const json = cli('inspect', 'inflight', '7', '--json');
    expect(json.json().error.exitCode).toBe(3);
  });

  it('refuses images others could write, and another checkpoint copied in (exit 6)', () => {
    chmodSync(cpDir, 0o770);
    try {
      const r = cli('inspect', 'inflight');
      expect(r.status).toBe(6);
      expect(r.stderr).toContain(`${cpDir}: writable by group`);
      expect(r.stderr).toMatch(/refusing to read images that someone else could have written/);
    } finally {
      chmodSync(cpDir, 0o700);
    }
    // Checkpoint 1 copied in as checkpoint 2: its checkpoint.json says 1.
    const copy = join(home, 'jobs', id, 'checkpoints', '2');
    cpSync(cpDir, copy, { recursive: true, preserveTimestamps: true });
    try {
      const r = cli('inspect', 'inflight', '2');
      expect(r.status).toBe(6);
      expect(r.stderr).toMatch(/it says it is checkpoint 1/);
      // A forged checkpoint.json is refused by the engine's strict reader, as restore refuses it.
      const meta = JSON.parse(readFileSync(join(copy, 'checkpoint.json'), 'utf8'));
      writeFileSync(
        join(copy, 'checkpoint.json'),
        JSON.stringify({ ...meta, number: 2, jobDir: 'not/absolute' }),
        { mode: 0o600 },
      );
      const forged = cli('inspect', 'inflight', '2');
      expect(forged.status).toBe(6);
      expect(forged.stderr).toMatch(
        /checkpoint\.json is malformed: jobDir is not a clean absolute/,
      );
      expect(forged.stderr).toMatch(/inspect another checkpoint/);
    } finally {
      cpSync(join(cpDir, 'checkpoint.json'), join(copy, 'checkpoint.json'));
    }
    // Made consistent but then damaged: the broken image is named, exit 1.
    const meta = JSON.parse(readFileSync(join(copy, 'checkpoint.json'), 'utf8'));
    writeFileSync(join(copy, 'checkpoint.json'), JSON.stringify({ ...meta, number: 2 }), {
      mode: 0o600,
    });
    truncateSync(join(copy, 'files.img'), statSync(join(copy, 'files.img')).size - 7);
    const broken = cli('inspect', 'inflight', '2');
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/damaged image in checkpoint 2 .*files\.img/);
    expect(broken.stderr).not.toMatch(/^\s+at /m);
    // Checkpoint 1 is untouched and still reads.
    expect(cli('inspect', 'inflight', '1').status).toBe(0);
  });

  it('--diff between two live checkpoints shows how far the output got', async () => {
    const started = cli(
      'run',
      '--name',
      'grows',
      '--json',
      '--',
      'sh',
      '-c',
      slowCounter(100_000, 5),
      '|',
      'cat',
      '>',
      'count.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const out = join(dir, 'count.txt');
    const sizeOf = () => {
      try {
        return statSync(out).size;
      } catch {
        return 0;
      }
    };
    await until(() => sizeOf() > 100, 'some output');
    const a = cli('checkpoint', 'grows', '--leave-running', '--json');
    expect(a.status, a.stderr).toBe(0);
    const first = sizeOf();
    await until(() => sizeOf() > first + 200, 'more output');
    const b = cli('checkpoint', 'grows', '--leave-running', '--json');
    expect(b.status, b.stderr).toBe(0);

    const recorded = (cp: typeof a) =>
      (cp.json().files as { path: string; size: number }[]).find((f) => f.path === out)!.size;
    const sizeA = recorded(a);
    const sizeB = recorded(b);
    expect(sizeB).toBeGreaterThan(sizeA);

    const r = cli('inspect', 'grows', '2', '--diff', '1', '--json');
    expect(r.status, r.stderr).toBe(0);
    const diff = r.json();
    expect(diff.from.number).toBe(1);
    expect(diff.to.number).toBe(2);
    const change = (
      diff.files as {
        path: string;
        delta?: number;
        before?: number;
        after?: number;
        sizeBefore?: number;
        sizeAfter?: number;
      }[]
    ).find((f) => f.path === out);
    expect(change).toMatchObject({
      before: sizeA,
      after: sizeB,
      delta: sizeB - sizeA,
      sizeBefore: sizeA,
      sizeAfter: sizeB,
    });
    expect(diff.memory.length).toBeGreaterThan(0);

    const human = cli('inspect', 'grows', '2', '--diff', '1');
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain('checkpoint 1 → 2');
    expect(human.stdout).toMatch(
      new RegExp(`${sizeA} +${sizeB} +\\+${sizeB - sizeA} +${sizeA} → ${sizeB} +${out}`),
    );
    expect(cli('inspect', 'grows', '2', '--diff', '5').status).toBe(3);
  });
});

describeWith(
  [root, criu, binary('ffmpeg'), binary('aomenc')],
  'cryopipe inspect on a real encode',
  () => {
    const { cli, dir } = useCli();

    it('shows ffmpeg and aomenc, the y4m bytes in flight between them, and the output size', async () => {
      const started = cli(
        'run',
        '--name',
        'enc',
        '--json',
        '--',
        ...['ffmpeg', '-nostdin', '-loglevel', 'error', '-f', 'lavfi'],
        ...['-i', 'testsrc2=size=320x240:rate=24', '-frames:v', '4800'],
        ...['-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', '-', '|'],
        ...['aomenc', '--passes=1', '--threads=1', '--cpu-used=6', '--ivf', '-q'],
        ...['-o', 'out.ivf', '-'],
      );
      expect(started.status, started.stderr).toBe(0);
      const out = join(dir, 'out.ivf');
      await until(() => {
        try {
          return statSync(out).size > 4096;
        } catch {
          return false;
        }
      }, 'aomenc to write some frames');
      const cp = cli('checkpoint', 'enc', '--leave-running', '--json');
      expect(cp.status, cp.stderr).toBe(0);

      const r = cli('inspect', 'enc', '--json');
      expect(r.status, r.stderr).toBe(0);
      const doc = r.json();
      const procs = doc.processes as Proc[];
      const ffmpeg = procs.find((p) => p.stage === 1);
      const aom = procs.find((p) => p.stage === 2);
      expect(ffmpeg?.command).toBe('ffmpeg');
      expect(ffmpeg?.argv?.[0]).toBe('ffmpeg');
      expect(aom?.command).toBe('aomenc');
      expect(aom!.memory.private).toBeGreaterThan(1 << 20);

      // ffmpeg renders faster than aomenc encodes: it waits on a pipe with y4m in it.
      const pipe = (
        doc.pipes as { pipeId: number; bufferedBytes: number; capacity?: number; ends: unknown[] }[]
      ).find((p) =>
        p.ends.some(
          (e) => JSON.stringify(e) === JSON.stringify({ pid: aom!.pid, fd: 0, end: 'read' }),
        ),
      );
      expect(pipe?.ends).toContainEqual({ pid: ffmpeg!.pid, fd: 1, end: 'write' });
      expect(pipe!.bufferedBytes).toBeGreaterThan(0);
      expect(pipe!.bufferedBytes).toBeLessThanOrEqual(pipe!.capacity ?? 65_536);

      const recorded = (cp.json().files as { path: string; size: number }[]).find(
        (f) => f.path === out,
      );
      const criuSide = (doc.files as { path: string; size?: number }[]).find((f) => f.path === out);
      expect(recorded!.size).toBeGreaterThan(4096);
      expect(criuSide?.size).toBe(recorded!.size);
      expect(aom!.descriptors).toContainEqual(
        expect.objectContaining({ type: 'file', path: out, pos: recorded!.size }),
      );

      const human = cli('inspect', 'enc');
      expect(human.stdout).toContain(
        `pipe ${pipe!.pipeId}: ${pipe!.bufferedBytes} bytes in flight`,
      );
      expect(human.stdout).toMatch(/└─ aomenc {2}\[stage 2: aomenc --passes=1/);
      expect(human.stdout).toMatch(
        new RegExp(`\\n${recorded!.size} +write +${aom!.pid} +${out}\\n`),
      );
    });
  },
);

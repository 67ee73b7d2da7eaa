// Fault matrix row 29: file locks held by the tree, and TCP sockets named as TCP.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { expectedCount, slowCounter, until } from '../../test/cli-harness.ts';
import {
  killQuietly,
  processesWith,
  untilFinished,
  useFaultCli,
} from '../../test/fault-harness.ts';

/** Pids holding a FLOCK on the file with this inode, from /proc/locks. */
function flockHolders(path: string): number[] {
  const ino = statSync(path).ino;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((l) => /^\d+: FLOCK\s+\S+\s+\S+\s+(\d+) [0-9a-f]+:[0-9a-f]+:(\d+) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === ino)
    .map((m) => Number(m[1]));
}

describeWith([root, criu, binary('flock')], 'fault matrix: file locks and sockets', () => {
  const { dir, home, cli, killAfterAll } = useFaultCli();

  it('29 a flock stage: diagnose names the lock, checkpoint saves it, restore takes it again', async () => {
    const lockFile = join(dir, 'job.lock');
    writeFileSync(lockFile, '');
    const marker = `flocked-${process.pid}`;
    const started = cli(
      'run',
      '--name',
      'flocked',
      '--json',
      '--',
      'flock',
      lockFile,
      'sh',
      '-c',
      `${slowCounter(400)} # ${marker}`,
      '>',
      'flocked.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const { id, rootPid } = started.json() as { id: string; rootPid: number };
    const out = join(dir, 'flocked.txt');
    await until(() => existsSync(out) && statSync(out).size > 50, 'some output');
    expect(flockHolders(lockFile)).toHaveLength(1);

    const diagnosed = cli('diagnose', String(rootPid), '--json');
    expect(diagnosed.status, diagnosed.stdout).toBe(0);
    const lock = (
      diagnosed.json().findings as {
        id: string;
        severity: string;
        evidence: { target: string }[];
      }[]
    ).find((f) => f.id === 'file-locks');
    expect(lock?.severity).toBe('info');
    expect(lock?.evidence.map((e) => e.target)).toContain(`${lockFile} (FLOCK WRITE)`);
    const human = cli('diagnose', String(rootPid));
    expect(human.stdout).toMatch(
      /\[info\] the tree holds 1 file lock \(.*job\.lock, through [2-9] descriptors\); cryopipe checkpoint saves and restores them/,
    );

    const cp = cli('checkpoint', 'flocked');
    expect(cp.status, cp.stderr).toBe(0);
    await until(() => processesWith(marker).length === 0, 'the dumped tree to be gone');
    expect(flockHolders(lockFile)).toEqual([]);
    const restored = cli('restore', 'flocked', '--json');
    expect(restored.status, restored.stderr).toBe(0);
    killAfterAll(restored.json().rootPid);
    // The restored flock process holds the lock again: another flock can't take it.
    expect(flockHolders(lockFile)).toHaveLength(1);
    const probe = spawn('flock', ['-n', lockFile, 'true']);
    expect(await new Promise((r) => probe.on('close', r))).toBe(1);
    await untilFinished(home, id);
    expect(cli('wait', 'flocked').status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(400));
    expect(flockHolders(lockFile)).toEqual([]);
  });

  it('29 a lock also held outside the tree blocks, with a true hint', async () => {
    const lockFile = join(dir, 'outside.lock');
    writeFileSync(lockFile, '');
    // flock (outside) takes the lock and runs sh, which inherits the locked descriptor.
    const outer: ChildProcess = spawn('flock', [lockFile, 'sh', '-c', 'sleep 300; :'], {
      stdio: 'ignore',
    });
    afterAll(() => killQuietly(outer.pid));
    let sh: number | undefined;
    await until(() => {
      sh = readFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number)
        .find((p) => p > 0);
      return sh !== undefined && flockHolders(lockFile).length === 1;
    }, 'flock to start sh');
    const r = cli('diagnose', String(sh), '--json');
    expect(r.status).toBe(1);
    const f = (
      r.json().findings as { id: string; severity: string; message: string; fix: string }[]
    ).find((x) => x.id === 'file-locks-outside');
    expect(f?.severity).toBe('blocker');
    expect(f?.message).toMatch(
      new RegExp(`processes outside it hold too \\(flock ${outer.pid}\\)`),
    );
    expect(f?.fix).not.toMatch(/--file-locks/);
    killQuietly(sh);
  });

  it('29 a TCP connection is reported as TCP, and checkpoint refuses with that message', async () => {
    const server: Server = createServer((c) => c.on('error', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    afterAll(() => server.close());
    const port = (server.address() as { port: number }).port;
    const marker = `tcp-${process.pid}`;
    const script = [
      'import socket, time',
      `s = socket.create_connection(("127.0.0.1", ${port}))`,
      'print("connected", flush=True)',
      'time.sleep(300)',
      `# ${marker}`,
    ].join('\n');
    const started = cli('run', '--json', '--', 'python3', '-c', script, '>', 'tcp.txt');
    expect(started.status, started.stderr).toBe(0);
    await until(
      () => readFileSync(join(dir, 'tcp.txt'), 'utf8').includes('connected'),
      'the connection',
    );
    const { rootPid } = started.json() as { rootPid: number };
    const r = cli('diagnose', String(rootPid));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(
        `\\[blocker\\] a TCP connection \\(127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${port}, ESTABLISHED, inode \\d+\\)`,
      ),
    );
    expect(r.stdout).toMatch(
      /criu: "Connected TCP socket, consider using --tcp-established option\."/,
    );
    expect(r.stdout).not.toMatch(/ext-unix-sk/);
    const cp = cli('checkpoint', started.json().id, '--leave-running');
    expect(cp.status).toBe(6);
    expect(cp.stderr).toMatch(
      /a TCP connection \(127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+, ESTABLISHED/,
    );
    expect(cp.stderr).not.toMatch(/unix/);
    expect(processesWith(marker)).toHaveLength(1);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, describeWith } from '@cryopipe/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from './descriptor.ts';
import { pipePeers, writableFiles } from './peers.ts';
import { Procfs } from './procfs.ts';
import type { OutsideView, ProcessSnapshot, Snapshot } from './snapshot.ts';
import type { ProcessStat } from './stat.ts';
import type { ProcessStatus } from './status.ts';

// Pure: snapshots built by hand, so each rule is visible on its own.

function proc(pid: number, fds: Descriptor[]): ProcessSnapshot {
  return {
    pid,
    stat: { comm: `p${pid}` } as ProcessStat,
    status: {} as ProcessStatus,
    cmdline: [],
    fds,
  };
}

function snapshotOf(processes: ProcessSnapshot[], outside?: Partial<OutsideView>): Snapshot {
  return {
    rootPid: processes[0]!.pid,
    takenAtMs: 0,
    tree: {
      root: { pid: processes[0]!.pid, children: [] },
      pids: processes.map((p) => p.pid),
      source: 'children',
    },
    processes: new Map(processes.map((p) => [p.pid, p])),
    vanished: [],
    outside: outside && {
      stats: new Map(),
      pipes: new Map(),
      sockets: new Map(),
      fifos: new Map(),
      terminals: new Map(),
      unreadable: [],
      ...outside,
    },
  };
}

const fifo = (fd: number, device: number, inode: number, access: 'read' | 'write' | 'read-write') =>
  ({
    fd,
    target: '/run/f',
    access,
    kind: 'fifo',
    path: '/run/f',
    device,
    inode,
    deleted: false,
  }) satisfies Descriptor;

describe('pipePeers on hand-built snapshots', () => {
  it('keeps two FIFOs with the same path apart by (device, inode)', () => {
    const snap = snapshotOf([proc(10, [fifo(3, 1, 50, 'read'), fifo(4, 1, 51, 'read-write')])], {
      fifos: new Map([['1:50', [{ pid: 99, fd: 1, comm: 'w', access: 'write' as const }]]]),
    });
    const conns = pipePeers(snap);
    expect(conns).toHaveLength(2);
    expect(conns.find((c) => c.inode === 50)).toMatchObject({
      readEnd: 'inside',
      writeEnd: 'outside',
      contained: false,
    });
    expect(conns.find((c) => c.inode === 51)).toMatchObject({ contained: true });
  });

  it('keeps equal inode numbers on different devices apart', () => {
    const snap = snapshotOf([proc(10, [fifo(3, 1, 50, 'read'), fifo(4, 2, 50, 'write')])], {});
    const conns = pipePeers(snap);
    expect(conns.map((c) => [c.device, c.readEnd, c.writeEnd])).toEqual([
      [1, 'inside', 'none'],
      [2, 'none', 'inside'],
    ]);
  });
});

// Live: real processes, real FIFOs and files; the kernel is the witness.

const procfs = new Procfs();
// Measured on the 2-core VM: 0.15-0.65 s each with other builds running (load average 7-8),
// 0.17-1.1 s with two `yes > /dev/null` on top (load average 10-13). They poll up to WAIT_MS for
// their processes, so the timeout is that wait plus room.
const WAIT_MS = 20_000;
const LIVE_TIMEOUT_MS = WAIT_MS + 10_000;
const started: ChildProcess[] = [];

function start(script: string, arg: string): ChildProcess {
  // detached: its own process group, so the tree under test never includes the test runner.
  const child = spawn('sh', ['-c', script, arg], { stdio: 'ignore', detached: true });
  started.push(child);
  return child;
}

/** Waits until `pid` has exec'd sleep (its setup is done), at most WAIT_MS. */
async function waitForSleep(pid: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const comm = await procfs
      .process(pid)
      .comm()
      .catch(() => undefined);
    if (comm === 'sleep') return;
    if (Date.now() > deadline) throw new Error(`process ${pid} never reached sleep`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWith([binary('mkfifo'), binary('ln')], 'live: FIFOs and deleted files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cryopipe-peers-'));
  });
  afterAll(() => {
    for (const child of started) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('after `rm f; mkfifo f` the old and the new FIFO stay two connections, each located right', {
    timeout: LIVE_TIMEOUT_MS,
  }, async () => {
    const path = join(dir, 'f');
    const mk = spawn('mkfifo', [path]);
    await new Promise((r) => mk.on('exit', r));
    // Outside the tree: a writer of the first FIFO (opening blocks until the reader comes).
    const writer = start('exec 4>"$0"; exec sleep 600', path);
    // The tree: reads the first FIFO, replaces it, then holds the new one read-write.
    const tree = start('exec 3<"$0"; rm "$0"; mkfifo "$0"; exec 5<>"$0"; exec sleep 600', path);
    await waitForSleep(writer.pid!);
    await waitForSleep(tree.pid!);

    const fds = await procfs.process(tree.pid!).fds();
    const old = fds.find((d) => d.fd === 3);
    const now = fds.find((d) => d.fd === 5);
    expect(old).toMatchObject({ kind: 'fifo', path, deleted: true, access: 'read' });
    expect(now).toMatchObject({ kind: 'fifo', path, deleted: false, access: 'read-write' });

    const conns = pipePeers(await procfs.snapshot(tree.pid!)).filter((c) => c.kind === 'fifo');
    expect(conns).toHaveLength(2);
    const first = conns.find((c) => c.deleted);
    const second = conns.find((c) => !c.deleted);
    expect(first).toMatchObject({ path, readEnd: 'inside', writeEnd: 'outside', contained: false });
    expect(first!.writers).toEqual([{ pid: writer.pid, fd: 4, comm: 'sleep', inside: false }]);
    expect(second).toMatchObject({ path, readEnd: 'inside', writeEnd: 'inside', contained: true });
    expect(first!.inode).not.toBe(second!.inode);
  });

  it('"deleted" follows the link count: a real "x (deleted)" is not, removed files are', {
    timeout: LIVE_TIMEOUT_MS,
  }, async () => {
    const tree = start(
      [
        'exec 3>"$0/x (deleted)" 4>"$0/gone" 6>"$0/y (deleted)" 7>"$0/a"',
        'rm "$0/gone" "$0/y (deleted)"',
        'ln "$0/a" "$0/b"',
        'rm "$0/a"',
        'exec sleep 600',
      ].join('; '),
      dir,
    );
    await waitForSleep(tree.pid!);
    const files = writableFiles(await procfs.snapshot(tree.pid!, { outside: false }));
    const byFd = new Map(files.map((f) => [f.fd, f]));
    expect(byFd.get(3)).toMatchObject({ path: `${dir}/x (deleted)`, deleted: false });
    expect(byFd.get(4)).toMatchObject({ path: `${dir}/gone`, deleted: true });
    expect(byFd.get(6)).toMatchObject({ path: `${dir}/y (deleted)`, deleted: true });
    // Its name is gone but the file lives on as b: not deleted (CRIU needs no ghost copy).
    expect(byFd.get(7)).toMatchObject({ path: `${dir}/a`, deleted: false });
    const fds = await procfs.process(tree.pid!).fds();
    expect(fds.find((d) => d.fd === 7)).toMatchObject({ pathRemoved: true, links: 1 });
    expect(fds.find((d) => d.fd === 3)).toMatchObject({ links: 1 });
    expect(fds.find((d) => d.fd === 3)).not.toHaveProperty('pathRemoved', true);
  });
});

import { describe, expect, it } from 'vitest';
import { classifyDescriptor } from './descriptor.ts';
import { parseFdInfo } from './fdinfo.ts';

const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_IFDIR = 0o040000;
const dev = (major: number, minor: number) =>
  (major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
const st = (mode: number, rdev = 0, nlink = 1) => ({
  mode,
  size: 5,
  ino: 77,
  dev: 2049,
  rdev,
  nlink,
});

describe('classifyDescriptor', () => {
  it('reads pipe direction from the link mode', () => {
    expect(classifyDescriptor({ fd: 1, target: 'pipe:[123]', linkMode: 0o120300 })).toEqual({
      fd: 1,
      target: 'pipe:[123]',
      access: 'write',
      kind: 'pipe',
      inode: 123,
    });
    expect(classifyDescriptor({ fd: 0, target: 'pipe:[123]', linkMode: 0o120500 }).access).toBe(
      'read',
    );
  });

  it('resolves a socket through a table', () => {
    const table = new Map([
      [
        9,
        { family: 'unix' as const, inode: 9, type: 'stream', state: 'connected', listening: false },
      ],
    ]);
    const d = classifyDescriptor({ fd: 3, target: 'socket:[9]' }, table);
    expect(d).toMatchObject({
      kind: 'socket',
      inode: 9,
      socket: { family: 'unix', state: 'connected' },
    });
  });

  it('names anon inodes, pidfds and namespaces', () => {
    expect(classifyDescriptor({ fd: 4, target: 'anon_inode:[eventfd]' })).toMatchObject({
      kind: 'anon',
      anonKind: 'eventfd',
    });
    expect(classifyDescriptor({ fd: 4, target: 'anon_inode:inotify' })).toMatchObject({
      anonKind: 'inotify',
    });
    expect(classifyDescriptor({ fd: 4, target: 'anon_inode:bpf-map' })).toMatchObject({
      anonKind: 'bpf-map',
    });
    expect(classifyDescriptor({ fd: 4, target: 'anon_inode:[io_uring]' })).toMatchObject({
      anonKind: 'io_uring',
    });
    expect(classifyDescriptor({ fd: 4, target: 'anon_inode:[weird]' })).toMatchObject({
      anonKind: 'other',
    });
    expect(classifyDescriptor({ fd: 4, target: 'pidfd:[5]' })).toMatchObject({ anonKind: 'pidfd' });
    expect(classifyDescriptor({ fd: 4, target: 'net:[4026531840]' })).toMatchObject({
      kind: 'namespace',
    });
  });

  it('classifies files by what stat says, with fdinfo position and flags', () => {
    const fdInfo = parseFdInfo('pos:\t40\nflags:\t0102001\nmnt_id:\t3\n');
    const d = classifyDescriptor({
      fd: 5,
      target: '/tmp/out (deleted)',
      stat: st(S_IFREG | 0o644, 0, 0),
      fdInfo,
    });
    expect(d).toMatchObject({
      kind: 'file',
      path: '/tmp/out',
      deleted: true,
      size: 5,
      pos: 40,
      access: 'write',
      append: true,
    });
    expect(classifyDescriptor({ fd: 5, target: '/tmp', stat: st(S_IFDIR) }).kind).toBe('directory');
    expect(classifyDescriptor({ fd: 5, target: '/run/fifo', stat: st(S_IFIFO) })).toMatchObject({
      kind: 'fifo',
      device: 2049,
      inode: 77,
      deleted: false,
    });
    expect(
      classifyDescriptor({ fd: 5, target: '/memfd:x (deleted)', stat: st(S_IFREG) }),
    ).toMatchObject({ kind: 'memfd', name: 'x' });
  });

  it('separates terminals, pty masters and other character devices', () => {
    expect(
      classifyDescriptor({ fd: 0, target: '/dev/pts/7', stat: st(S_IFCHR, dev(136, 7)) }),
    ).toMatchObject({
      kind: 'terminal',
      device: { kind: 'pts', index: 7 },
    });
    const master = classifyDescriptor({
      fd: 9,
      target: '/dev/ptmx',
      stat: st(S_IFCHR, dev(5, 2)),
      fdInfo: parseFdInfo('pos:\t0\nflags:\t02\ntty-index:\t7\n'),
    });
    expect(master).toMatchObject({ kind: 'pty-master', ptyIndex: 7, access: 'read-write' });
    expect(
      classifyDescriptor({ fd: 0, target: '/dev/null', stat: st(S_IFCHR, dev(1, 3)) }),
    ).toMatchObject({
      kind: 'char-device',
      major: 1,
      minor: 3,
    });
  });

  describe('deleted is the link count, not the " (deleted)" text', () => {
    const file = (target: string, nlink: number, suffixIsName?: boolean) =>
      classifyDescriptor({ fd: 3, target, stat: st(S_IFREG | 0o644, 0, nlink), suffixIsName });

    it('a file really named "x (deleted)" is not deleted and keeps its name', () => {
      expect(file('/tmp/x (deleted)', 1, true)).toMatchObject({
        path: '/tmp/x (deleted)',
        deleted: false,
        links: 1,
      });
      expect(file('/tmp/x (deleted)', 1, true)).not.toHaveProperty('pathRemoved', true);
    });

    it("a deleted file loses exactly one suffix: the kernel's mark", () => {
      expect(file('/tmp/x (deleted)', 0)).toMatchObject({ path: '/tmp/x', deleted: true });
      expect(file('/tmp/x (deleted) (deleted)', 0)).toMatchObject({
        path: '/tmp/x (deleted)',
        deleted: true,
      });
    });

    it('a removed name of a file still linked elsewhere is not deleted, but its path is removed', () => {
      expect(file('/tmp/x (deleted)', 1, false)).toMatchObject({
        path: '/tmp/x',
        deleted: false,
        pathRemoved: true,
        links: 1,
      });
    });

    it('without stat, only the suffix is left to go by', () => {
      expect(classifyDescriptor({ fd: 3, target: '/tmp/x (deleted)' })).toMatchObject({
        kind: 'file',
        path: '/tmp/x',
        deleted: true,
      });
    });

    it('a removed FIFO and a removed directory are deleted by the same rule', () => {
      expect(
        classifyDescriptor({ fd: 3, target: '/run/f (deleted)', stat: st(S_IFIFO, 0, 0) }),
      ).toMatchObject({ kind: 'fifo', path: '/run/f', deleted: true, device: 2049, inode: 77 });
      expect(
        classifyDescriptor({ fd: 3, target: '/tmp/d (deleted)', stat: st(S_IFDIR, 0, 0) }),
      ).toMatchObject({ kind: 'directory', path: '/tmp/d', deleted: true });
    });
  });
});

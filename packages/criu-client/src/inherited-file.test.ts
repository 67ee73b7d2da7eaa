import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, killTree, removeDir, tempDir, treeOf, waitFor, waitGone } from '../test/trees.ts';
import { CriuClient } from './client.ts';
import { fileInheritKey, openInheritedFile } from './inherited-file.ts';

function fdinfo(fd: number): { pos: number; flags: number } {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  return {
    pos: Number(/^pos:\s+(\d+)/m.exec(text)![1]),
    flags: Number.parseInt(/^flags:\s+([0-7]+)/m.exec(text)![1]!, 8),
  };
}

let dir = '';
afterEach(() => {
  if (dir) removeDir(dir);
  dir = '';
});

describe('fileInheritKey', () => {
  it("is the path without its leading '/'", () => {
    expect(fileInheritKey('/var/lib/x/out.ivf')).toBe('var/lib/x/out.ivf');
    expect(fileInheritKey('//tmp/run/')).toBe('tmp/run');
    expect(fileInheritKey('/')).toBe('.');
    expect(() => fileInheritKey('relative/path')).toThrow(/absolute path/);
  });
});

describe('openInheritedFile', () => {
  it('opens with the dumped access mode and O_APPEND, at the dumped offset, creating nothing', () => {
    dir = tempDir();
    const path = join(dir, 'f');
    writeFileSync(path, 'x'.repeat(100));
    const w = openInheritedFile(path, { access: 'write', pos: 40 });
    const a = openInheritedFile(path, { access: 'read-write', append: true, pos: 7 });
    const d = openInheritedFile(dir, { access: 'read', directory: true });
    try {
      expect(fdinfo(w).pos).toBe(40);
      expect(fdinfo(w).flags & 0o3).toBe(0o1); // O_WRONLY
      expect(fdinfo(w).flags & 0o2000).toBe(0); // no O_APPEND
      expect(fdinfo(a).flags & 0o3).toBe(0o2); // O_RDWR
      expect(fdinfo(a).flags & 0o2000).toBe(0o2000);
      expect(fdinfo(d).flags & 0o200000).toBe(0o200000); // O_DIRECTORY
      expect(statSync(path).size).toBe(100); // not truncated
    } finally {
      for (const fd of [w, a, d]) closeSync(fd);
    }
    expect(() => openInheritedFile(join(dir, 'missing'), { access: 'write' })).toThrow(/ENOENT/);
  });
});

describeWith([root, criu], 'inheritFd with a real criu restore', () => {
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) killTree(pid);
  });

  it('restores a writer into another file, continuing at its offset', async () => {
    dir = tempDir();
    const original = join(dir, 'count.txt');
    const moved = join(dir, 'count-copy.txt');
    // One process writing without O_APPEND: a wrong offset after the move would
    // overwrite its first lines. (perl sleeps in-process: no short-lived children.)
    const counter =
      '$|=1; for ($i = 0; ; $i++) { print "$i\\n"; select(undef, undef, undef, 0.002) }';
    const child = spawn('setsid', ['sh', '-c', `exec perl -e '${counter}' > ${original}`], {
      stdio: 'ignore',
    });
    const pid = child.pid!;
    started.push(pid);
    await waitFor(
      () => isAlive(pid) && (statSync(original, { throwIfNoEntry: false })?.size ?? 0) > 2000,
      'the writer',
    );
    const imagesDir = join(dir, 'img');
    mkdirSync(imagesDir, { mode: 0o700 });
    const client = CriuClient.swrk();
    try {
      const pids = treeOf(pid);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await client.dump({ pid, imagesDir });
      await exited; // reaped: the restore needs the pid back
      await waitGone(pids);
      const size = statSync(original).size;
      copyFileSync(original, moved);
      truncateSync(moved, size);

      const fd = openInheritedFile(moved, { access: 'write', pos: size });
      let restoredPid: number;
      try {
        restoredPid = (
          await client.restore({ imagesDir, inheritFd: [{ key: fileInheritKey(original), fd }] })
        ).pid;
      } finally {
        closeSync(fd);
      }
      started.push(restoredPid);
      await waitFor(() => statSync(moved).size > size + 2000, 'the restored writer');
      killTree(restoredPid);
      await waitGone([restoredPid]);

      expect(statSync(original).size).toBe(size); // the old file was left alone
      const lines = readFileSync(moved, 'utf8').split('\n').slice(0, -1);
      // Every number once, in order: the copy continued exactly where the original stopped.
      expect(lines.map(Number)).toEqual(lines.map((_, i) => i));
    } finally {
      await client.close();
    }
  });
});

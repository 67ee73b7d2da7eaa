// Real checkpoints, decoded by our decoder and by CRIU's own crit (built from
// the same source as criu by scripts/provision-criu.sh): every field we
// declare must equal crit's, for every image of both checkpoints.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareEntry } from '../../test/compare-crit.ts';
import { crit, critDecodeMany } from '../../test/crit.ts';
import { killTree, removeDir, sleep, startImagesTree, tempDir, waitFor } from '../../test/trees.ts';
import { CriuClient } from '../client.ts';
import { pagemap_headSchema } from '../gen/images_pb.ts';
import { type CheckpointSummary, readCheckpoint } from './checkpoint.ts';
import { classifyImage, type DecodedMagic, ENTRY_SCHEMAS, imageToJson } from './decode.ts';
import { diffCheckpoints } from './diff.ts';

describeWith([root, criu, crit], 'image decoder on real checkpoints, against crit', () => {
  let dir: string;
  let pid = 0;
  const checkpoints: string[] = [];
  let first: CheckpointSummary;
  let second: CheckpointSummary;

  beforeAll(async () => {
    dir = tempDir('criu-images-');
    const tree = await startImagesTree(dir);
    pid = tree.pid;
    const client = CriuClient.swrk();
    try {
      for (const name of ['1', '2']) {
        const imagesDir = join(dir, `ckpt-${name}`);
        mkdirSync(imagesDir, { mode: 0o700 });
        await client.dump({ pid, imagesDir, leaveRunning: true });
        checkpoints.push(imagesDir);
        await sleep(1200); // gzip writes on, the slow pipe gains ~6 bytes
      }
    } finally {
      client.close();
    }
    first = await readCheckpoint(checkpoints[0]!);
    second = await readCheckpoint(checkpoints[1]!);
  }, 120_000);

  afterAll(() => {
    if (pid) killTree(pid);
    if (dir) removeDir(dir);
  });

  it('decodes every image of both checkpoints field by field as crit does', {
    timeout: 120_000,
  }, async () => {
    const { seen, fileTypes, critJson } = await compareDirsWithCrit(checkpoints);
    // The comparison is not vacuous: a changed field is reported.
    const tree = checkpoints[0]!;
    const pstree = classifyImage(readFileSync(join(tree, 'pstree.img')), 'pstree.img');
    if (pstree.kind !== 'decoded') throw new Error('pstree.img not decoded');
    const mine = imageToJson(pstree).entries[0]!;
    const critPstree = critJson.get(join(tree, 'pstree.img'))!.entries[0] as Record<
      string,
      unknown
    >;
    expect(compareEntry(ENTRY_SCHEMAS.PSTREE, { ...mine, sid: 1 }, critPstree)).toHaveLength(1);
    // The comparison covered every kind the brief names, and every file kind.
    for (const magic of [
      'INVENTORY',
      'PSTREE',
      'CORE',
      'IDS',
      'FDINFO',
      'FILES',
      'TTY_INFO',
      'PIPES_DATA',
      'FIFO_DATA',
      'MM',
      'PAGEMAP',
      'STATS',
      'MEMFD_INODE',
    ]) {
      expect(seen, magic).toContain(magic);
    }
    for (const type of ['REG', 'PIPE', 'FIFO', 'UNIXSK', 'INETSK', 'TTY', 'MEMFD']) {
      expect(fileTypes, type).toContain(type);
    }
  });

  it('summarizes the tree: processes, descriptors, pipes in flight, files', () => {
    const c = first;
    expect(c.rootPid).toBe(pid);
    const root = c.processes.find((p) => p.pid === pid)!;
    expect(root.command).toBe('sh');
    expect(root.ppid).toBe(0);
    expect(root.sid).toBe(pid);
    for (const p of c.processes) {
      expect(p.state).toBe('alive');
      expect(p.threads.map((t) => t.tid)).toContain(p.pid);
      expect(p.threads[0]!.ip).toMatch(/^0x[0-9a-f]+$/);
      expect(p.memory.private).toBeGreaterThan(0);
      expect(p.mapped.file).toBeGreaterThan(0);
      // Own pagemap: private and file pages; shmem segments are counted on top.
      expect(p.memory.private + p.memory.file).toBe(p.pages * 4096);
    }
    const byCommand = (name: string) => c.processes.filter((p) => p.command === name);
    const gzip = byCommand('gzip')[0]!;
    const out = gzip.descriptors.find((d) => d.fd === 1);
    expect(out).toMatchObject({ type: 'file', path: join(dir, 'out.gz') });
    if (out?.type !== 'file') throw new Error('unreachable');
    expect(out.pos).toBeGreaterThan(0);
    expect(out.flags & 3).toBe(1); // O_WRONLY
    expect(gzip.descriptors.find((d) => d.fd === 0)).toMatchObject({ type: 'pipe', end: 'read' });
    expect(gzip.exe).toBe('/usr/bin/gzip');

    // The pipe whose writer is gone holds exactly what printf wrote.
    const inFlight = c.pipes.find((p) => p.bufferedBytes === 'cryopipe-in-flight'.length);
    expect(inFlight?.ends.map((e) => e.end)).toEqual(['read']);
    // yes | sleep: full (64 KiB), written by yes, read by sleep.
    const full = c.pipes.find((p) => p.bufferedBytes === 65536)!;
    const yesPids = new Set(byCommand('yes').map((p) => p.pid));
    const sleepPids = new Set(byCommand('sleep').map((p) => p.pid));
    expect(full.ends.some((e) => e.end === 'write' && yesPids.has(e.pid) && e.fd === 1)).toBe(true);
    expect(full.ends.some((e) => e.end === 'read' && sleepPids.has(e.pid) && e.fd === 0)).toBe(
      true,
    );
    const fifo = c.pipes.find((p) => p.kind === 'fifo')!;
    expect(fifo.bufferedBytes).toBe('fifo-in-flight'.length);

    const holder = byCommand('python3')[0]!;
    // Its 256 KiB MAP_SHARED anonymous mapping, 64 KiB of it written.
    expect(holder.memory.shared).toBe(64 * 1024);
    expect(holder.mapped.shared).toBeGreaterThanOrEqual(256 * 1024);
    for (const p of c.processes) if (p !== holder) expect(p.memory.shared).toBe(0);
    const kinds = holder.descriptors.map((d) => d.type);
    expect(kinds).toEqual(expect.arrayContaining(['unix-socket', 'inet-socket', 'fifo', 'tty']));
    const inet = holder.descriptors.filter((d) => d.type === 'inet-socket');
    expect(inet.map((d) => (d.type === 'inet-socket' ? d.src : '')).sort()).toEqual([
      '0:0:0:0:0:0:0:1',
      '127.0.0.1',
    ]);
    const named = holder.descriptors.find((d) => d.type === 'unix-socket' && d.name);
    expect(named?.type === 'unix-socket' && named.name).toMatch(/^@cryopipe-images-test-\d+$/);
    expect(holder.descriptors.find((d) => d.type === 'fifo')).toMatchObject({
      path: join(dir, 'fifo'),
    });
    expect(
      holder.descriptors.filter((d) => d.type === 'tty').map((d) => d.type === 'tty' && d.ttyType),
    ).toEqual(['PTY', 'PTY']);

    // Files the restore needs, with recorded sizes; out.gz is written.
    const outFile = c.files.find((f) => f.path === join(dir, 'out.gz'))!;
    expect(outFile.writable).toBe(true);
    expect(outFile.size).toBe(out.pos);
    expect(c.files.find((f) => f.path === '/usr/bin/gzip')?.uses).toContainEqual({
      pid: gzip.pid,
      use: 'exe',
    });
    expect(c.stats?.pagesWritten).toBeGreaterThan(0);
    expect(c.images.find((i) => i.name === 'pstree.img')).toMatchObject({
      kind: 'decoded',
      magic: 'PSTREE',
    });
    expect(c.images.find((i) => i.name === 'fs-' + pid + '.img')).toMatchObject({
      kind: 'unknown',
      magic: 'FS',
    });
    // JSON-serialisable as it is.
    expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  });

  it('diffs the two checkpoints: file offsets, pipe bytes, memory by kind', () => {
    const diff = diffCheckpoints(first, second);
    expect(JSON.parse(JSON.stringify(diff))).toEqual(diff);
    const gzip = first.processes.find((p) => p.command === 'gzip')!;
    const out = diff.files.find((f) => f.pid === gzip.pid && f.fd === 1)!;
    expect(out.path).toBe(join(dir, 'out.gz'));
    expect(out.delta).toBeGreaterThan(0);
    expect(out.sizeAfter! - out.sizeBefore!).toBe(out.delta);
    // The pipe fed a byte every 0.2 s by a `while` subshell (an `sh` that is not the root).
    const loop = first.processes.find((p) => p.command === 'sh' && p.pid !== pid)!;
    const slow = diff.pipes.find((p) => p.ends.some((e) => e.startsWith(`${loop.pid}:1:`)));
    expect(slow?.delta).toBeGreaterThan(0);
    expect(diff.pipes.find((p) => p.before === 65536)).toBeUndefined(); // unchanged: not listed
    for (const m of diff.memory.filter((m) => m.before && m.after)) {
      expect(m.delta.private).toBe(m.after!.private - m.before!.private);
    }
    expect(diffCheckpoints(first, first)).toMatchObject({ files: [], pipes: [] });
  });

  it('reads a directory in which a file vanishes after the listing (a sealer pid file)', async () => {
    // A dangling symlink is the deterministic stand-in: readdir lists it,
    // stat finds nothing, as for a file removed between the two.
    const gone = join(checkpoints[0]!, 'seal.pid');
    symlinkSync(join(checkpoints[0]!, 'no-such-file'), gone);
    try {
      const again = await readCheckpoint(checkpoints[0]!);
      expect(again).toEqual(first);
    } finally {
      rmSync(gone, { force: true });
    }
  });
});

describeWith(
  [root, criu, crit, binary('ffmpeg'), binary('aomenc')],
  'image decoder on an encode, against crit',
  () => {
    let dir: string;
    let pid = 0;

    afterAll(() => {
      if (pid) killTree(pid);
      if (dir) removeDir(dir);
    });

    it('decodes a checkpoint of ffmpeg | aomenc (threads, an output file, a pipe in flight) as crit does', {
      timeout: 120_000,
    }, async () => {
      dir = tempDir('criu-images-encode-');
      const output = join(dir, 'out.ivf');
      const script =
        'ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=320x240:rate=24 -frames:v 100000 ' +
        `-pix_fmt yuv420p -f yuv4mpegpipe - | aomenc --passes=1 --threads=1 --cpu-used=6 --ivf -q -o ${output} -`;
      const child = spawn('setsid', ['sh', '-c', script], { stdio: 'ignore' });
      pid = child.pid!;
      await waitFor(() => existsSync(output) && statSync(output).size > 0, 'aomenc output', 30_000);
      const imagesDir = join(dir, 'img');
      mkdirSync(imagesDir, { mode: 0o700 });
      const client = CriuClient.swrk();
      try {
        await client.dump({ pid, imagesDir, leaveRunning: true });
      } finally {
        client.close();
      }
      await compareDirsWithCrit([imagesDir]);

      const c = await readCheckpoint(imagesDir);
      const ffmpeg = c.processes.find((p) => p.command === 'ffmpeg')!;
      const aomenc = c.processes.find((p) => p.command === 'aomenc')!;
      // ffmpeg runs threads; each has its own core image, decoded.
      expect(ffmpeg.threads.length).toBeGreaterThan(1);
      for (const t of ffmpeg.threads) expect(t.ip).toMatch(/^0x[0-9a-f]+$/);
      expect(aomenc.memory.private).toBeGreaterThan(1 << 20);
      const between = c.pipes.find(
        (p) =>
          p.ends.some((e) => e.pid === ffmpeg.pid && e.fd === 1 && e.end === 'write') &&
          p.ends.some((e) => e.pid === aomenc.pid && e.fd === 0 && e.end === 'read'),
      );
      expect(between?.bufferedBytes).toBeGreaterThanOrEqual(0);
      const out = c.files.find((f) => f.path === output)!;
      expect(out.writable).toBe(true);
      expect(out.size).toBeGreaterThan(0);
    });
  },
);

/** Decodes every image of `dirs` with ours and with crit; asserts they agree field by field. */
async function compareDirsWithCrit(dirs: string[]) {
  const seen = new Set<string>();
  const fileTypes = new Set<unknown>();
  const paths = dirs.flatMap((d) =>
    readdirSync(d)
      .sort()
      .map((n) => join(d, n)),
  );
  const critJson = await critDecodeMany(paths.filter((p) => !/\/pages-\d+\.img$|\.log$/.test(p)));
  for (const path of paths) {
    const name = basename(path);
    const image = classifyImage(readFileSync(path), name);
    if (image.kind === 'raw') {
      // Pages and criu's log carry no CRIU framing.
      expect(name).toMatch(/^pages-\d+\.img$|\.log$/);
      continue;
    }
    const theirs = critJson.get(path)!;
    expect(image.magic, name).toBe(theirs.magic);
    seen.add(image.magic);
    if (image.kind === 'unknown') continue; // listed by name and size only
    const ours = imageToJson(image);
    expect(ours.entries.length, name).toBe(theirs.entries.length);
    ours.entries.forEach((entry, i) => {
      const other = theirs.entries[i] as Record<string, unknown>;
      const schema =
        image.magic === 'PAGEMAP' && i === 0
          ? pagemap_headSchema
          : ENTRY_SCHEMAS[image.magic as DecodedMagic];
      expect(compareEntry(schema, entry, other), `${name} entry ${i}`).toEqual([]);
      if (entry.extra !== undefined || other.extra !== undefined) {
        expect(entry.extra, `${name} entry ${i} extra`).toBe(
          String(other.extra).replace(/\s/g, ''),
        );
      }
      if (image.magic === 'FILES') fileTypes.add(entry.type);
    });
  }
  return { seen, fileTypes, critJson };
}

import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root, which } from '@cryopipe/testkit';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  childrenOf,
  fileNames,
  isAlive,
  killTree,
  removeDir,
  startPipeline,
  startPipelineOnTty,
  tempDir,
  treeOf,
  waitFor,
  waitGone,
} from '../test/trees.ts';
import { CriuClient } from './client.ts';
import { CriuError } from './errors.ts';
import { listeningSocketInodes, socketOwners } from './page-server-process.ts';

describeWith([root, criu], 'CriuClient over criu swrk', () => {
  let client: CriuClient;
  let dir: string;
  const started: number[] = [];

  beforeAll(() => {
    client = CriuClient.swrk();
  });
  afterAll(() => client.close());
  afterEach(() => {
    for (const pid of started.splice(0)) killTree(pid);
    if (dir) removeDir(dir);
  });

  function images(name: string): string {
    const path = join(dir, name);
    mkdirSync(path, { mode: 0o700 });
    return path;
  }

  it('reports the version of the provisioned criu', async () => {
    dir = tempDir();
    const version = await client.version();
    expect(version.major).toBeGreaterThanOrEqual(4);
    expect(version.text).toMatch(/^\d+\.\d+(\.\d+)?$/);
    // A repeat request reuses the open session.
    expect(await client.version()).toEqual(version);
  });

  it('trusts a version given to swrk(): version() answers it and dumps are checked against it', async () => {
    dir = tempDir();
    const real = await client.version();
    const known = CriuClient.swrk({ version: real });
    const old = CriuClient.swrk({ version: { ...real, major: 2, minor: 9, text: '2.9' } });
    try {
      expect(await known.version()).toBe(real);
      // The check uses the given version: no criu would refuse this dump itself.
      const err = (await old
        .dump({ pid: process.pid, imagesDir: images('old'), leaveRunning: true })
        .catch((e: unknown) => e)) as CriuError;
      expect(CriuError.is(err) && err.code).toBe('CRIU_TOO_OLD');
      expect(err.message).toContain('CRIU 2.9');
    } finally {
      known.close();
      old.close();
    }
  });

  it('runs criu check', async () => {
    dir = tempDir();
    await expect(client.check()).resolves.toBeUndefined();
  });

  it('answers a feature check', async () => {
    dir = tempDir();
    const features = await client.featureCheck({
      memTrack: true,
      lazyPages: true,
      pidfdStore: true,
    });
    expect(Object.keys(features).sort()).toEqual(['lazyPages', 'memTrack', 'pidfdStore']);
    for (const value of Object.values(features)) expect(typeof value).toBe('boolean');
    // The criu CLI's own answer is the witness.
    expect(features.memTrack).toBe(cliHasFeature('mem_dirty_track'));
    expect(features.lazyPages).toBe(cliHasFeature('uffd-noncoop'));
  });

  it('dumps a running pipeline with leaveRunning and returns stats', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const imagesDir = images('img');
    const result = await client.dump({ pid: tree.pid, imagesDir, leaveRunning: true });
    expect(result.restored).toBe(false);
    expect(isAlive(tree.pid)).toBe(true);
    expect(childrenOf(tree.pid)).toHaveLength(2);
    expect(fileNames(imagesDir)).toEqual(
      expect.arrayContaining(['pstree.img', 'dump.log', 'stats-dump']),
    );
    expect(result.stats?.pagesWritten).toBeGreaterThan(0);
    expect(result.stats?.frozenTimeUs).toBeGreaterThan(0);
  });

  it('dumps and restores a real pipeline, observing notify hooks in order', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const imagesDir = images('img');
    const pids = treeOf(tree.pid);
    const seen: string[] = [];
    await client.dump({ pid: tree.pid, imagesDir }, { onNotify: (n) => void seen.push(n.script) });
    expect(seen).toEqual(['pre-dump', 'query-ext-files', 'post-dump']);
    await waitGone(pids);
    const size = statSync(join(dir, 'out.gz')).size;

    const restoreSeen: string[] = [];
    let postRestorePid: number | undefined;
    const restored = await client.restore(
      { imagesDir },
      {
        onNotify: (n) => void restoreSeen.push(n.script),
        postRestore: (n) => {
          postRestorePid = n.pid;
        },
      },
    );
    started.push(restored.pid);
    // setup-namespaces / post-setup-namespaces come only for trees with
    // their own namespaces; this one shares ours.
    expect(restoreSeen).toEqual(['pre-restore', 'post-restore', 'pre-resume', 'post-resume']);
    expect(restored.pid).toBe(tree.pid);
    expect(postRestorePid).toBe(tree.pid);
    expect(isAlive(restored.pid)).toBe(true);
    expect(treeOf(restored.pid).sort()).toEqual([...pids].sort());
    expect(restored.stats?.restoreTimeUs).toBeGreaterThan(0);
    // The restored gzip keeps writing where it left off.
    await expect
      .poll(() => statSync(join(dir, 'out.gz')).size, { timeout: 20_000 })
      .toBeGreaterThan(size);
  });

  it('aborts a dump when the pre-dump hook returns false, leaving the tree running', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const err = await client
      .dump({ pid: tree.pid, imagesDir: images('img') }, { preDump: () => false })
      .catch((e: unknown) => e);
    expect(CriuError.is(err)).toBe(true);
    expect((err as CriuError).code).toBe('ABORTED_BY_HOOK');
    expect((err as CriuError).request).toBe('DUMP');
    expect(isAlive(tree.pid)).toBe(true);
    expect(childrenOf(tree.pid)).toHaveLength(2);
  });

  it('carries what a throwing hook threw', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const err = (await client
      .dump(
        { pid: tree.pid, imagesDir: images('img') },
        {
          postDump: () => {
            throw new Error('disk quota check failed');
          },
        },
      )
      .catch((e: unknown) => e)) as CriuError;
    expect(err.code).toBe('ABORTED_BY_HOOK');
    expect(err.message).toContain('disk quota check failed');
    expect(isAlive(tree.pid)).toBe(true);
  });

  it('names a pid that does not exist', async () => {
    dir = tempDir();
    const pid = unusedPid();
    const err = (await client
      .dump({ pid, imagesDir: images('img') })
      .catch((e: unknown) => e)) as CriuError;
    expect(CriuError.is(err)).toBe(true);
    expect(err.code).toBe('REQUEST_FAILED');
    expect(err.message).toMatch(/criu DUMP failed/);
    expect(err.logLines.length).toBeGreaterThan(0);
    expect(err.logLines.join('\n')).not.toMatch(/RLIMIT_NOFILE/);
    expect(err.message).toContain(String(pid));
  });

  it('refuses a missing images directory before starting criu', async () => {
    dir = tempDir();
    const missing = join(dir, 'nope');
    const err = (await client
      .dump({ pid: process.pid, imagesDir: missing })
      .catch((e: unknown) => e)) as CriuError;
    expect(err.code).toBe('INVALID_OPTIONS');
    expect(err.message).toContain(missing);
    expect(err.message).toMatch(/mkdir/);
  });

  it('refuses a log file path with a slash', async () => {
    dir = tempDir();
    const err = (await client
      .dump({ pid: process.pid, imagesDir: images('img'), logFile: 'a/b.log' })
      .catch((e: unknown) => e)) as CriuError;
    expect(err.code).toBe('INVALID_OPTIONS');
  });

  it('explains a tree that holds a terminal', async () => {
    dir = tempDir();
    const { scriptPid, pid } = await startPipelineOnTty(dir);
    started.push(scriptPid);
    const err = (await client
      .dump({ pid, imagesDir: images('img') })
      .catch((e: unknown) => e)) as CriuError;
    expect(CriuError.is(err)).toBe(true);
    expect(err.code).toBe('REQUEST_FAILED');
    expect(err.message).toMatch(/tty/);
    expect(err.message).toMatch(/setsid|shellJob/);
    expect(isAlive(pid)).toBe(true);
  });

  it('dumps into a page server started as a child of the session', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const received = images('received');
    const local = images('local');
    const server = await client.pageServerChld({
      imagesDir: received,
      address: '127.0.0.1',
      port: 0,
    });
    expect(server.pid).toBeGreaterThan(0);
    expect(server.port).toBeGreaterThan(0);
    await client.dump({
      pid: tree.pid,
      imagesDir: local,
      leaveRunning: true,
      pageServer: { address: '127.0.0.1', port: server.port },
    });
    const status = await client.waitPid(server.pid);
    expect(status).toBe(0);
    expect(fileNames(received).some((f) => /^pages-\d+\.img$/.test(f))).toBe(true);
    expect(fileNames(local).some((f) => /^pages-\d+\.img$/.test(f))).toBe(false);
    expect(isAlive(tree.pid)).toBe(true);
  });

  it('dumps into a daemonized page server, whose pid criu 4.2 does not report', async () => {
    dir = tempDir();
    const tree = await startPipeline(dir);
    started.push(tree.pid);
    const received = images('received');
    const server = await client.pageServer({ imagesDir: received, address: '127.0.0.1', port: 0 });
    expect(server.port).toBeGreaterThan(0);
    // The kernel is the witness: the pid we return owns the listening socket.
    expect(socketOwners(listeningSocketInodes(server.port))).toEqual([server.pid]);
    await client.dump({
      pid: tree.pid,
      imagesDir: images('local'),
      leaveRunning: true,
      pageServer: { address: '127.0.0.1', port: server.port },
    });
    expect(fileNames(received).some((f) => /^pages-\d+\.img$/.test(f))).toBe(true);
    // It serves one dump and exits; stop() then has nothing to do.
    await waitFor(() => !isAlive(server.pid), 'the page server to exit after the dump');
    expect(await server.stop()).toBe(false);
  });

  it('stops an idle daemonized page server and leaves none behind', async () => {
    dir = tempDir();
    const server = await client.pageServer({ imagesDir: images('received'), port: 0 });
    expect(isAlive(server.pid)).toBe(true);
    expect(await server.stop()).toBe(true);
    expect(isAlive(server.pid)).toBe(false);
    expect(listeningSocketInodes(server.port).size).toBe(0);
    expect(await server.stop()).toBe(false);
  });

  it('fails a page server on a taken port without leaving a daemon', async () => {
    dir = tempDir();
    const first = await client.pageServer({ imagesDir: images('a'), port: 0 });
    try {
      const err = (await client
        .pageServer({ imagesDir: images('b'), port: first.port })
        .catch((e: unknown) => e)) as CriuError;
      expect(CriuError.is(err)).toBe(true);
      expect(err.request).toBe('PAGE_SERVER');
      // Only the first server holds the port, and it is still serving.
      expect(socketOwners(listeningSocketInodes(first.port))).toEqual([first.pid]);
      expect(pageServerPids(dir)).toEqual([first.pid]);
    } finally {
      await first.stop();
    }
  });

  it('applies raw logFile and imagesDirFd after the typed options', async () => {
    dir = tempDir();
    const typed = images('typed');
    const viaRaw = images('raw');
    const fd = openSync(viaRaw, 'r');
    try {
      await client.cpuinfoDump({ imagesDir: typed, raw: { logFile: 'mine.log', imagesDirFd: fd } });
    } finally {
      closeSync(fd);
    }
    expect(fileNames(viaRaw).sort()).toEqual(['cpuinfo.img', 'mine.log']);
    expect(fileNames(typed)).toEqual([]);
    const err = (await client
      .cpuinfoDump({ imagesDir: typed, raw: { logFile: '../x.log' } })
      .catch((e: unknown) => e)) as CriuError;
    expect(err.code).toBe('INVALID_OPTIONS');
  });

  it('dumps and checks cpuinfo', async () => {
    dir = tempDir();
    const imagesDir = images('cpu');
    await client.cpuinfoDump({ imagesDir });
    expect(fileNames(imagesDir)).toContain('cpuinfo.img');
    await expect(client.cpuinfoCheck({ imagesDir })).resolves.toBeUndefined();
  });
});

/** A PID nothing uses: above every live one, below pid_max. */
function unusedPid(): number {
  let pid = 4_000_000;
  while (existsSync(`/proc/${pid}`)) pid++;
  return pid;
}

function cliHasFeature(name: string): boolean {
  try {
    execFileSync(which('criu') ?? 'criu', ['check', '--feature', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes criu titled as page servers. */
/**
 * Page servers of this test: criu page-server processes holding a descriptor
 * under `within` (their images directory). Other test files run page servers
 * of their own at the same time (migrate), which are none of this test's.
 */
function pageServerPids(within: string): number[] {
  const holdsDirUnder = (pid: number) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${within}/`);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  };
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('page-server') &&
          isAlive(pid) &&
          holdsDirUnder(pid)
        );
      } catch {
        return false;
      }
    });
}

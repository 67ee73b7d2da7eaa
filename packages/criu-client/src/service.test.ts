import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root, which } from '@cryopipe/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isAlive, killTree, removeDir, startPipeline, tempDir, waitFor } from '../test/trees.ts';
import { CriuClient } from './client.ts';
import { CriuError } from './errors.ts';

describeWith([root, criu], 'CriuClient over a criu service socket', () => {
  let dir: string;
  let service: ChildProcess;
  let client: CriuClient;

  beforeAll(async () => {
    dir = tempDir('criu-service-');
    const socketPath = join(dir, 'criu.sock');
    service = spawn(
      which('criu')!,
      ['service', '--address', socketPath, '-o', join(dir, 'service.log')],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    await waitFor(() => existsSync(socketPath), 'criu service socket');
    client = CriuClient.service(socketPath);
  });

  afterAll(async () => {
    client?.close();
    if (service?.pid !== undefined && service.exitCode === null) {
      const exited = new Promise((resolve) => service.on('exit', resolve));
      process.kill(service.pid, 'SIGTERM');
      await exited;
    }
    removeDir(dir);
  });

  it('answers VERSION', async () => {
    expect(client.transport).toBe('service');
    const version = await client.version();
    expect(version.major).toBeGreaterThanOrEqual(4);
  });

  it('dumps a pipeline with leaveRunning through the service', async () => {
    const tree = await startPipeline(dir);
    try {
      const imagesDir = join(dir, 'img');
      mkdirSync(imagesDir);
      const seen: string[] = [];
      const result = await client.dump(
        { pid: tree.pid, imagesDir, leaveRunning: true },
        { onNotify: (n) => void seen.push(n.script) },
      );
      expect(seen).toEqual(['pre-dump', 'query-ext-files', 'post-dump']);
      expect(result.stats?.pagesWritten).toBeGreaterThan(0);
      expect(isAlive(tree.pid)).toBe(true);
    } finally {
      killTree(tree.pid);
    }
  });

  it('says what to do when no service listens', async () => {
    const other = CriuClient.service(join(dir, 'absent.sock'));
    const err = (await other.version().catch((e: unknown) => e)) as CriuError;
    expect(CriuError.is(err)).toBe(true);
    expect(err.code).toBe('CONNECTION_LOST');
    expect(err.message).toMatch(/criu service --address/);
  });
});

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../test/trees.ts';
import { findPageServerPid, listeningSocketInodes, socketOwners } from './page-server-process.ts';

const header =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
// Port 0x8143 = 33091. Rows: a listener (0A), an established socket on the same port (01), another port.
const tcp =
  header +
  '   0: 0100007F:8143 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 27487 1 0 100 0 0 10 0\n' +
  '   1: 0100007F:8143 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 27500 1 0 20 4 30 10 -1\n' +
  '   2: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1116 1 0 100 0 0 10 0\n';
const tcp6 =
  header +
  '   0: 00000000000000000000000000000000:8143 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 27600 1 0 100 0 0 10 0\n';

describe('finding the page server daemon from /proc', () => {
  let root: string;
  afterEach(() => removeDir(root));

  function proc(pid: number, cmdline: string, sockets: number[]) {
    mkdirSync(join(root, String(pid), 'fd'), { recursive: true });
    writeFileSync(join(root, String(pid), 'cmdline'), cmdline.replaceAll(' ', '\0'));
    for (const [fd, inode] of sockets.entries()) {
      symlinkSync(`socket:[${inode}]`, join(root, String(pid), 'fd', String(fd)));
    }
  }

  it('takes listening sockets on the port from tcp and tcp6, and finds their owner', () => {
    root = tempDir('procfs-fixture-');
    mkdirSync(join(root, 'net'));
    writeFileSync(join(root, 'net/tcp'), tcp);
    writeFileSync(join(root, 'net/tcp6'), tcp6);
    expect([...listeningSocketInodes(33091, root)].sort()).toEqual(['27487', '27600']);
    expect(listeningSocketInodes(2024, root)).toEqual(new Set(['1116']));
    proc(100, 'criu: page-server --rpc --address 127.0.0.1 --port 0', [27487]);
    proc(200, 'nginx', [1116]);
    proc(300, 'criu: page-server --rpc --address 127.0.0.1 --port 4444', [27500]);
    expect(socketOwners(new Set(['27487', '27600']), root)).toEqual([100]);
    expect(findPageServerPid(33091, root)).toBe(100);
    // Owner of a listener, but not a page server: never returned (so never killed).
    expect(findPageServerPid(2024, root)).toBeUndefined();
    // A listener that was there before a request is never the request's.
    expect(findPageServerPid(33091, root, new Set(['27487', '27600']))).toBeUndefined();
    expect(findPageServerPid(33091, root, new Set(['27600']))).toBe(100);
  });

  it('copes with a kernel without IPv6', () => {
    root = tempDir('procfs-fixture-');
    mkdirSync(join(root, 'net'));
    writeFileSync(join(root, 'net/tcp'), tcp);
    expect(listeningSocketInodes(33091, root)).toEqual(new Set(['27487']));
  });
});

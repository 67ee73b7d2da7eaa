import { execFileSync, spawn } from 'node:child_process';
import { existsSync, fstatSync, readFileSync } from 'node:fs';
import { binary, describeWith } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { addonCandidates, loadAddon } from './native.ts';
import { closeQuietly, SeqpacketSocket } from './seqpacket-socket.ts';

describe('SeqpacketSocket', () => {
  it('delivers each message whole and at its exact size, in order', async () => {
    const addon = loadAddon();
    const [a, b] = addon.socketpair();
    const reader = new SeqpacketSocket(b);
    // Large enough that net.Socket-style 64 KiB reads would cut it.
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    addon.send(a, big);
    addon.send(a, new Uint8Array([1, 2, 3]));
    addon.send(a, new Uint8Array(0));
    const first = await reader.receive();
    expect(first.data.length).toBe(big.length);
    expect(Buffer.from(first.data).equals(Buffer.from(big))).toBe(true);
    expect([...(await reader.receive()).data]).toEqual([1, 2, 3]);
    addon.close(a);
    // A zero-length message and EOF look alike to recv(); EOF ends the stream.
    await expect(reader.receive()).rejects.toThrow(/closed the connection/);
    reader.close();
  });

  it('is SOCK_SEQPACKET (what criu swrk requires)', () => {
    const { socket, peerFd } = SeqpacketSocket.pair();
    expect(fstatSync(socket.fd).isSocket()).toBe(true);
    // /proc/net/unix lists type 0005 (SOCK_SEQPACKET) for our inode.
    const inode = fstatSync(socket.fd).ino;
    const row = readFileSync('/proc/net/unix', 'utf8')
      .split('\n')
      .find((line) => line.trim().split(/\s+/)[6] === String(inode));
    expect(row?.trim().split(/\s+/)[4]).toBe('0005');
    socket.close();
    closeQuietly(peerFd);
  });

  it('survives closing readers and then collecting them (no use after free)', () => {
    const addonPath = addonCandidates().find((path) => existsSync(path))!;
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 200; i++) {
          const [a, b] = addon.socketpair();
          const reader = new addon.Reader(b, () => {});
          if (i % 2) { reader.start(); reader.close(); }
          addon.close(a); addon.close(b);
        }
        globalThis.gc();
      }
      setTimeout(() => { globalThis.gc(); console.log('ok'); }, 50);`;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('ok');
  });

  it('rejects a pending receive when closed', async () => {
    const { socket, peerFd } = SeqpacketSocket.pair();
    const pending = socket.receive();
    socket.close();
    await expect(pending).rejects.toThrow(/closed/);
    closeQuietly(peerFd);
  });
});

describeWith([binary('python3')], 'SeqpacketSocket descriptor passing', () => {
  it('receives descriptors sent with SCM_RIGHTS', async () => {
    const { socket, peerFd } = SeqpacketSocket.pair();
    // Another process sends its /etc/hostname descriptor, as criu sends a pty master.
    const sender = spawn(
      'python3',
      [
        '-c',
        'import socket,os; s=socket.socket(fileno=3); socket.send_fds(s,[b"fd"],[os.open("/etc/hostname",os.O_RDONLY)])',
      ],
      { stdio: ['ignore', 'inherit', 'inherit', peerFd] },
    );
    closeQuietly(peerFd);
    const message = await socket.receive();
    expect(Buffer.from(message.data).toString()).toBe('fd');
    expect(message.fds).toHaveLength(1);
    const fd = message.fds[0]!;
    expect(readFileSync(`/proc/self/fd/${fd}`, 'utf8')).toBe(readFileSync('/etc/hostname', 'utf8'));
    closeQuietly(fd);
    await new Promise((resolve) => sender.on('exit', resolve));
    socket.close();
  });
});

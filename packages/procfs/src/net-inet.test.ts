import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { parseNetInet } from './net-inet.ts';

describe('parseNetInet', () => {
  it('decodes IPv4 endpoints and states', () => {
    const tcp = parseNetInet(fixtureText('100/net/tcp'));
    expect(tcp.find((s) => s.inode === 5151)).toEqual({
      local: { address: '127.0.0.1', port: 8080 },
      remote: { address: '127.0.0.1', port: 50000 },
      state: 'ESTABLISHED',
      uid: 1000,
      inode: 5151,
    });
  });
  it('decodes IPv6 endpoints with zero compression', () => {
    const tcp6 = parseNetInet(fixtureText('100/net/tcp6'));
    expect(tcp6[0]).toMatchObject({ local: { address: '::1', port: 22 }, state: 'LISTEN' });
    expect(tcp6[1]!.local.address).toBe('fe80::ff:fe00:1');
    expect(tcp6[1]!.remote.address).toBe('::');
  });
  it('rejects a truncated row', () => {
    expect(() => parseNetInet('  sl  local_address\n   0: 0100007F:1F90\n')).toThrow(/truncated/);
  });
});

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  criu_cg_mode,
  criu_network_lock_method,
  criu_optsSchema,
  criu_pre_dump_mode,
} from './gen/rpc_pb.ts';
import { toCriuOpts } from './options.ts';

describe('toCriuOpts', () => {
  it('maps typed dump options onto criu_opts fields', () => {
    const opts = toCriuOpts({
      pid: 42,
      imagesDir: '/x',
      leaveRunning: true,
      shellJob: false,
      tcpEstablished: true,
      extUnixSk: true,
      fileLocks: true,
      trackMem: true,
      parentImg: '../pre',
      external: ['tty[88:1]'],
      networkLock: 'nftables',
      manageCgroups: 'soft',
      timeout: 30,
      pageServer: { address: '127.0.0.1', port: 1234 },
      preDumpMode: 'vm-read',
      logLevel: 4,
    });
    expect(opts).toMatchObject({
      pid: 42,
      leaveRunning: true,
      shellJob: false,
      tcpEstablished: true,
      extUnixSk: true,
      fileLocks: true,
      trackMem: true,
      parentImg: '../pre',
      external: ['tty[88:1]'],
      networkLock: criu_network_lock_method.NFTABLES,
      manageCgroups: true,
      manageCgroupsMode: criu_cg_mode.SOFT,
      timeout: 30,
      ps: { address: '127.0.0.1', port: 1234 },
      preDumpMode: criu_pre_dump_mode.VM_READ,
      logLevel: 4,
    });
    expect(opts).not.toHaveProperty('imagesDir');
  });

  it('leaves unset options unset so criu keeps its defaults', () => {
    const message = create(criu_optsSchema, { ...toCriuOpts({ imagesDir: '/x' }), imagesDirFd: 5 });
    const decoded = fromBinary(criu_optsSchema, toBinary(criu_optsSchema, message));
    expect(decoded.logLevel).toBe(2);
    expect(decoded.networkLock).toBe(criu_network_lock_method.IPTABLES);
    expect(toBinary(criu_optsSchema, message)).toEqual(new Uint8Array([0x08, 0x05]));
  });

  it('lets raw fields override the typed ones', () => {
    expect(
      toCriuOpts({ imagesDir: '/x', shellJob: false, raw: { shellJob: true, ghostLimit: 7 } }),
    ).toMatchObject({
      shellJob: true,
      ghostLimit: 7,
    });
  });

  it('maps restore options, with booleans for cgroup management', () => {
    expect(
      toCriuOpts({
        imagesDir: '/x',
        rstSibling: true,
        orphanPtsMaster: true,
        manageCgroups: false,
        root: '/r',
      }),
    ).toEqual({ rstSibling: true, orphanPtsMaster: true, manageCgroups: false, root: '/r' });
  });
});

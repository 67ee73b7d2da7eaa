import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseScontrol, slurmSeconds } from './scontrol.ts';
import { parseSignalSpec } from './signal-spec.ts';
import { homeFileSystem, type SlurmFacts, slurmFindings } from './slurm-facts.ts';

/** A setup with nothing to say about it; each test changes one fact. */
const good: SlurmFacts = {
  signalSpec: parseSignalSpec('B:USR1@120'),
  signalSource: 'batch script',
  warningSignal: 'SIGUSR1',
  proctrack: 'proctrack/cgroup',
  killWaitS: 30,
  preemptSendsSignal: true,
  partition: { name: 'low', preemptMode: 'REQUEUE', graceTimeS: 60 },
  nodeCount: 4,
  home: { path: '/shared/cryopipe', fsType: 'nfs', shared: true },
  lastCheckpointMs: 2_000,
  parentIsStepd: true,
};
const ids = (f: Partial<SlurmFacts>) => slurmFindings({ ...good, ...f }).map((x) => x.id);

describe('slurmFindings', () => {
  it('says nothing about a good setup', () => {
    expect(slurmFindings(good)).toEqual([]);
  });
  it('a --signal without B: never reaches the batch shell', () => {
    const [f] = slurmFindings({ ...good, signalSpec: parseSignalSpec('USR1@120') });
    expect(f).toMatchObject({ id: 'signal-not-batch', level: 'warning' });
    expect(f!.hint).toBe('write --signal=B:USR1@120');
  });
  it('no --signal at all, another signal than the one awaited', () => {
    expect(ids({ signalSpec: undefined })).toEqual(['no-signal']);
    expect(ids({ signalSpec: parseSignalSpec('B:USR2@120') })).toEqual(['signal-mismatch']);
  });
  it('a warning time or KillWait shorter than the last checkpoint', () => {
    expect(ids({ lastCheckpointMs: 150_000 })).toEqual(['warning-too-short', 'killwait-too-short']);
    expect(ids({ lastCheckpointMs: undefined, killWaitS: 1 })).toEqual([]);
  });
  it('preemption by requeue without preempt_send_user_signal', () => {
    expect(ids({ preemptSendsSignal: false })).toEqual(['preempt-no-signal']);
    expect(
      ids({
        preemptSendsSignal: false,
        partition: { name: 'main', preemptMode: 'OFF', graceTimeS: 0 },
      }),
    ).toEqual([]);
  });
  it('a node-local home matters only on a cluster of several nodes', () => {
    const local = { path: '/var/tmp/c', fsType: 'ext4', shared: false };
    expect(ids({ home: local })).toEqual(['home-not-shared']);
    expect(ids({ home: local, nodeCount: 1 })).toEqual([]);
  });
  it('linuxproc, and a script that did not exec cryopipe', () => {
    expect(ids({ proctrack: 'proctrack/linuxproc' })).toEqual(['linuxproc']);
    expect(ids({ parentIsStepd: false })).toEqual(['not-exec']);
  });
});

describe('homeFileSystem', () => {
  it('names the real file system of a directory', () => {
    const fs = homeFileSystem(tmpdir());
    expect(fs.path).toBe(tmpdir());
    expect(fs.fsType).toMatch(/^(ext4|xfs|btrfs|tmpfs|overlay|zfs|0x[0-9a-f]+)$/);
  });
});

describe('parseScontrol', () => {
  it('reads show config lines and show job pairs', () => {
    const m = parseScontrol(
      'KillWait                = 30 sec\nProctrackType           = proctrack/cgroup\n   JobState=RUNNING Reason=None Dependency=(null)\n   Requeue=1 Restarts=2',
    );
    expect(m.get('KillWait')).toBe('30 sec');
    expect(m.get('ProctrackType')).toBe('proctrack/cgroup');
    expect(m.get('JobState')).toBe('RUNNING');
    expect(m.get('Restarts')).toBe('2');
  });
});

describe('slurmSeconds', () => {
  it('reads the forms scontrol prints', () => {
    expect(slurmSeconds('00:00:02')).toBe(2);
    expect(slurmSeconds('00:01:00')).toBe(60);
    expect(slurmSeconds('1-02:03:04')).toBe(93_784);
    expect(slurmSeconds('05:07')).toBe(307);
    expect(slurmSeconds('UNLIMITED')).toBeUndefined();
    expect(slurmSeconds(undefined)).toBeUndefined();
  });
});

import type { Snapshot } from '@cryopipe/procfs';
import { describe, expect, it } from 'vitest';
import { fileLockFindings, parseLocks } from './file-locks.ts';

const PROC_LOCKS = `1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234 0 EOF
1: -> FLOCK  ADVISORY  WRITE 4343 00:2a:1234 0 EOF
2: POSIX  ADVISORY  READ 4244 fd:01:99 0 100
3: OFDLCK ADVISORY  WRITE -1 08:01:7 0 EOF
garbage line
`;

/** Just enough of a snapshot: pids 10 (flock) and 11 (sh) in the tree, 4242 outside. */
const snap = {
  rootPid: 10,
  processes: new Map([
    [10, { pid: 10, stat: { comm: 'flock' }, fds: [] }],
    [11, { pid: 11, stat: { comm: 'sh' }, fds: [] }],
  ]),
  outside: { stats: new Map([[4242, { comm: 'flock' }]]) },
} as unknown as Snapshot;

describe('file locks', () => {
  it('parses /proc/locks and fdinfo lock: lines, leaving out waiters and garbage', () => {
    expect(parseLocks(PROC_LOCKS)).toEqual([
      { kind: 'FLOCK', mode: 'ADVISORY', access: 'WRITE', pid: 4242, file: '00:2a:1234' },
      { kind: 'POSIX', mode: 'ADVISORY', access: 'READ', pid: 4244, file: 'fd:01:99' },
      { kind: 'OFDLCK', mode: 'ADVISORY', access: 'WRITE', pid: -1, file: '08:01:7' },
    ]);
    expect(
      parseLocks('pos:\t0\nflags:\t02\nlock:\t1: FLOCK  ADVISORY  WRITE 10 00:2a:5 0 EOF\n'),
    ).toEqual([{ kind: 'FLOCK', mode: 'ADVISORY', access: 'WRITE', pid: 10, file: '00:2a:5' }]);
    expect(parseLocks('')).toEqual([]);
  });

  it('locks only the tree holds are info (criu saves them); one also held outside blocks', () => {
    const held = [
      {
        kind: 'FLOCK',
        mode: 'ADVISORY',
        access: 'WRITE',
        pid: 10,
        file: '00:2a:5',
        holderPid: 11,
        fd: 3,
        path: '/w/job.lock',
      },
    ];
    const inside = fileLockFindings(snap, { held, all: [held[0]!] });
    expect(inside).toMatchObject([{ id: 'file-locks', severity: 'info' }]);
    expect(inside[0]!.evidence).toEqual([
      { pid: 11, comm: 'sh', fd: 3, target: '/w/job.lock (FLOCK WRITE)' },
    ]);
    const outside = fileLockFindings(snap, {
      held: [{ ...held[0]!, pid: 4242 }],
      all: [{ ...held[0]!, pid: 4242 }],
    });
    expect(outside).toMatchObject([{ id: 'file-locks-outside', severity: 'blocker' }]);
    expect(outside[0]!.message).toMatch(/outside it hold too \(flock 4242\)/);
    expect(fileLockFindings(snap, { held: [], all: [held[0]!] })).toEqual([]);
  });
});

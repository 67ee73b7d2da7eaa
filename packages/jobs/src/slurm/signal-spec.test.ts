import { describe, expect, it } from 'vitest';
import { parseSignalSpec, signalSpecInScript } from './signal-spec.ts';

describe('parseSignalSpec', () => {
  it('reads the batch flag, the signal and the warning time', () => {
    expect(parseSignalSpec('B:USR1@120')).toMatchObject({
      batch: true,
      noRequeue: false,
      signal: 'SIGUSR1',
      seconds: 120,
    });
    expect(parseSignalSpec('USR2')).toMatchObject({ batch: false, signal: 'SIGUSR2', seconds: 60 });
    expect(parseSignalSpec('RB:10@30')).toMatchObject({
      batch: true,
      noRequeue: true,
      signal: 'SIGUSR1',
      seconds: 30,
    });
    expect(parseSignalSpec('sigterm@5')).toMatchObject({ signal: 'SIGTERM', seconds: 5 });
  });
  it('refuses what sbatch would refuse, with the form to use', () => {
    expect(() => parseSignalSpec('B:NOPE@1')).toThrow(/not a Slurm signal spec/);
    expect(() => parseSignalSpec('USR1@')).toThrow(
      expect.objectContaining({ code: 'USAGE', hint: expect.stringMatching(/B:USR1@120/) }),
    );
  });
});

describe('signalSpecInScript', () => {
  it('takes the last --signal of the #SBATCH block, in either spelling', () => {
    const script = [
      '#!/bin/bash',
      '#SBATCH --signal=USR1@60',
      '',
      '#SBATCH --time=10 --signal B:USR2@90',
      '# a comment',
      'echo hi',
      '#SBATCH --signal=B:TERM@1',
    ].join('\n');
    expect(signalSpecInScript(script)).toBe('B:USR2@90');
  });
  it('finds none in a script without one', () => {
    expect(signalSpecInScript('#!/bin/sh\n#SBATCH --requeue\nexec true\n')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { SPEC_HEADER } from './facts.ts';
import { resolvePipeline } from './spec.ts';
import { encodeSpec } from './spec-encoding.ts';

describe('encodeSpec', () => {
  it('writes NUL-separated records the launcher parses', () => {
    const p = resolvePipeline(
      {
        stages: [{ argv: ['printf', 'a\nb'] }, { argv: ['cat'], umask: 0o027 }],
        env: { PATH: '/bin' },
        cwd: '/w',
        stderr: { type: 'null' },
      },
      '/run',
    );
    const tokens = encodeSpec(p, 'auto').toString().split('\0');
    expect(tokens.pop()).toBe('');
    expect(tokens).toEqual([
      SPEC_HEADER,
      'pidns',
      '2',
      'pipes',
      '1',
      'stage',
      'cwd',
      '/w',
      'umask',
      '22',
      'arg',
      'printf',
      'arg',
      'a\nb',
      'env',
      'PATH=/bin',
      'fd',
      '0',
      'null',
      'r',
      'fd',
      '1',
      'pipe',
      '0',
      'w',
      'fd',
      '2',
      'null',
      'w',
      'stage',
      'cwd',
      '/w',
      'umask',
      '27',
      'arg',
      'cat',
      'env',
      'PATH=/bin',
      'fd',
      '0',
      'pipe',
      '0',
      'r',
      'fd',
      '1',
      'file',
      't',
      '/run/stdout',
      'fd',
      '2',
      'null',
      'w',
      'end',
    ]);
  });

  it('encodes the PID namespace request', () => {
    const p = resolvePipeline({ stages: [{ argv: ['true'] }] }, '/run');
    expect(encodeSpec(p, true).toString().split('\0')[2]).toBe('1');
    expect(encodeSpec(p, false).toString().split('\0')[2]).toBe('0');
  });
});

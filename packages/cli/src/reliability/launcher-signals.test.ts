// Fault matrix row 10: SIGTERM or SIGINT to the launcher ends every stage, and says so.
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { until } from '../../test/cli-harness.ts';
import { cmdlineOf, pidExists, untilFinished, useFaultCli } from '../../test/fault-harness.ts';

describeWith([root, criu], 'fault matrix: signals to the launcher', () => {
  const { cli, home } = useFaultCli();

  for (const [signal, code, plain] of [
    ['TERM', 143, false],
    ['INT', 130, false],
    ['TERM', 143, true],
    ['INT', 130, true],
  ] as const) {
    it(`SIG${signal} (${plain ? 'plain' : 'PID namespace'}): every stage ends by it, wait exits ${code}, ps and wait record it`, async () => {
      const name = `sig-${signal.toLowerCase()}-${plain ? 'plain' : 'pidns'}`;
      // Two stages that die of the signal itself (a shell would defer it while it waits).
      const started = cli(
        'run',
        '--name',
        name,
        '--json',
        ...(plain ? ['--no-pid-namespace'] : []),
        '--',
        'sleep',
        '1000',
        '|',
        'cat',
      );
      expect(started.status, started.stderr).toBe(0);
      const stagePids = (started.json().stages as { pid: number }[]).map((s) => s.pid);
      expect(stagePids).toHaveLength(2);
      await until(() => stagePids.every((p) => cmdlineOf(p) !== ''), 'the stages to start');
      const sent = cli('kill', name, '-s', signal);
      expect(sent.status, sent.stderr).toBe(0);
      await untilFinished(home, started.json().id);
      const waited = cli('wait', name, '--json');
      expect(waited.status, waited.stdout).toBe(code);
      const result = waited.json();
      expect(result.state).toBe('failed');
      expect(result.stages.map((s: { signal?: string }) => s.signal)).toEqual([
        `SIG${signal}`,
        `SIG${signal}`,
      ]);
      expect(stagePids.filter(pidExists)).toEqual([]);
      const ps = (
        cli('ps', '--json').json() as { name: string; state: string; exitCode: number }[]
      ).find((j) => j.name === name);
      expect(ps).toMatchObject({ state: 'failed', exitCode: code });
    });
  }
});

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { beforeAll, expect, it } from 'vitest';
import {
  childrenOf,
  commOf,
  encodeLine,
  referenceEncode,
  sizeOf,
  TmuxServer,
} from '../test/adopt-pane.ts';
import { cliPath, until, useCli } from '../test/cli-harness.ts';

describeWith(
  [root, criu, binary('tmux'), binary('ffmpeg'), binary('aomenc')],
  'cryopipe adopt: a pipeline running in a tmux pane',
  () => {
    const { dir, home, cli } = useCli();
    let reference: Buffer;
    beforeAll(() => {
      reference = referenceEncode(join(dir, 'reference.ivf'));
    }, 120_000);

    /** Adopts `pid` once `output` shows the encode is under way, then closes tmux. */
    async function adoptMidway(tmux: TmuxServer, pid: number, output: string, name: string) {
      try {
        await until(() => sizeOf(output) > 16 * 1024, `${output} to grow`);
        const r = cli('adopt', String(pid), '--name', name);
        expect(r.stderr).toContain(`adopting pid ${pid}`);
        expect(r.status, r.stderr).toBe(0);
        expect(sizeOf(output)).toBeLessThan(reference.length); // really mid-way
      } finally {
        await tmux.kill(); // the user closes the terminal: the job must not care
      }
    }

    it('bash -c running the pipeline: finishes byte-identical, terminal output in logs', async () => {
      const output = join(dir, 'pane.ivf');
      const tmux = await TmuxServer.start(`bash -c '${encodeLine(output)}; echo encode-done'`);
      await adoptMidway(tmux, tmux.panePid, output, 'pane');
      const ps = cli('ps', '--json').json() as { name?: string; state: string }[];
      expect(ps.find((j) => j.name === 'pane')?.state).toBe('running');
      const w = cli('wait', 'pane');
      expect(w.status, w.stderr).toBe(0);
      expect(readFileSync(output).equals(reference)).toBe(true);
      // Written to the pane's terminal after the adoption: now the keeper's pty, logged.
      expect(cli('logs', 'pane').stdout).toContain('encode-done');
    });

    it('an interactive shell with the pipeline typed at its prompt: adopted whole, left with exit via attach', async () => {
      const output = join(dir, 'shell.ivf');
      const tmux = await TmuxServer.start('bash --norc --noprofile -i');
      await until(() => existsSync(`/proc/${tmux.panePid}`), 'the pane shell');
      await tmux.type(encodeLine(output));
      await adoptMidway(tmux, tmux.panePid, output, 'shell');
      // The pipeline ends; the shell stays at its prompt until told to exit.
      await until(() => sizeOf(output) === reference.length, 'the encode to finish', 90_000);
      // Typed through attach with a non-terminal stdin, as a script would.
      const a = cliWithInput('exit 7\n', 'attach', 'shell');
      expect(a.status, a.stderr).toBe(0);
      expect(a.stderr).toContain('attached to');
      const w = cli('wait', 'shell');
      expect(w.status).toBe(7);
      expect(readFileSync(output).equals(reference)).toBe(true);
      expect(cli('logs', 'shell').stdout).toContain('exit 7');
    });

    it('a root that is not the session leader (bash -c started from an interactive shell)', async () => {
      const output = join(dir, 'child.ivf');
      const tmux = await TmuxServer.start('bash --norc --noprofile -i');
      await tmux.type(`bash -c '${encodeLine(output)}'`);
      let pid = 0;
      await until(() => {
        pid = childrenOf(tmux.panePid).find((c) => commOf(c) === 'bash') ?? 0;
        return pid > 0;
      }, 'the bash -c child of the pane shell');
      await adoptMidway(tmux, pid, output, 'child');
      const w = cli('wait', 'child');
      expect(w.status, w.stderr).toBe(0);
      expect(readFileSync(output).equals(reference)).toBe(true);
    });

    it('an adopted job is checkpointed and restored again like any job: byte-identical', async () => {
      const output = join(dir, 'again.ivf');
      const tmux = await TmuxServer.start(`bash -c '${encodeLine(output)}; echo again-done'`);
      await adoptMidway(tmux, tmux.panePid, output, 'again');
      await until(() => sizeOf(output) > reference.length / 2, 'the adopted encode to go on');
      const cp = cli('checkpoint', 'again', '--json');
      expect(cp.status, cp.stderr).toBe(0);
      expect(cp.json().files.map((f: { path: string }) => f.path)).toContain(output);
      const state = () =>
        (cli('ps', '--json').json() as { name?: string; state: string }[]).find(
          (j) => j.name === 'again',
        )?.state;
      expect(state()).toBe('checkpointed');
      expect(sizeOf(output)).toBeLessThan(reference.length);

      const rs = cli('restore', 'again', '--json');
      expect(rs.status, rs.stderr).toBe(0);
      expect(state()).toBe('running');
      const w = cli('wait', 'again');
      expect(w.status, w.stderr).toBe(0);
      expect(readFileSync(output).equals(reference)).toBe(true);
      expect(cli('logs', 'again').stdout).toContain('again-done');
    });

    function cliWithInput(input: string, ...args: string[]) {
      return spawnSync(process.execPath, [cliPath, ...args], {
        cwd: dir,
        input,
        encoding: 'utf8',
        env: { ...process.env, CRYOPIPE_HOME: home, NO_COLOR: '1' },
        timeout: 60_000,
      });
    }
  },
);

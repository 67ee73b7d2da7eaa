import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root, which } from '@cryopipe/testkit';
import { describe, expect, it } from 'vitest';
import { until, useCli } from '../test/cli-harness.ts';
import { commands } from './commands/all.ts';

describe('cryopipe usage comforts', () => {
  const { cli, dir } = useCli();

  it('suggests the command meant', () => {
    for (const [typed, meant] of [
      ['chekpoint', 'checkpoint'],
      ['checkpiont', 'checkpoint'],
      ['restor', 'restore'],
      ['sp', 'ps'],
      ['exprot', 'export'],
    ]) {
      const r = cli(typed!);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`unknown command '${typed}'`);
      expect(r.stderr).toContain(`did you mean 'cryopipe ${meant}'?`);
    }
    const far = cli('frobnicate');
    expect(far.status).toBe(2);
    expect(far.stderr).not.toMatch(/did you mean/);
    const opt = cli('ps', '--quite');
    expect(opt.status).toBe(2);
    expect(opt.stderr).toMatch(/did you mean --quiet\?/);
  });

  it('answers usage errors with a JSON document and exit 2 under --json', () => {
    for (const args of [
      ['chekpoint', '--json'],
      ['ps', '--bogus', '--json'],
      ['ps', '--state', 'sleeping', '--json'],
      ['completion', 'tcsh', '--json'],
    ]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      const doc = r.json();
      expect(doc.error.exitCode).toBe(2);
      expect(typeof doc.error.message).toBe('string');
      expect(typeof doc.error.hint).toBe('string');
    }
    expect(cli('chekpoint', '--json').json().error.hint).toMatch(/cryopipe checkpoint/);
  });

  it('generates completion scripts that name every command and option', () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = cli('completion', shell);
      expect(r.status, r.stderr).toBe(0);
      for (const c of commands) {
        expect(r.stdout, `${shell}: ${c.name}`).toContain(c.name);
        for (const [name, o] of Object.entries(c.options)) {
          // fish names long options without dashes (-l name).
          expect(r.stdout, `${shell}: ${c.name} --${name}`).toMatch(
            shell === 'fish'
              ? new RegExp(`from ${c.name}' -l ${name}\\b`)
              : new RegExp(`--${name}\\b`),
          );
          if (o.short)
            expect(r.stdout).toMatch(
              new RegExp(shell === 'fish' ? ` -s ${o.short}\\b` : `-${o.short}\\b`),
            );
        }
      }
      expect(cli('completion', shell, '--json').json()).toEqual({ shell, script: r.stdout });
    }
  });

  it('gives bash a script it accepts and that completes', () => {
    const script = cli('completion', 'bash').stdout;
    const syntax = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);
    // Run the completion function as bash would on TAB, and read COMPREPLY.
    const complete = (...words: string[]) => {
      const r = spawnSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cryopipe; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'complete',
          ...words,
        ],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    expect(complete('cryopipe', 'che')).toEqual(['checkpoint']);
    expect(complete('cryopipe', 'checkpoint', '--pre-dump', '')).toEqual([
      'always',
      'auto',
      'never',
    ]);
    expect(complete('cryopipe', 'ps', '--state', 'r')).toEqual(['running']);
    expect(complete('cryopipe', 'ps', '-')).toEqual([
      '--help',
      '--json',
      '--quiet',
      '--state',
      '-h',
      '-q',
    ]);
    expect(complete('cryopipe', 'completion', 'z')).toEqual(['zsh']);
  });

  for (const shell of ['zsh', 'fish']) {
    // CI installs both shells (scripts/setup.sh); a laptop without one skips it.
    it.skipIf(!which(shell) && !process.env.CI)(`gives ${shell} a script it accepts`, () => {
      const script = cli('completion', shell).stdout;
      // From a file: fish can't read a script from Node's stdin (a socketpair).
      const file = join(dir, `completion.${shell}`);
      writeFileSync(file, script);
      const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      expect(r.error, `${shell} is missing`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
    });
  }
});

describeWith([root], 'cryopipe ps', () => {
  const { cli, dir } = useCli();

  it('lists ids only with -q, filters by state, freezes AGE at the end and sizes live outputs', async () => {
    const running = cli(
      'run',
      '--json',
      '--',
      'sh',
      '-c',
      'echo hello; exec sleep 600',
      '>',
      'live.txt',
    );
    expect(running.status, running.stderr).toBe(0);
    const live = running.json().id as string;
    const done = cli('run', '--wait', '--json', '--', 'sh', '-c', 'sleep 1.2; exit 3');
    const ended = done.json().id as string;
    await until(() => readFileSync(join(dir, 'live.txt'), 'utf8') === 'hello\n', 'the output');

    expect(cli('ps', '-q').stdout.split('\n').filter(Boolean).sort()).toEqual([ended, live].sort());
    expect(cli('ps', '-q', '--state', 'running').stdout).toBe(`${live}\n`);
    expect(cli('ps', '--quiet', '--state', 'failed').stdout).toBe(`${ended}\n`);
    expect(
      cli('ps', '-q', '--state', 'running,failed').stdout.split('\n').filter(Boolean),
    ).toHaveLength(2);
    expect(cli('ps', '--state', 'exited').stdout).toMatch(/^no exited jobs$/m);
    const jsonRunning = cli('ps', '--json', '--state', 'running').json();
    expect(jsonRunning.map((j: { id: string }) => j.id)).toEqual([live]);
    const bad = cli('ps', '--state', 'sleeping');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /unknown state 'sleeping'[\s\S]*running, checkpointed, exited, failed, lost/,
    );

    // A running job's outputs are the files it has open for writing, sized now.
    const first = cli('ps', '--json').json() as {
      id: string;
      ageMs: number;
      endedAt?: string;
      outputs: { path: string; bytes: number }[];
    }[];
    const liveRow = first.find((j) => j.id === live)!;
    expect(liveRow.outputs).toEqual([{ path: join(dir, 'live.txt'), bytes: 6 }]);
    expect(cli('ps').stdout).toContain(`${live} writes ${join(dir, 'live.txt')} (6 B)`);

    // The ended job's age is the time it ran, and stays so.
    const endedRow = first.find((j) => j.id === ended)!;
    expect(endedRow.endedAt).toBeDefined();
    expect(endedRow.ageMs).toBeGreaterThanOrEqual(1200);
    expect(endedRow.ageMs).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 1100));
    const again = cli('ps', '--json').json() as typeof first;
    expect(again.find((j) => j.id === ended)!.ageMs).toBe(endedRow.ageMs);
    expect(again.find((j) => j.id === live)!.ageMs).toBeGreaterThan(liveRow.ageMs + 1000);

    // One AGE format: whole seconds under a minute.
    const table = cli('ps').stdout.split('\n');
    const endedLine = table.find((l) => l.startsWith(ended))!;
    expect(endedLine).toMatch(/ failed\(3\) +- +[1-9]s /);
    expect(cli('kill', live).status).toBe(0);
  });
});

describeWith([root, criu], 'cryopipe after a restore', () => {
  const { cli, dir } = useCli();

  it('shows a killed restored job with its exit status and counts in the singular', async () => {
    const id = cli(
      'run',
      '--json',
      '--',
      'sh',
      '-c',
      'while :; do sleep 0.1; done',
      '>',
      'out.txt',
    ).json().id as string;
    const cp = cli('checkpoint', id);
    expect(cp.status, cp.stderr).toBe(0);
    expect(cp.stdout).toMatch(/^checkpoint 1 of /);
    const r = cli('restore', id);
    expect(r.status, r.stderr).toBe(0);
    expect(cli('kill', id).status).toBe(0);
    await until(() => cli('ps', '-q', '--state', 'running').stdout === '', 'the job to end');
    const row = cli('ps', '--json').json()[0];
    expect(row).toMatchObject({ id, state: 'failed', exitCode: 143 });
    expect(cli('ps').stdout).toMatch(new RegExp(`^${id} .* failed\\(143\\) `, 'm'));

    const exported = cli('export', id, '-o', join(dir, 'job.tar.zst'));
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/\(1 checkpoint, 1 output\)/);
    expect(statSync(join(dir, 'job.tar.zst')).size).toBeGreaterThan(0);
  });
});

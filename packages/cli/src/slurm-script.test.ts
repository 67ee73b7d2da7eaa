import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCli } from '../test/cli-harness.ts';

// `cryopipe slurm --sbatch`: the script the guide shows is the one the
// command prints (and the real-Slurm tests submit as is).
const guide = readFileSync(resolve(import.meta.dirname, '../../../docs/slurm.md'), 'utf8');

/** The guide's `cryopipe slurm --sbatch …` command line as argv (one level of '…' quoting). */
function guideCommand(): string[] {
  const line = /^cryopipe slurm --sbatch (.*) > enc\.sbatch$/m.exec(guide)?.[1];
  if (!line) throw new Error('docs/slurm.md: no cryopipe slurm --sbatch line');
  return ['slurm', '--sbatch', ...line.split(' ').map((w) => w.replace(/^'(.*)'$/, '$1'))];
}

describe('cryopipe slurm --sbatch', () => {
  const { cli, dir } = useCli();

  it("prints the guide's script, word for word, and bash accepts it", () => {
    const r = cli(...guideCommand());
    expect(r.status, r.stderr).toBe(0);
    const shown = /^```bash\n([\s\S]*?)```$/m.exec(guide)?.[1];
    expect(r.stdout).toBe(shown);
    const path = join(dir, 'enc.sbatch');
    writeFileSync(path, r.stdout);
    execFileSync('bash', ['-n', path]);
  });

  it('puts the directives Slurm needs first, and execs cryopipe with the pipeline quoted', () => {
    const r = cli(
      'slurm',
      '--sbatch',
      '--name',
      'x y',
      '--signal',
      'USR2',
      '--warn-seconds',
      '300',
      '--home',
      '/shared/c p',
      '--',
      'sh',
      '-c',
      "echo 'a b'",
      '>',
      'out.txt',
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      '#!/bin/bash',
      "#SBATCH --job-name='x y'",
      '#SBATCH --requeue',
      '#SBATCH --signal=B:USR2@300',
      '#SBATCH --open-mode=append',
      '#SBATCH --output=cryopipe-%j.log',
    ]);
    expect(r.stdout).toMatch(/preempt_send_user_signal/);
    expect(lines).toContain("export CRYOPIPE_HOME='/shared/c p'");
    const exec = lines.find((l) => l.startsWith('exec '));
    expect(exec).toBe(
      `exec cryopipe slurm --name 'x y' --signal USR2 -- sh -c 'echo '\\''a b'\\''' '>' out.txt`,
    );
    // bash reads the words back exactly as given.
    const words = execFileSync(
      'bash',
      ['-c', `${exec!.replace(/^exec cryopipe /, 'printf "%s\\n" ')}`],
      {
        encoding: 'utf8',
      },
    );
    expect(words.split('\n').slice(0, -1)).toEqual([
      'slurm',
      '--name',
      'x y',
      '--signal',
      'USR2',
      '--',
      'sh',
      '-c',
      "echo 'a b'",
      '>',
      'out.txt',
    ]);
  });

  it('--json gives the script in one document', () => {
    const r = cli('slurm', '--sbatch', '--json', '--', 'true');
    expect(r.status).toBe(0);
    expect(r.json().script).toMatch(/^#!\/bin\/bash\n[\s\S]*\nexec cryopipe slurm -- true\n$/);
  });

  it('refuses bad values before any script exists', () => {
    expect(cli('slurm', '--sbatch', '--warn-seconds', '2m', '--', 'true')).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/--warn-seconds needs a whole number/),
    });
    expect(cli('slurm', '--sbatch', '--checkpoint-every', 'often', '--', 'true').status).toBe(2);
    expect(cli('slurm', '--sbatch', '--signal', 'NOPE', '--', 'true').status).toBe(2);
    expect(cli('slurm', '--sbatch').status).toBe(2);
    expect(cli('slurm', '--home', '/x', '--', 'true')).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/only applies with --sbatch/),
    });
  });

  it('--help shows examples', () => {
    const r = cli('slurm', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--sbatch/);
    expect(r.stdout).toMatch(/exec cryopipe slurm/);
  });
});

// Fault matrix row 9: bad input fails clearly, starts no process and leaves no job.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processesWith, useFaultCli } from '../../test/fault-harness.ts';

describe('fault matrix: bad input', () => {
  const { dir, home, cli, mountTmpfs } = useFaultCli();
  const marker = `bad-input-${process.pid}`;
  const noJobs = () => (existsSync(join(home, 'jobs')) ? readdirSync(join(home, 'jobs')) : []);

  /** `cryopipe run ARGS` must exit 2 with `message`, start nothing and leave no job. */
  function rejected(args: string[], message: RegExp) {
    const r = cli('run', ...args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(noJobs()).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
  }

  it('empty pipelines and unknown or unsupported operators', () => {
    rejected([], /no pipeline given/);
    rejected([''], /empty pipeline: give at least one command/);
    rejected(['--', '|', 'cat'], /stage 1 has no command/);
    rejected(
      [`sleep 1000 ${marker} <> x`],
      /'<>' \(open for reading and writing\) is not supported/,
    );
    rejected([`sleep 1000 ${marker} >| x`], /'>\|' is not needed/);
    rejected([`sleep 1000 ${marker} & x`], /'&' is not needed/);
    rejected([`sleep 1000 ${marker} 2>&-`], /closing or moving a descriptor \('2>&-'\)/);
    rejected([`sleep 1000 ${marker}\nls`], /newline outside quotes .* separates commands/);
    rejected([`sleep 1000 ${marker} ; ls`], /';'|not supported/);
  });

  it('absurd descriptor numbers', () => {
    rejected(
      [`sleep 1000 ${marker} 99999999999999999999> x`],
      /descriptor number 99999999999999999999 .* is out of range: use 0 to 1023/,
    );
    rejected([`sleep 1000 ${marker} 1024> x`], /out of range: use 0 to 1023/);
    rejected(['--', 'sleep', '1000', marker, '2>&77777'], /out of range/);
  });

  it('a command that does not exist, in any stage, is found before anything starts', () => {
    rejected(
      ['--', 'sleep', '1000', marker, '|', 'no-such-command-xyz', '-v'],
      /stage 2: command 'no-such-command-xyz' not found in PATH/,
    );
    rejected(
      [`./missing-script.sh ${marker}`],
      /stage 1: '.\/missing-script.sh' is not an executable file/,
    );
    writeFileSync(join(dir, 'not-executable.sh'), '#!/bin/sh\n', { mode: 0o644 });
    rejected([`./not-executable.sh ${marker}`], /'.\/not-executable.sh' is not an executable file/);
  });

  it('an input that is missing or not a file', () => {
    rejected(
      [`sleep 1000 ${marker} < missing.txt`],
      /stage 1, fd 0: .*missing\.txt does not exist/,
    );
    mkdirSync(join(dir, 'a-directory'), { recursive: true });
    rejected(
      [`sleep 1000 ${marker} < a-directory`],
      /a-directory is a directory, not a file to read/,
    );
  });

  it('an output that cannot be written', () => {
    rejected(
      [`sleep 1000 ${marker} > no/such/dir/out.txt`],
      /stage 1, fd 1: .*out\.txt can't be created: the directory .*no\/such\/dir does not exist/,
    );
    const ro = mountTmpfs(join(dir, 'read-only'), '1m', true);
    rejected(
      [`sleep 1000 ${marker} 2> ${ro}/err.log`],
      /stage 1, fd 2: .*err\.log can't be created in .* \(EROFS\)/,
    );
    rejected([`sleep 1000 ${marker} > a-directory`], /is a directory, not a file to write/);
  });

  it('lists every problem at once', () => {
    const r = cli('run', `nope-1 ${marker} < missing.txt | nope-2 > no/dir/x`);
    expect(r.status).toBe(2);
    expect(r.stderr.match(/^ {2}stage/gm)).toHaveLength(4);
    expect(noJobs()).toEqual([]);
  });
});

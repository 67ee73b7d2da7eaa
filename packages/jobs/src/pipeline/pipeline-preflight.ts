import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_PATH } from '@cryopipe/spawn';
import { JobError } from '../errors.ts';
import type { PipelineSyntax } from './pipeline-syntax.ts';

function errnoOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

function isExecutableFile(path: string): boolean {
  try {
    return statSync(path).isFile() && errnoOf(() => accessSync(path, constants.X_OK)) === undefined;
  } catch {
    return false;
  }
}

/** Where `command` would be executed from, as the launcher searches PATH; undefined if nowhere. */
export function resolveCommand(
  command: string,
  env: Record<string, string>,
  cwd: string,
): string | undefined {
  if (command.includes('/')) {
    const path = resolve(cwd, command);
    return isExecutableFile(path) ? path : undefined;
  }
  for (const dir of (env.PATH ?? DEFAULT_PATH).split(':')) {
    const path = resolve(cwd, dir || '.', command);
    if (isExecutableFile(path)) return path;
  }
  return undefined;
}

function fileProblem(path: string, mode: 'read' | 'write' | 'append'): string | undefined {
  if (mode === 'read') {
    try {
      if (statSync(path).isDirectory()) return 'is a directory, not a file to read';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? 'does not exist' : `can't be read (${code})`;
    }
    const code = errnoOf(() => accessSync(path, constants.R_OK));
    return code ? `can't be read (${code})` : undefined;
  }
  let exists = true;
  try {
    if (statSync(path).isDirectory()) return 'is a directory, not a file to write';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `can't be written (${code})`;
    exists = false;
  }
  if (exists) {
    const code = errnoOf(() => accessSync(path, constants.W_OK));
    return code ? `can't be written (${code})` : undefined;
  }
  const dir = dirname(path);
  const code = errnoOf(() => accessSync(dir, constants.W_OK | constants.X_OK));
  if (code === 'ENOENT') return `can't be created: the directory ${dir} does not exist`;
  return code ? `can't be created in ${dir} (${code})` : undefined;
}

/**
 * Checks what the launcher would only find out after starting: that every
 * command exists and is executable, every input is readable and every output
 * can be written. A bad pipeline then fails before any process starts and
 * before any job exists. (A file that changes between this check and the
 * start is still caught by the launcher: the stage fails with 126/127.)
 */
export function preflightPipeline(
  syntax: PipelineSyntax,
  opts: { cwd: string; env: Record<string, string> },
): void {
  const problems: string[] = [];
  syntax.stages.forEach((stage, i) => {
    const command = stage.argv[0]!;
    if (!resolveCommand(command, opts.env, opts.cwd)) {
      problems.push(
        command.includes('/')
          ? `stage ${i + 1}: '${command}' is not an executable file`
          : `stage ${i + 1}: command '${command}' not found in PATH`,
      );
    }
    for (const r of stage.redirections) {
      if (r.kind === 'dup') continue;
      const path = resolve(opts.cwd, r.path);
      const problem = fileProblem(path, r.kind);
      if (problem) problems.push(`stage ${i + 1}, fd ${r.fd}: ${path} ${problem}`);
    }
  });
  if (problems.length > 0) {
    throw new JobError(
      `the pipeline can't start:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      'USAGE',
      'nothing was started; fix the command names and paths, then run again',
    );
  }
}

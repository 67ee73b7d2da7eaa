import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
/** The built `cryopipe` executable of the workspace's @cryopipe/cli. */
export const cliPath = join(
  dirname(require.resolve('@cryopipe/cli/package.json')),
  'dist',
  'cli.js',
);

export class CliFailure extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`cryopipe ${args.join(' ')} exited ${exitCode}:\n${stderr}`);
  }
}

/** Drives the real `cryopipe` command with its own job home, reading its --json output. */
export class CryopipeCli {
  constructor(readonly home: string) {}

  run(args: readonly string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [cliPath, ...args],
        {
          env: { ...process.env, CRYOPIPE_HOME: this.home, NO_COLOR: '1' },
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) => {
          const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ stdout, stderr, exitCode });
        },
      );
    });
  }

  /** Runs `cryopipe ARGS --json` and returns the parsed document; throws CliFailure on a non-zero exit. */
  async json<T>(args: readonly string[]): Promise<T> {
    // Options go before `--`: what follows it is the pipeline.
    const dashdash = args.indexOf('--');
    const withJson =
      dashdash < 0
        ? [...args, '--json']
        : [...args.slice(0, dashdash), '--json', ...args.slice(dashdash)];
    const r = await this.run(withJson);
    if (r.exitCode !== 0) throw new CliFailure(args, r.exitCode, r.stderr);
    return JSON.parse(r.stdout) as T;
  }
}

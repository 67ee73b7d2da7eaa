import { parseArgs } from 'node:util';
import { JobError, JobStore, PipelineSyntaxError } from '@cryopipe/jobs/store';
import { PipelineSpecError } from '@cryopipe/spawn';
import type { Command, CommandContext } from './command.ts';
import { commandNames, loadCommand, loadCommands } from './commands/index.ts';
import { CliError, EXIT, EXIT_FOR_CODE } from './errors.ts';
import { commandHelp, mainHelp } from './help.ts';
import { describeWriteError, Output, WRITE_ERRORS } from './output.ts';
import { closest } from './suggest.ts';
import { VERSION } from './version.ts';

const GLOBAL_OPTIONS = {
  json: { type: 'boolean', description: 'print one JSON document on stdout (stable shape)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
} as const;

/** Runs one cryopipe invocation and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const dashdash = argv.indexOf('--');
  const wantsJson = (dashdash < 0 ? argv : argv.slice(0, dashdash)).includes('--json');
  const out = new Output({ json: wantsJson });
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic ? await loadCommand(topic) : undefined;
    process.stdout.write(cmd ? commandHelp(cmd) : mainHelp(await loadCommands()));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`cryopipe ${VERSION}\n`);
    return EXIT.ok;
  }
  const command = await loadCommand(name);
  if (!command) {
    const guess = closest(name, [...commandNames]);
    const hint = guess
      ? `did you mean 'cryopipe ${guess}'? ('cryopipe --help' lists every command)`
      : `see 'cryopipe --help' for the list of commands`;
    return report(new CliError(`unknown command '${name}'`, EXIT.usage, hint), out);
  }
  try {
    const ctx = parseCommandLine(command, rest, out);
    if (ctx.values.help) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(ctx);
  } catch (err) {
    return report(err, out);
  }
}

function parseCommandLine(command: Command, args: string[], out: Output): CommandContext {
  // For `run`, everything after `--` (or after the first positional) is the pipeline.
  const dashdash = args.indexOf('--');
  const own = command.allowPositionals && dashdash >= 0 ? args.slice(0, dashdash) : args;
  const tail = command.allowPositionals && dashdash >= 0 ? args.slice(dashdash + 1) : [];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: own,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional.*$/s, '');
    const typed = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    const guess = typed && closest(typed, Object.keys({ ...GLOBAL_OPTIONS, ...command.options }));
    throw new CliError(
      message,
      EXIT.usage,
      guess
        ? `did you mean --${guess}? (see 'cryopipe ${command.name} --help')`
        : `see 'cryopipe ${command.name} --help'`,
    );
  }
  return {
    values: parsed.values as CommandContext['values'],
    positionals: [...parsed.positionals, ...tail],
    store: new JobStore(),
    out,
  };
}

function report(err: unknown, out: Output): number {
  const known = CliError.is(err)
    ? { exitCode: err.exitCode, code: undefined }
    : JobError.is(err)
      ? { exitCode: EXIT_FOR_CODE[err.code], code: err.code }
      : undefined;
  if (known) {
    const { message, hint } = err as CliError | JobError;
    if (out.json)
      out.result({ error: { message, hint, exitCode: known.exitCode, code: known.code } });
    out.error(message, hint);
    return known.exitCode;
  }
  // Errors from the libraries carry their own clear messages; show them as they are.
  const e = err as Error & { hint?: string; code?: string; syscall?: string };
  if (e.syscall === 'write' && e.code && WRITE_ERRORS.has(e.code)) {
    // The output (an archive to a full disk, a closed pipe): say so, not "write ENOSPC".
    const message = describeWriteError(e as NodeJS.ErrnoException, 'the output');
    if (out.json) out.result({ error: { message, code: e.code, exitCode: EXIT.failure } });
    out.error(
      message,
      e.code === 'ENOSPC' ? 'free space where the output goes, then try again' : undefined,
    );
    return EXIT.failure;
  }
  const usage = PipelineSyntaxError.is(err) || PipelineSpecError.is(err);
  const exitCode = usage ? EXIT.usage : EXIT.failure;
  if (out.json) out.result({ error: { message: e.message, name: e.name, exitCode } });
  out.error(e.message ?? String(err), e.hint);
  if (process.env.CRYOPIPE_DEBUG) process.stderr.write(`${e.stack}\n`);
  return exitCode;
}

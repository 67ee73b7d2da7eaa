import type { ParseArgsConfig } from 'node:util';
import type { JobStore } from '@cryopipe/jobs/store';
import type { Output } from './output.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  valueName?: string;
  /** The values a string option accepts, where it is a fixed set (shell completion offers them). */
  choices?: readonly string[];
};

/** One `cryopipe` subcommand: its help text and what it does. */
export interface Command {
  /** The command's name, as typed after `cryopipe`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after `cryopipe NAME`. */
  usage: string;
  /** The command's options by long name, for parsing and for `--help`. */
  options: Record<string, OptionSpec>;
  /** Paragraphs shown under the usage. */
  description?: string;
  /** Example command lines shown by `--help`. */
  examples: string[];
  /** Whether positionals after `--` are kept verbatim (run). */
  allowPositionals?: boolean;
  /** Runs the command; resolves with the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** What a command's `run` gets: the parsed arguments, the job store and the output. */
export interface CommandContext {
  /** Parsed option values by long name. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not options, in order. */
  positionals: string[];
  /** The job store of the cryopipe home in use. */
  store: JobStore;
  /** Where the command prints (human text or --json). */
  out: Output;
}

import type { ParseArgsConfig } from 'node:util';
import type { JobStore } from '@cryopipe/jobs';
import type { Output } from './output.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  description: string;
  valueName?: string;
  /** The values a string option accepts, where it is a fixed set (shell completion offers them). */
  choices?: readonly string[];
};

/** One `cryopipe` subcommand: its help text and what it does. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after `cryopipe NAME`. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Paragraphs shown under the usage. */
  description?: string;
  examples: string[];
  /** Whether positionals after `--` are kept verbatim (run). */
  allowPositionals?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  store: JobStore;
  out: Output;
}

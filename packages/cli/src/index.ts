// The cryopipe CLI as a library: run it in-process, or list its commands.
// The engine it drives is @cryopipe/jobs; import that to embed cryopipe.

export type { Command, CommandContext } from './command.ts';
export { commands } from './commands/all.ts';
export { CliError, EXIT, EXIT_FOR_CODE } from './errors.ts';
export { main } from './main.ts';

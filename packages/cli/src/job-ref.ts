import { CliError, EXIT } from './errors.ts';

/** The JOB argument of a command, or a usage error saying how to find one. */
export function jobRef(positionals: readonly string[]): string {
  const ref = positionals[0];
  if (!ref)
    throw new CliError(
      'which job? give its id or name',
      EXIT.usage,
      "list jobs with 'cryopipe ps'",
    );
  return ref;
}

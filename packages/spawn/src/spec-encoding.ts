import { SPEC_HEADER } from './facts.ts';
import type { ResolvedPipeline, ResolvedSource } from './spec.ts';

/** PID-namespace request as the launcher reads it: 0 off, 1 required, 2 when permitted. */
export type PidNamespaceMode = boolean | 'auto';

const FILE_MODE_LETTER = { read: 'r', write: 'w', append: 'a', truncate: 't' } as const;

function sourceTokens(source: ResolvedSource): string[] {
  switch (source.kind) {
    case 'null':
      return ['null', source.write ? 'w' : 'r'];
    case 'file':
      return ['file', FILE_MODE_LETTER[source.mode], source.path];
    case 'pipe':
      return ['pipe', String(source.pipe), source.end === 'write' ? 'w' : 'r'];
    case 'dup':
      return ['dup', String(source.fd)];
  }
}

/**
 * The launcher's spec file: NUL-separated tokens (so any byte but NUL may
 * appear in argv, env and paths), `key value…` records, one `stage` record
 * opening each stage, `end` last.
 */
export function encodeSpec(pipeline: ResolvedPipeline, pidNamespace: PidNamespaceMode): Buffer {
  const mode = pidNamespace === 'auto' ? 2 : pidNamespace ? 1 : 0;
  const tokens: string[] = [
    SPEC_HEADER,
    'pidns',
    String(mode),
    'pipes',
    String(pipeline.pipeCount),
  ];
  for (const stage of pipeline.stages) {
    tokens.push('stage', 'cwd', stage.cwd, 'umask', stage.umask.toString(8));
    for (const arg of stage.argv) tokens.push('arg', arg);
    for (const [key, value] of Object.entries(stage.env)) tokens.push('env', `${key}=${value}`);
    for (const [fd, source] of stage.fds) tokens.push('fd', String(fd), ...sourceTokens(source));
  }
  tokens.push('end');
  return Buffer.from(`${tokens.join('\0')}\0`);
}

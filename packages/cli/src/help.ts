import type { Command } from './command.ts';
import { EXIT } from './errors.ts';

export function mainHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `cryopipe — run long Linux pipelines so CRIU can checkpoint and restore them

Usage: cryopipe <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --help (with examples) and --json.

Examples:
  cryopipe run --name enc -- ffmpeg -i in.mkv -f yuv4mpegpipe - '|' aomenc --passes=1 -o out.ivf -
  cryopipe checkpoint enc        # freeze to disk and stop
  cryopipe restore enc           # bring it back, even after a reboot
  cryopipe diagnose 4242         # why can't this existing tree be dumped?

Exit codes:
${exitCodes()}

Environment:
  CRYOPIPE_HOME  where jobs live (default /var/lib/cryopipe for root,
                 else $XDG_STATE_HOME/cryopipe)
  CRIU_BIN       the criu binary to use (default: PATH, /usr/local/sbin, /usr/sbin)
  NO_COLOR       disable colour
`;
}

export function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  opts.push(['    --json', 'print one JSON document on stdout'], ['-h, --help', 'show this help']);
  const width = Math.max(...opts.map(([f]) => f.length));
  return `Usage: cryopipe ${c.name} ${c.usage}

${c.summary}
${c.description ? `\n${c.description}\n` : ''}
Options:
${opts.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join('\n')}

Examples:
${c.examples.map((e) => `  ${e}`).join('\n')}
`;
}

function exitCodes(): string {
  const meaning: Record<keyof typeof EXIT, string> = {
    ok: 'success',
    failure: 'the operation failed (criu refused, the job failed, …)',
    usage: 'wrong usage (unknown option, bad pipeline)',
    notFound: 'no such job or checkpoint',
    busy: 'another checkpoint or restore holds the job',
    environment: 'this machine can not do it (not root, criu missing, …)',
    refused: 'refused for safety (unsafe images, files changed since the checkpoint)',
  };
  return (Object.keys(EXIT) as (keyof typeof EXIT)[])
    .map((k) => `  ${EXIT[k]}  ${meaning[k]}`)
    .join('\n');
}

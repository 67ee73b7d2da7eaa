import { execFile } from 'node:child_process';
import { JobError } from '../errors.ts';

/** How long one scontrol call may take: slurmctld answers within MessageTimeout (10 s by default). */
const SCONTROL_TIMEOUT_MS = 30_000;

/** Runs `scontrol ARGS…`; resolves with its stdout, rejects with a JobError carrying its stderr. */
export function scontrol(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'scontrol',
      args,
      { timeout: SCONTROL_TIMEOUT_MS, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new JobError(
            missing
              ? 'scontrol not found on PATH'
              : `scontrol ${args.join(' ')} failed: ${(stderr || err.message).trim()}`,
            missing ? 'ENVIRONMENT' : 'FAILED',
            missing ? 'run on a Slurm node, with the Slurm client commands on PATH' : undefined,
            { cause: err },
          ),
        );
      },
    );
  });
}

/**
 * `Key=Value` pairs of `scontrol show job|node|partition` output (values run
 * to the next space; `Command=` and friends may hold spaces but are not
 * needed here), or `Key = Value` lines of `scontrol show config`.
 */
export function parseScontrol(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const config = /^(\w+)\s+=\s+(.*)$/.exec(line);
    if (config) {
      out.set(config[1]!, config[2]!.trim());
      continue;
    }
    for (const m of line.matchAll(/(?:^|\s)([\w/:]+)=(\S*)/g)) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** `KillWait = 30 sec` → 30; undefined when absent or unreadable. */
export function seconds(value: string | undefined): number | undefined {
  const m = /^(\d+)/.exec(value ?? '');
  return m ? Number(m[1]) : undefined;
}

/** A Slurm duration (`[D-]HH:MM:SS`, `MM:SS`, `UNLIMITED`) in seconds; undefined when unlimited or unreadable. */
export function slurmSeconds(value: string | undefined): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(value ?? '');
  if (!m) return undefined;
  const [, d = '0', h = '0', min, sec] = m;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(sec);
}

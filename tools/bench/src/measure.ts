import { execFileSync, spawnSync } from 'node:child_process';

/** Wall-clock milliseconds of a synchronous action. */
export function timeMs(action: () => void): number {
  const t0 = performance.now();
  action();
  return performance.now() - t0;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs a command, failing loudly with its stderr. */
export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: env ?? process.env,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

export function machine(): string {
  const criu = execFileSync('criu', ['--version'], { encoding: 'utf8' }).match(
    /Version:\s+(\S+)/,
  )?.[1];
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
  return `${cpus} cores, kernel ${kernel}, Node ${process.version}, criu ${criu}`;
}

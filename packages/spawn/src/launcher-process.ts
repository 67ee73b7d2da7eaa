import { spawn } from 'node:child_process';

/** The launcher process as its parent (this process) sees it. */
export interface LauncherProcess {
  readonly pid: number | undefined;
  /** Resolves with the exit code; null when it died by a signal or could not be spawned. */
  readonly exit: Promise<number | null>;
  /**
   * Resolves true when the launcher reported that the stages started
   * (RUNDIR/status already says so) and closed the report pipe, false when it
   * closed it without a word: it failed first, or it predates the report.
   */
  readonly started: Promise<boolean>;
  /** The launcher is unref'ed; call this to keep Node alive until it exits. */
  keepAlive(): void;
}

const STARTED = 'started\n';

/**
 * Starts the launcher detached (its own session: the caller may exit) with
 * an empty environment and `/` as cwd. Its stdout is the start-report pipe,
 * which it closes right after reporting (see native/launcher.c), so waiting
 * for the start needs no watching or polling of the run directory.
 */
export function startLauncher(path: string, runDir: string): LauncherProcess {
  const child = spawn(path, [runDir], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: {},
    cwd: '/',
  });
  const exit = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(signal ? null : code));
    child.once('error', () => resolveExit(null));
  });
  child.unref();
  const report = child.stdout;
  const started = new Promise<boolean>((resolveStarted) => {
    if (!report) return resolveStarted(false);
    let text = '';
    const settle = (): void => {
      report.destroy();
      resolveStarted(text.includes(STARTED));
    };
    report.setEncoding('utf8');
    report.on('data', (chunk: string) => {
      text += chunk;
    });
    // EOF, not the line itself: then no process holds the pipe any more, so
    // the dump root's descriptors are exactly its own when we resolve.
    report.once('end', settle);
    report.once('close', settle);
    report.once('error', settle);
  });
  return { pid: child.pid, exit, started, keepAlive: () => child.ref() };
}

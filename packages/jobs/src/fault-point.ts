/**
 * Named points in the engine's long operations where a test can stop the
 * process to kill it there (the fault matrix: "SIGKILL `restore` after criu
 * returned", …). With CRYOPIPE_FAULT_POINT=NAME the process announces the
 * point on stderr and stops itself with SIGSTOP; without it this is a no-op.
 * Like CRIU's own CRIU_FAULT switch, it is for testing recovery, never for use.
 */
export type FaultPoint =
  | 'checkpoint:verified'
  | 'checkpoint:criu-running'
  | 'checkpoint:criu-returned'
  | 'checkpoint:finalizing'
  | 'restore:verified'
  | 'restore:criu-running'
  | 'restore:criu-returned'
  | 'restore:finalizing'
  /** In the background sealer, its claim written, before it reads any image. */
  | 'seal:hashing';

export function faultPoint(name: FaultPoint): void {
  if (process.env.CRYOPIPE_FAULT_POINT !== name) return;
  process.stderr.write(`cryopipe: fault point ${name} reached (pid ${process.pid})\n`);
  process.kill(process.pid, 'SIGSTOP');
}

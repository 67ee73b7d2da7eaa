import { loadAddon } from './native.ts';

/** Whether hardware breakpoints (which criu uses to stop tasks at syscalls) work here: 'broken' on some virtual machines. */
export type BreakpointSupport = 'works' | 'broken' | 'unsupported';

let cached: BreakpointSupport | undefined;

/**
 * Do hardware debug-register breakpoints trap here? Forks a traced child,
 * sets an execute breakpoint and waits up to `timeoutMs` for the trap.
 * 'broken' on VMs that do not virtualise debug registers, where criu older
 * than 4.2 hangs during dump unless CRIU_FAULT=130 disables breakpoints.
 * 'unsupported' on architectures the probe does not know (not x86_64).
 * The answer is cached per process.
 */
export function probeHardwareBreakpoints(timeoutMs = 1000): BreakpointSupport {
  cached ??= loadAddon().probeBreakpoints(timeoutMs);
  return cached;
}

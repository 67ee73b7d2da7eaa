import type { ProcessStat } from './stat.ts';

/**
 * The PF_* bits of stat's `flags` (include/linux/sched.h). They are kernel-internal: most have kept
 * their value for decades, a few were reassigned, and those are noted. Only bits worth branching on
 * from user space are named; the raw word stays in ProcessStat.flags.
 */
export const PF = {
  /** An idle thread: a CPU's idle task (pid 0, never listed) or an idle-injection kernel thread. */
  IDLE: 0x0000_0002,
  /** Getting shut down: the task is in do_exit(). */
  EXITING: 0x0000_0004,
  /** An io_uring worker thread (Linux 5.12+; this bit was PF_VCPU before). */
  IO_WORKER: 0x0000_0010,
  /** A workqueue worker (kworker). */
  WQ_WORKER: 0x0000_0020,
  /** Forked but has not called execve() since. */
  FORKNOEXEC: 0x0000_0040,
  /** Used super-user privileges (a capability check passed on an effective capability). */
  SUPERPRIV: 0x0000_0100,
  /** Dumped core. */
  DUMPCORE: 0x0000_0200,
  /** Killed by a signal. */
  SIGNALED: 0x0000_0400,
  /** Allocating memory to free memory (reclaim context). */
  MEMALLOC: 0x0000_0800,
  /** set_user() saw RLIMIT_NPROC exceeded; the next execve() fails with EAGAIN (Linux 3.1+). */
  NPROC_EXCEEDED: 0x0000_1000,
  /** A kernel worker cloned from a user thread, e.g. vhost (Linux 6.4+; unused before). */
  USER_WORKER: 0x0000_4000,
  /** Must not be frozen (suspend, cgroup freezer). */
  NOFREEZE: 0x0000_8000,
  /** kswapd, the page reclaim daemon. */
  KSWAPD: 0x0002_0000,
  /** A kernel thread: no user memory, nothing CRIU can dump (Linux 2.6.27+). */
  KTHREAD: 0x0020_0000,
  /** Its address space is randomized (ASLR). */
  RANDOMIZE: 0x0040_0000,
  /** User space may not change its CPU affinity (per-CPU kernel threads). */
  NO_SETAFFINITY: 0x0400_0000,
} as const;

/** stat's `flags` decoded: one named boolean per PF_* bit in `PF`. */
export interface ProcessFlags {
  /** PF_IDLE. */
  idle: boolean;
  /** PF_EXITING: the process is exiting (in do_exit()). */
  exiting: boolean;
  /** PF_IO_WORKER: an io_uring worker (Linux 5.12+). */
  ioWorker: boolean;
  /** PF_WQ_WORKER: a workqueue worker. */
  workqueueWorker: boolean;
  /** PF_FORKNOEXEC: forked and has not exec'd since (e.g. a subshell). */
  forkedNoExec: boolean;
  /** PF_SUPERPRIV: has used super-user privileges. */
  usedSuperPrivileges: boolean;
  /** PF_DUMPCORE: dumped core. */
  dumpedCore: boolean;
  /** PF_SIGNALED: killed by a signal. */
  killedBySignal: boolean;
  /** PF_MEMALLOC: in a memory-reclaim context. */
  memoryAllocator: boolean;
  /** PF_NPROC_EXCEEDED: RLIMIT_NPROC was exceeded at set_user() (Linux 3.1+). */
  nprocExceeded: boolean;
  /** PF_USER_WORKER: a kernel worker cloned from a user thread (Linux 6.4+). */
  userWorker: boolean;
  /** PF_NOFREEZE: exempt from freezing. */
  noFreeze: boolean;
  /** PF_KSWAPD: kswapd. */
  kswapd: boolean;
  /** PF_KTHREAD: a kernel thread (Linux 2.6.27+). */
  kernelThread: boolean;
  /** PF_RANDOMIZE: address space randomized. */
  randomized: boolean;
  /** PF_NO_SETAFFINITY: CPU affinity fixed by the kernel. */
  noSetAffinity: boolean;
}

/** Decodes stat's `flags` into named booleans; pure. Unnamed bits are ignored. */
export function processFlags(flags: number): ProcessFlags {
  const has = (bit: number) => (flags & bit) !== 0;
  return {
    idle: has(PF.IDLE),
    exiting: has(PF.EXITING),
    ioWorker: has(PF.IO_WORKER),
    workqueueWorker: has(PF.WQ_WORKER),
    forkedNoExec: has(PF.FORKNOEXEC),
    usedSuperPrivileges: has(PF.SUPERPRIV),
    dumpedCore: has(PF.DUMPCORE),
    killedBySignal: has(PF.SIGNALED),
    memoryAllocator: has(PF.MEMALLOC),
    nprocExceeded: has(PF.NPROC_EXCEEDED),
    userWorker: has(PF.USER_WORKER),
    noFreeze: has(PF.NOFREEZE),
    kswapd: has(PF.KSWAPD),
    kernelThread: has(PF.KTHREAD),
    randomized: has(PF.RANDOMIZE),
    noSetAffinity: has(PF.NO_SETAFFINITY),
  };
}

/**
 * True for a kernel thread: PF_KTHREAD is the kernel's own mark, whatever the thread is called.
 * A parent pid of 2 (kthreadd) is no proof: user-mode helpers the kernel starts (modprobe, a
 * core-dump pipe) are user processes whose parent is kthreadd too.
 */
export function isKernelThread(stat: Pick<ProcessStat, 'flags'>): boolean {
  return (stat.flags & PF.KTHREAD) !== 0;
}

import { defaultParseContext, type ParseContext } from './context.ts';
import { parseError } from './errors.ts';
import { int, optionalInt } from './numbers.ts';

/**
 * /proc/PID/stat (or task/TID/stat), one line, fields as proc(5) numbers them. Units are converted:
 * times in seconds (from clock ticks, USER_HZ), memory in bytes (rss from pages). Every field up to
 * `rss` exists on every kernel this package supports; the later ones are optional because older
 * kernels end the line earlier (the version that added each is noted). Kernel versions are those
 * of proc(5).
 */
export interface ProcessStat {
  /** (1) The process id (the thread id when read from task/TID/stat). */
  pid: number;
  /**
   * (2) The command name: the executable's base name or what the process set with
   * prctl(PR_SET_NAME), at most 15 bytes. May contain spaces, parentheses and newlines.
   */
  comm: string;
  /**
   * (3) One letter: R running or runnable, S sleeping (interruptible), D disk sleep (uninterruptible),
   * Z zombie (exited, not yet reaped), T stopped by a signal, t stopped by a tracer (2.6.33+),
   * X dead, I idle kernel thread (4.14+), P parked (3.9–3.13 and 4.14+), W paging (before 2.6.0) / waking
   * (2.6.33–3.13), K wakekill and x dead (2.6.33–3.13).
   */
  state: string;
  /** (4) Parent pid; 0 for the init process and for kthreadd (pid 2). */
  ppid: number;
  /** (5) Process group id. */
  pgrp: number;
  /** (6) Session id; the process leads its session when `session === pid`. */
  session: number;
  /**
   * (7) The controlling terminal, encoded: major in bits 15–8, minor in bits 31–20 and 7–0
   * (decodeTtyNr names it). 0 means none.
   */
  ttyNr: number;
  /** (8) Foreground process group of the controlling terminal, -1 without a terminal. */
  tpgid: number;
  /**
   * (9) The kernel's per-task PF_* flag word (unsigned; %lu before Linux 2.6.22). Decode it with
   * processFlags(); the bits are kernel-internal and a few were reassigned over the years.
   */
  flags: number;
  /** (10) Minor page faults (no disk read needed), a count since the process started. */
  minorFaults: number;
  /** (12) Major page faults (a page had to be read from disk), a count. */
  majorFaults: number;
  /** (14) CPU time spent in user mode, in seconds (guest time included). */
  userTime: number;
  /** (15) CPU time spent in kernel mode, in seconds. */
  systemTime: number;
  /** (16) User-mode CPU time of waited-for children, in seconds. */
  childUserTime: number;
  /** (17) Kernel-mode CPU time of waited-for children, in seconds. */
  childSystemTime: number;
  /**
   * (18) Scheduling priority as the kernel shows it: 0..39 for normal processes (20 + nice),
   * -2..-100 for real-time ones (-1 - rt_priority).
   */
  priority: number;
  /** (19) Nice value, -20 (favoured) .. 19 (nicest). */
  nice: number;
  /** (20) Threads in the process (Linux 2.6+; a placeholder 0 before). */
  numThreads: number;
  /**
   * Start time in ms since the epoch: boot time + (22) starttime. Precise to one clock tick
   * (10 ms at USER_HZ 100); for identity across pid reuse compare `startTicks`.
   */
  startTimeMs: number;
  /**
   * (22) Raw start time in clock ticks after boot (jiffies before Linux 2.6): with pid,
   * identifies a process across PID reuse.
   */
  startTicks: number;
  /** (23) Virtual memory size in bytes. */
  vsizeBytes: number;
  /** (24) Resident set size in bytes (the kernel counts pages; inaccurate by design, see proc(5)). */
  rssBytes: number;
  /**
   * (25) Soft limit on the RSS in bytes (RLIMIT_RSS); usually RLIM_INFINITY, which is beyond a
   * double's precision and reads as about 1.8e19.
   */
  rssLimitBytes?: number | undefined;
  /** (38) Signal sent to the parent when the process dies, usually 17 = SIGCHLD (Linux 2.1.22+). */
  exitSignal?: number | undefined;
  /** (39) CPU number the process last ran on (Linux 2.2.8+). */
  processor?: number | undefined;
  /** (40) Real-time priority 1..99 for SCHED_FIFO/SCHED_RR, 0 otherwise (Linux 2.5.19+). */
  rtPriority?: number | undefined;
  /**
   * (41) Scheduling policy: 0 SCHED_OTHER, 1 FIFO, 2 RR, 3 BATCH, 5 IDLE, 6 DEADLINE, 7 EXT
   * (Linux 2.5.19+).
   */
  policy?: number | undefined;
  /** (42) Aggregated block I/O delay in clock ticks (Linux 2.6.18+; 0 without delay accounting). */
  blockIoDelayTicks?: number | undefined;
  /** (43) Time spent running a virtual CPU for a guest OS, in seconds (Linux 2.6.24+). */
  guestTime?: number | undefined;
  /**
   * (52) Exit status in the form waitpid(2) reports (Linux 3.5+): `exitCode >> 8` is the exit
   * code, `exitCode & 0x7f` the killing signal. Only meaningful for zombies; 0 otherwise.
   */
  exitCode?: number | undefined;
}

const WHAT = 'stat';

/** Parses the text of /proc/PID/stat (or /proc/PID/task/TID/stat). */
export function parseStat(
  text: string,
  ctx: ParseContext = defaultParseContext,
  path?: string,
): ProcessStat {
  // comm runs from the first '(' to the LAST ')': a comm may itself contain ") (".
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw parseError(WHAT, 'no "(comm)" field', path);
  const pid = int(text.slice(0, open).trim(), WHAT, 'pid', path);
  const comm = text.slice(open + 1, close);
  // Fields after comm, numbered as in proc(5) from field 3 (state): f[0] is field 3.
  const f = text
    .slice(close + 1)
    .trim()
    .split(' ');
  if (f.length < 22)
    throw parseError(WHAT, `only ${f.length + 2} fields, expected at least 24 (truncated?)`, path);
  const n = (i: number, name: string) => int(f[i], WHAT, name, path);
  const opt = (i: number, name: string) => optionalInt(f[i], WHAT, name, path);
  const ticks = (i: number, name: string) => n(i, name) / ctx.clockTicks;
  const startTicks = n(19, 'starttime');
  const rsslim = f[22];
  const guest = opt(40, 'guest_time');
  return {
    pid,
    comm,
    state: f[0] ?? '',
    ppid: n(1, 'ppid'),
    pgrp: n(2, 'pgrp'),
    session: n(3, 'session'),
    ttyNr: n(4, 'tty_nr'),
    tpgid: n(5, 'tpgid'),
    flags: n(6, 'flags'),
    minorFaults: n(7, 'minflt'),
    majorFaults: n(9, 'majflt'),
    userTime: ticks(11, 'utime'),
    systemTime: ticks(12, 'stime'),
    childUserTime: ticks(13, 'cutime'),
    childSystemTime: ticks(14, 'cstime'),
    priority: n(15, 'priority'),
    nice: n(16, 'nice'),
    numThreads: n(17, 'num_threads'),
    startTimeMs: ctx.bootTimeMs + (startTicks * 1000) / ctx.clockTicks,
    startTicks,
    vsizeBytes: n(20, 'vsize'),
    rssBytes: n(21, 'rss') * ctx.pageSize,
    // rsslim is often 18446744073709551615 (RLIM_INFINITY): beyond a double's precision but still "huge".
    rssLimitBytes: rsslim === undefined ? undefined : Number(int(rsslim, WHAT, 'rsslim', path)),
    exitSignal: opt(35, 'exit_signal'),
    processor: opt(36, 'processor'),
    rtPriority: opt(37, 'rt_priority'),
    policy: opt(38, 'policy'),
    blockIoDelayTicks: opt(39, 'delayacct_blkio_ticks'),
    guestTime: guest === undefined ? undefined : guest / ctx.clockTicks,
    exitCode: opt(49, 'exit_code'),
  };
}

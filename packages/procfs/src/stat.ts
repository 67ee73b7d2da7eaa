import { defaultParseContext, type ParseContext } from './context.ts';
import { parseError } from './errors.ts';
import { int, optionalInt } from './numbers.ts';

/** /proc/PID/stat. Fields after `rss` are optional: older kernels end earlier. Times are seconds. */
export interface ProcessStat {
  pid: number;
  /** The command name, up to 15 bytes; may contain spaces, parentheses and newlines. */
  comm: string;
  /** One letter: R running, S sleeping, D disk sleep, Z zombie, T stopped, t traced, X dead, I idle, P parked. */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** The controlling terminal, encoded (see decodeTtyNr); 0 means none. */
  ttyNr: number;
  /** Foreground process group of the controlling terminal, -1 without one. */
  tpgid: number;
  flags: number;
  minorFaults: number;
  majorFaults: number;
  /** User and system CPU time, in seconds. */
  userTime: number;
  systemTime: number;
  childUserTime: number;
  childSystemTime: number;
  priority: number;
  nice: number;
  numThreads: number;
  /** Start time in ms since the epoch (boot time + starttime ticks). */
  startTimeMs: number;
  /** Raw start time in clock ticks after boot: with pid, identifies a process across PID reuse. */
  startTicks: number;
  vsizeBytes: number;
  rssBytes: number;
  rssLimitBytes?: number | undefined;
  exitSignal?: number | undefined;
  processor?: number | undefined;
  rtPriority?: number | undefined;
  policy?: number | undefined;
  blockIoDelayTicks?: number | undefined;
  guestTime?: number | undefined;
  /** Exit status as waitpid reports it (Linux 3.5+), only meaningful for zombies. */
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

import { parseError } from './errors.ts';
import { hex, int } from './numbers.ts';

/**
 * /proc/PID/status: "Key:\tvalue" lines. Name, State, Tgid, Pid, PPid, TracerPid, Uid and Gid exist on
 * every kernel; the rest depend on kernel version and configuration (the version that added each is
 * noted, as proc(5) gives it) and are undefined when absent. Memory is converted to bytes (the
 * kernel prints kB); signal and capability masks are bigints (signal N is bit N-1; capability N is
 * bit N).
 */
export interface ProcessStatus {
  /** Name: the command name (as stat's comm); the kernel escapes "\n" and "\\" here, this is unescaped. */
  name: string;
  /** State: the letter only (see ProcessStat.state), e.g. 'S' from "S (sleeping)". */
  state: string;
  /** Tgid: thread group id, i.e. the process id (differs from `pid` when read for a thread). */
  tgid: number;
  /** Pid: the thread id. */
  pid: number;
  /** PPid: parent's pid; 0 for init and kthreadd. */
  ppid: number;
  /** TracerPid: pid of the process ptrace-ing this one (a debugger, criu while dumping), 0 if none. */
  tracerPid: number;
  /** Uid: real, effective, saved set, filesystem user ids. */
  uid: [number, number, number, number];
  /** Gid: real, effective, saved set, filesystem group ids. */
  gid: [number, number, number, number];
  /** Umask: the file mode creation mask, e.g. 0o022 (Linux 4.7+). */
  umask?: number | undefined;
  /** FDSize: slots currently allocated in the descriptor table (not the number open). */
  fdSize?: number | undefined;
  /** Groups: supplementary group ids. */
  groups?: number[] | undefined;
  /** NStgid: the tgid in each PID namespace the process is in, outermost first (Linux 4.1+). */
  nsTgid?: number[] | undefined;
  /** NSpid: the thread id in each PID namespace, outermost first (Linux 4.1+). */
  nsPid?: number[] | undefined;
  /** NSpgid: the process group id in each PID namespace, outermost first (Linux 4.1+). */
  nsPgid?: number[] | undefined;
  /** NSsid: the session id in each PID namespace, outermost first (Linux 4.1+). */
  nsSid?: number[] | undefined;
  /** VmPeak: peak virtual memory size, in bytes. */
  vmPeakBytes?: number | undefined;
  /** VmSize: virtual memory size, in bytes. */
  vmSizeBytes?: number | undefined;
  /** VmRSS: resident set size, in bytes (RssAnon + RssFile + RssShmem). */
  vmRssBytes?: number | undefined;
  /** VmSwap: anonymous memory swapped out, in bytes (Linux 2.6.34+). */
  vmSwapBytes?: number | undefined;
  /** Threads: threads in the process. */
  threads?: number | undefined;
  /** SigPnd: signals pending for the thread, a mask (bit N-1 = signal N). */
  sigPending?: bigint | undefined;
  /** ShdPnd: signals pending for the process as a whole, a mask (Linux 2.6+). */
  sigSharedPending?: bigint | undefined;
  /** SigBlk: blocked signals, a mask. */
  sigBlocked?: bigint | undefined;
  /** SigIgn: ignored signals, a mask. */
  sigIgnored?: bigint | undefined;
  /** SigCgt: caught signals (a handler is installed), a mask. */
  sigCaught?: bigint | undefined;
  /** CapInh: inheritable capabilities, a mask (bit N = capability N, e.g. bit 21 CAP_SYS_ADMIN). */
  capInheritable?: bigint | undefined;
  /** CapPrm: permitted capabilities, a mask. */
  capPermitted?: bigint | undefined;
  /** CapEff: effective capabilities, a mask. */
  capEffective?: bigint | undefined;
  /** CapBnd: the capability bounding set, a mask (Linux 2.6.26+). */
  capBounding?: bigint | undefined;
  /** CapAmb: ambient capabilities, a mask (Linux 4.3+). */
  capAmbient?: bigint | undefined;
  /** NoNewPrivs: the no_new_privs bit, set by prctl(PR_SET_NO_NEW_PRIVS) (Linux 4.10+). */
  noNewPrivs?: boolean | undefined;
  /** Seccomp: 0 disabled, 1 strict, 2 filter (Linux 3.8+, with CONFIG_SECCOMP). */
  seccomp?: number | undefined;
  /** Cpus_allowed_list: CPUs the process may run on, as a list such as "0-3,8" (Linux 2.6.26+). */
  cpusAllowedList?: string | undefined;
  /** voluntary_ctxt_switches: times the process gave up the CPU (waiting), a count (Linux 2.6.23+). */
  voluntaryContextSwitches?: number | undefined;
  /** nonvoluntary_ctxt_switches: times it was preempted, a count (Linux 2.6.23+). */
  nonvoluntaryContextSwitches?: number | undefined;
  /** Every line as the kernel wrote it (value trimmed), including keys not modelled above. */
  raw: Record<string, string>;
}

const WHAT = 'status';

function unescapeName(value: string): string {
  return value.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** Parses the text of /proc/PID/status. */
export function parseStatus(text: string, path?: string): ProcessStatus {
  const raw: Record<string, string> = Object.create(null);
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    // Only the value of Name may have leading spaces of its own; the kernel separates with a tab.
    raw[line.slice(0, colon)] = line
      .slice(colon + 1)
      .replace(/^\t/, '')
      .trim();
  }
  const need = (key: string): string => {
    const v = raw[key];
    if (v === undefined) throw parseError(WHAT, `no "${key}:" line (truncated?)`, path);
    return v;
  };
  const num = (key: string) => int(need(key), WHAT, key, path);
  const optNum = (key: string) =>
    raw[key] === undefined ? undefined : int(raw[key], WHAT, key, path);
  const list = (key: string): number[] | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    return v === '' ? [] : v.split(/\s+/).map((x) => int(x, WHAT, key, path));
  };
  const quad = (key: string): [number, number, number, number] => {
    const v = list(key);
    if (v?.length !== 4) throw parseError(WHAT, `"${key}:" should hold 4 ids`, path);
    return [v[0]!, v[1]!, v[2]!, v[3]!] as [number, number, number, number];
  };
  const kb = (key: string): number | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    const m = /^(\d+) kB$/.exec(v);
    if (!m) throw parseError(WHAT, `"${key}:" is ${JSON.stringify(v)}, expected "N kB"`, path);
    return Number(m[1]) * 1024;
  };
  const mask = (key: string) =>
    raw[key] === undefined ? undefined : hex(raw[key], WHAT, key, path);
  const nameLine = /^Name:\t?(.*)$/m.exec(text);
  const state = need('State');
  const umask = raw['Umask'];
  const nnp = optNum('NoNewPrivs');
  return {
    name: unescapeName(nameLine?.[1] ?? need('Name')),
    state: state.charAt(0),
    tgid: num('Tgid'),
    pid: num('Pid'),
    ppid: num('PPid'),
    tracerPid: num('TracerPid'),
    uid: quad('Uid'),
    gid: quad('Gid'),
    umask: umask === undefined ? undefined : Number.parseInt(umask, 8),
    fdSize: optNum('FDSize'),
    groups: list('Groups'),
    nsTgid: list('NStgid'),
    nsPid: list('NSpid'),
    nsPgid: list('NSpgid'),
    nsSid: list('NSsid'),
    vmPeakBytes: kb('VmPeak'),
    vmSizeBytes: kb('VmSize'),
    vmRssBytes: kb('VmRSS'),
    vmSwapBytes: kb('VmSwap'),
    threads: optNum('Threads'),
    sigPending: mask('SigPnd'),
    sigSharedPending: mask('ShdPnd'),
    sigBlocked: mask('SigBlk'),
    sigIgnored: mask('SigIgn'),
    sigCaught: mask('SigCgt'),
    capInheritable: mask('CapInh'),
    capPermitted: mask('CapPrm'),
    capEffective: mask('CapEff'),
    capBounding: mask('CapBnd'),
    capAmbient: mask('CapAmb'),
    noNewPrivs: nnp === undefined ? undefined : nnp !== 0,
    seccomp: optNum('Seccomp'),
    cpusAllowedList: raw['Cpus_allowed_list'],
    voluntaryContextSwitches: optNum('voluntary_ctxt_switches'),
    nonvoluntaryContextSwitches: optNum('nonvoluntary_ctxt_switches'),
    raw,
  };
}

import { parseError } from './errors.ts';
import { hex, int } from './numbers.ts';

/** /proc/PID/status. Only the first lines are guaranteed; the rest depend on kernel version and config. */
export interface ProcessStatus {
  /** The command name; the kernel escapes "\n" and "\\" here, this is the unescaped value. */
  name: string;
  /** State letter, e.g. 'S'. */
  state: string;
  tgid: number;
  pid: number;
  ppid: number;
  tracerPid: number;
  /** Real, effective, saved, filesystem. */
  uid: [number, number, number, number];
  gid: [number, number, number, number];
  umask?: number | undefined;
  fdSize?: number | undefined;
  groups?: number[] | undefined;
  /** The pid (and tgid/pgid/sid) in each nested PID namespace, outermost first (Linux 4.1+). */
  nsTgid?: number[] | undefined;
  nsPid?: number[] | undefined;
  nsPgid?: number[] | undefined;
  nsSid?: number[] | undefined;
  /** Memory sizes in bytes (the kernel prints kB). */
  vmPeakBytes?: number | undefined;
  vmSizeBytes?: number | undefined;
  vmRssBytes?: number | undefined;
  vmSwapBytes?: number | undefined;
  threads?: number | undefined;
  sigPending?: bigint | undefined;
  sigSharedPending?: bigint | undefined;
  sigBlocked?: bigint | undefined;
  sigIgnored?: bigint | undefined;
  sigCaught?: bigint | undefined;
  capInheritable?: bigint | undefined;
  capPermitted?: bigint | undefined;
  capEffective?: bigint | undefined;
  capBounding?: bigint | undefined;
  capAmbient?: bigint | undefined;
  noNewPrivs?: boolean | undefined;
  /** 0 disabled, 1 strict, 2 filter. */
  seccomp?: number | undefined;
  cpusAllowedList?: string | undefined;
  voluntaryContextSwitches?: number | undefined;
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

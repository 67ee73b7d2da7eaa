import { readFileSync } from 'node:fs';
import { Procfs, ProcfsError, terminalFacts } from '@cryopipe/procfs';
import {
  blockingFindings,
  diagnoseTree,
  type Finding,
  formatFindings,
} from '../diagnose/diagnosis.ts';
import { JobError } from '../errors.ts';
import { SOLVED_BY_SHELL_JOB } from './adopted-job.ts';

/** What adopting a running process tree would involve, and what stands in the way. */
export interface AdoptPlan {
  /** Root pid of the tree to adopt. */
  pid: number;
  /** The root's command line, for the job's `command`. */
  command: string;
  /** Every process of the tree, root first. */
  processes: {
    /** The process id. */
    pid: number;
    /** Its command name. */
    comm: string;
  }[];
  /** The terminal(s) the tree is attached to, e.g. /dev/pts/3. */
  terminals: string[];
  /** The root leads its own session (else it must be dumped as a shell job). */
  rootLeadsSession: boolean;
  /** Problems found by diagnosing the tree; blocking ones prevent adoption. */
  findings: Finding[];
  /** What will happen, one sentence per line, for the user to read before it does. */
  explanation: string[];
}

/**
 * Looks at the tree under `pid` and says what adopting it means, or refuses
 * (PID 1, a kernel thread, no such process, something even a shell-job dump
 * can't handle) before anything is touched.
 */
export async function planAdoption(pid: number): Promise<AdoptPlan> {
  if (pid === 1)
    throw new JobError(
      'pid 1 is the init system: adopting it would take over the whole machine',
      'REFUSED',
      'give the pid of the pipeline (or of the shell it runs in)',
    );
  if (isKernelThread(pid))
    throw new JobError(
      `pid ${pid} is a kernel thread: it has no user memory to checkpoint`,
      'REFUSED',
      'give the pid of a user process, e.g. cryopipe adopt $(pgrep -o ffmpeg)',
    );
  let findings: Finding[];
  try {
    findings = await diagnoseTree(pid);
  } catch (err) {
    if (ProcfsError.is(err) && err.code === 'NOT_FOUND')
      throw new JobError(`no process ${pid}`, 'NOT_FOUND', 'find the pid with ps or pgrep');
    throw err;
  }
  const remaining = blockingFindings(findings).filter((f) => !SOLVED_BY_SHELL_JOB.has(f.id));
  if (remaining.length > 0)
    throw new JobError(
      `pid ${pid} can't be adopted: even as a shell job its tree can't be dumped:\n${formatFindings(remaining)}`,
      'REFUSED',
      `see 'cryopipe diagnose ${pid}'`,
    );
  const snap = await new Procfs().snapshot(pid);
  const term = terminalFacts(snap);
  const processes = [...snap.processes.values()].map((p) => ({ pid: p.pid, comm: p.stat.comm }));
  const terminals = [
    ...new Set([
      ...term.controlling.map((c) => c.device.path),
      ...term.descriptors.filter((d) => d.kind === 'terminal').map((d) => d.path),
    ]),
  ];
  const command = readCommand(pid);
  const explanation = [
    `adopting pid ${pid} (${command}) and its ${processes.length - 1} descendant(s): ${processes.map((p) => `${p.pid} ${p.comm}`).join(', ')}`,
    terminals.length
      ? `attached to terminal ${terminals.join(', ')}${term.root.isSessionLeader ? ' (the root leads its session)' : ` (the root is not the session leader; session ${term.root.session})`}`
      : 'attached to no terminal',
    'the tree is frozen and dumped once as a shell job, then restored at once under a terminal cryopipe owns (a fraction of a second)',
    `the old terminal sees the processes end (a shell there reports them killed, a tmux pane that ran them closes); their terminal output continues in 'cryopipe logs', and 'cryopipe attach' shows it live`,
  ];
  return {
    pid,
    command,
    processes,
    terminals,
    rootLeadsSession: term.root.isSessionLeader,
    findings,
    explanation,
  };
}

/** PF_KTHREAD in /proc/PID/stat's flags: the kernel's own mark, whatever the thread is called. */
function isKernelThread(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false; // gone: reported as "no process" by the diagnosis
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const PF_KTHREAD = 0x00200000;
  return pid === 2 || fields[1] === '2' || (Number(fields[6]) & PF_KTHREAD) !== 0;
}

function readCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return '';
  }
}

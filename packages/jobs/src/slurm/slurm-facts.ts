import { readFileSync, statfsSync } from 'node:fs';
import { formatDuration } from '../format.ts';
import { parseScontrol, scontrol, seconds } from './scontrol.ts';
import { parseSignalSpec, type SignalSpec, signalSpecInScript } from './signal-spec.ts';
import type { SlurmJobEnv } from './slurm-env.ts';

/** What `cryopipe slurm` learns about the cluster and its job before it starts. */
export interface SlurmFacts {
  /** The job's `--signal`, when it could be found (SBATCH_SIGNAL or the script's #SBATCH lines). */
  signalSpec: SignalSpec | undefined;
  /** Where the signal spec was found. */
  signalSource: 'SBATCH_SIGNAL' | 'batch script' | undefined;
  /** The signal `cryopipe slurm` checkpoints on (besides TERM). */
  warningSignal: NodeJS.Signals;
  /** `ProctrackType`, e.g. `proctrack/cgroup`. */
  proctrack: string | undefined;
  /** `KillWait` in seconds: the time between TERM and SIGKILL at the end of a job. */
  killWaitS: number | undefined;
  /** `SlurmctldParameters` has `preempt_send_user_signal`: the warning signal is sent on preemption too. */
  preemptSendsSignal: boolean;
  /** The job's partition. */
  partition: SlurmPartition | undefined;
  /** How many nodes the cluster has. */
  nodeCount: number | undefined;
  /** The file system of CRYOPIPE_HOME. */
  home: HomeFileSystem;
  /** How long the job's newest checkpoint took, in milliseconds, if it has one. */
  lastCheckpointMs: number | undefined;
  /** This process was started by slurmstepd (the batch script `exec`ed it). */
  parentIsStepd: boolean;
}

/** A partition's preemption settings. */
export interface SlurmPartition {
  /** The partition's name. */
  name: string;
  /** Its PreemptMode (REQUEUE, CANCEL, OFF…), or the cluster's. */
  preemptMode: string | undefined;
  /** Its GraceTime in seconds: from preemption to the TERM. */
  graceTimeS: number | undefined;
}

/** The file system a directory is on. */
export interface HomeFileSystem {
  /** The directory. */
  path: string;
  /** The file system's name (nfs, ext4…) or its statfs magic number in hex. */
  fsType: string;
  /** A network or cluster file system (true), local (false), or unknown. */
  shared: boolean | undefined;
}

/** One finding about the Slurm setup: never fatal, each says what to change. */
export interface SlurmFinding {
  /** Stable id, e.g. `signal-not-batch`. */
  id: string;
  /** `warning`: checkpoints may be lost or late; `note`: how cryopipe copes. */
  level: 'warning' | 'note';
  /** What is wrong. */
  message: string;
  /** What to change. */
  hint?: string;
}

/** File system magic numbers (statfs f_type) by name: which ones every node can see. */
const FS_TYPES: Record<number, [string, boolean]> = {
  26985: ['nfs', true],
  198183888: ['lustre', true],
  1196443219: ['gpfs', true],
  12805120: ['ceph', true],
  4283649346: ['cifs', true],
  4266872130: ['smb2', true],
  428016422: ['beegfs', true],
  16914839: ['9p', true],
  61267: ['ext4', false],
  1481003842: ['xfs', false],
  2435016766: ['btrfs', false],
  16914836: ['tmpfs', false],
  2035054128: ['overlay', false],
  801189825: ['zfs', false],
};

/** The file system of `path`: its name and whether it is a network/cluster file system. */
export function homeFileSystem(path: string): HomeFileSystem {
  try {
    const type = Number(statfsSync(path).type) >>> 0;
    const known = FS_TYPES[type];
    return known
      ? { path, fsType: known[0], shared: known[1] }
      : { path, fsType: `0x${type.toString(16)}`, shared: undefined };
  } catch {
    return { path, fsType: 'unknown', shared: undefined };
  }
}

/** Reads what the checks need from slurmctld (scontrol) and from this machine. */
export async function gatherSlurmFacts(
  env: SlurmJobEnv,
  opts: {
    home: string;
    warningSignal: NodeJS.Signals;
    lastCheckpointMs: number | undefined;
    processEnv?: NodeJS.ProcessEnv;
  },
): Promise<SlurmFacts> {
  const penv = opts.processEnv ?? process.env;
  const quiet = (args: string[]) => scontrol(args).catch(() => '');
  const [config, script, nodes] = await Promise.all([
    quiet(['show', 'config']),
    quiet(['write', 'batch_script', env.jobId, '-']),
    quiet(['show', 'nodes', '--oneliner']),
  ]);
  const conf = parseScontrol(config);
  let signalSource: SlurmFacts['signalSource'];
  let specText = penv.SBATCH_SIGNAL;
  if (specText) signalSource = 'SBATCH_SIGNAL';
  else {
    specText = signalSpecInScript(script);
    if (specText) signalSource = 'batch script';
  }
  let signalSpec: SignalSpec | undefined;
  try {
    signalSpec = specText ? parseSignalSpec(specText) : undefined;
  } catch {
    signalSpec = undefined;
  }
  const partitionName = penv.SLURM_JOB_PARTITION;
  let partition: SlurmFacts['partition'];
  if (partitionName) {
    const p = parseScontrol(await quiet(['show', 'partition', partitionName, '--oneliner']));
    partition = {
      name: partitionName,
      preemptMode: p.get('PreemptMode') ?? conf.get('PreemptMode'),
      graceTimeS: seconds(p.get('GraceTime')),
    };
  }
  return {
    signalSpec,
    signalSource: signalSpec ? signalSource : undefined,
    warningSignal: opts.warningSignal,
    proctrack: conf.get('ProctrackType'),
    killWaitS: seconds(conf.get('KillWait')),
    preemptSendsSignal: /preempt_send_user_signal/.test(conf.get('SlurmctldParameters') ?? ''),
    partition,
    nodeCount: nodes
      ? nodes.split('\n').filter((l) => l.startsWith('NodeName=')).length
      : undefined,
    home: homeFileSystem(opts.home),
    lastCheckpointMs: opts.lastCheckpointMs,
    parentIsStepd: parentComm() === 'slurmstepd',
  };
}

function parentComm(): string | undefined {
  try {
    return readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const short = (sig: string) => sig.replace(/^SIG/, '');

/** What is wrong with the setup for checkpoint-on-warning, from `facts`; pure. */
export function slurmFindings(facts: SlurmFacts): SlurmFinding[] {
  const out: SlurmFinding[] = [];
  const sig = short(facts.warningSignal);
  const spec = facts.signalSpec;
  const cp = facts.lastCheckpointMs;
  if (!facts.parentIsStepd) {
    out.push({
      id: 'not-exec',
      level: 'warning',
      message:
        'cryopipe slurm is not the batch script itself: Slurm signals the batch shell, which dies of the warning signal and ends the job before the checkpoint',
      hint: `start it with 'exec cryopipe slurm …' as the script's last line`,
    });
  }
  if (!spec) {
    out.push({
      id: 'no-signal',
      level: 'warning',
      message:
        'no --signal found for this job: the only warning before the time limit is TERM, with KillWait' +
        (facts.killWaitS !== undefined ? ` (${facts.killWaitS} s)` : '') +
        ' to checkpoint before SIGKILL',
      hint: `add '#SBATCH --signal=B:${sig}@120' to the script`,
    });
  } else {
    if (!spec.batch) {
      out.push({
        id: 'signal-not-batch',
        level: 'warning',
        message: `--signal=${spec.text} has no B:, so Slurm sends it only to srun steps, never to the batch shell where cryopipe runs`,
        hint: `write --signal=B:${short(spec.signal)}@${spec.seconds}`,
      });
    }
    if (spec.signal !== facts.warningSignal) {
      out.push({
        id: 'signal-mismatch',
        level: 'warning',
        message: `the job asks for ${short(spec.signal)} (--signal=${spec.text}) but cryopipe checkpoints on ${sig}`,
        hint: `pass --signal ${short(spec.signal)} to cryopipe slurm, or change the #SBATCH line`,
      });
    }
    if (cp !== undefined && spec.seconds * 1000 < cp) {
      out.push({
        id: 'warning-too-short',
        level: 'warning',
        message: `the warning comes ${spec.seconds} s before the time limit, but the last checkpoint took ${formatDuration(cp)}`,
        hint: `raise it: --signal=B:${short(spec.signal)}@${Math.ceil((cp * 2) / 1000) + 30}`,
      });
    }
  }
  if (cp !== undefined && facts.killWaitS !== undefined && facts.killWaitS * 1000 < cp) {
    out.push({
      id: 'killwait-too-short',
      level: 'warning',
      message: `KillWait is ${facts.killWaitS} s but the last checkpoint took ${formatDuration(cp)}: a checkpoint started on TERM is cut short by SIGKILL`,
      hint: 'ask the admins for a longer KillWait, and rely on the warning signal',
    });
  }
  const p = facts.partition;
  if (p && /REQUEUE/i.test(p.preemptMode ?? '') && !facts.preemptSendsSignal) {
    out.push({
      id: 'preempt-no-signal',
      level: 'note',
      message: `partition ${p.name} preempts by requeue but slurmctld sends no warning signal on preemption: cryopipe checkpoints on the TERM that ends GraceTime${p.graceTimeS !== undefined ? ` (${p.graceTimeS} s)` : ''}`,
      hint: 'admins: SlurmctldParameters=preempt_send_user_signal sends the --signal at preemption',
    });
  }
  if ((facts.nodeCount ?? 1) > 1 && facts.home.shared === false) {
    out.push({
      id: 'home-not-shared',
      level: 'warning',
      message: `CRYOPIPE_HOME ${facts.home.path} is on ${facts.home.fsType}, local to this node, and the cluster has ${facts.nodeCount} nodes: a requeued job that lands elsewhere can't find its checkpoints`,
      hint: 'set CRYOPIPE_HOME to a directory on shared storage (NFS, Lustre, GPFS, CephFS…)',
    });
  }
  if (facts.proctrack === 'proctrack/linuxproc') {
    out.push({
      id: 'linuxproc',
      level: 'note',
      message:
        'proctrack/linuxproc does not follow a restored pipeline (it is re-parented outside the job): cryopipe kills the pipeline itself when it exits, and kills a leftover one before restoring',
      hint: 'admins: proctrack/cgroup keeps every process of the job in the job',
    });
  }
  return out;
}

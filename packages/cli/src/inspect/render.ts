// Human text for `cryopipe inspect`: one checkpoint, or what changed between two.
import type {
  CheckpointDiff,
  DescriptorSummary,
  MemoryBytes,
  ProcessSummary,
} from '@cryopipe/criu-client/images';
import { isSealed, type JobRecord } from '@cryopipe/jobs';
import { formatBytes, formatDuration, table } from '../output.ts';
import type { LoadedCheckpoint } from './load.ts';

const O_ACCMODE = 3;
const O_APPEND = 0o2000;

function access(flags: number): string {
  const mode = ['read', 'write', 'read-write'][flags & O_ACCMODE] ?? 'read';
  return flags & O_APPEND ? `${mode}, append` : mode;
}

/** What one descriptor refers to, in a few words. */
export function describeDescriptor(d: DescriptorSummary): string {
  switch (d.type) {
    case 'pipe':
      return `pipe ${d.pipeId} (${d.end} end)`;
    case 'fifo':
      return `fifo ${d.path ?? '?'} (pipe ${d.pipeId})`;
    case 'file':
      return `${d.path} (${access(d.flags)}, offset ${d.pos}${d.size === undefined ? '' : `, size ${d.size}`})`;
    case 'unix-socket':
      return `unix socket ${d.ino}${d.name ? ` ${d.name}` : ''}${d.peer ? ` → peer ${d.peer}` : ''}`;
    case 'inet-socket': {
      const proto = d.proto === 6 ? 'tcp' : d.proto === 17 ? 'udp' : `proto ${d.proto}`;
      return `${proto} socket ${d.src}:${d.srcPort} → ${d.dst}:${d.dstPort}`;
    }
    case 'tty':
      return `tty ${d.ttyType ?? '?'}${d.index === undefined ? '' : ` /dev/pts/${d.index}`}`;
    case 'memfd':
      return `memfd ${d.name ?? '?'}${d.size === undefined ? '' : ` (${formatBytes(d.size)})`}, offset ${d.pos}`;
    case 'other':
      return `${d.kind} (file id ${d.fileId})`;
  }
}

/** Processes in tree order (parents first), with their depth. */
export function treeOrder(processes: ProcessSummary[]): { p: ProcessSummary; depth: number }[] {
  const pids = new Set(processes.map((p) => p.pid));
  const children = new Map<number, ProcessSummary[]>();
  for (const p of processes) {
    const parent = pids.has(p.ppid) ? p.ppid : 0;
    children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  const out: { p: ProcessSummary; depth: number }[] = [];
  const visit = (pid: number, depth: number) => {
    for (const c of (children.get(pid) ?? []).sort((a, b) => a.pid - b.pid)) {
      out.push({ p: c, depth });
      if (c.pid !== pid) visit(c.pid, depth + 1);
    }
  };
  visit(0, 0);
  return out;
}

/** The pipeline stage a process runs (1-based, as `cryopipe logs --stage N`) and its argv. */
export interface StageLabel {
  stage: number;
  argv: string[];
}

/** An argv as a shell would show it; long ones cut to `max` characters. */
function shellWords(argv: string[], max = 60): string {
  const text = argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function label(p: ProcessSummary, stage: StageLabel | undefined, rootPid: number): string {
  if (stage) return `${p.command}  [stage ${stage.stage}: ${shellWords(stage.argv)}]`;
  if (p.pid === rootPid) return `${p.command}  [root of the dumped tree]`;
  return `${p.command}${p.exe ? ` (${p.exe})` : ''}`;
}

const since = (iso: string) => {
  const ms = Date.now() - Date.parse(iso);
  return Number.isFinite(ms) && ms >= 0 ? ` (${formatDuration(ms)} ago)` : '';
};

export function renderCheckpoint(
  job: JobRecord,
  numbers: number[],
  c: LoadedCheckpoint,
  stages: Map<number, StageLabel> = new Map(),
): string {
  const { meta, summary } = c;
  const lines: string[] = [];
  const others = numbers.filter((n) => n !== c.number);
  lines.push(
    `checkpoint ${c.number} of job ${job.id}${job.name ? ` (${job.name})` : ''}: ${job.command}`,
  );
  lines.push(
    ...table([
      ['  taken', `${meta.takenAt}${since(meta.takenAt)}`],
      [
        '  mode',
        meta.leaveRunning ? 'live (the job was left running)' : 'stopping (the job was stopped)',
      ],
      [
        '  frozen',
        `${meta.frozenMs === undefined ? 'unknown' : formatDuration(meta.frozenMs)} (dump took ${formatDuration(meta.dumpMs)})`,
      ],
      ['  images', `${formatBytes(meta.imageBytes)} in ${summary.images.length} files: ${c.dir}`],
      [
        '  sealed',
        isSealed(meta)
          ? 'yes (content hashes recorded: exportable, --verify compares them)'
          : 'not yet (restores here by image identity; export and --verify hash the images first)',
      ],
      ['  criu', `${meta.criuVersion}, kernel ${meta.kernel}`],
      ['  others', others.length ? others.join(', ') : 'none'],
    ]).split('\n'),
  );

  lines.push(
    '',
    'Processes (pids as criu saw them, inside the job’s PID namespace if it has one):',
  );
  lines.push(
    table([
      ['PID', 'PPID', 'STATE', 'THREADS', 'PRIVATE', 'SHARED', 'FILE', 'COMMAND'],
      ...treeOrder(summary.processes).map(({ p, depth }) => [
        String(p.pid),
        String(p.ppid),
        p.state,
        String(p.threads.length),
        formatBytes(p.memory.private),
        formatBytes(p.memory.shared),
        formatBytes(p.memory.file),
        `${depth ? `${'  '.repeat(depth - 1)}└─ ` : ''}${label(p, stages.get(p.pid), summary.rootPid)}`,
      ]),
    ]),
  );
  lines.push('  memory: bytes saved in the images (private anonymous, shared, file pages)');

  lines.push('', 'Descriptors:');
  for (const { p } of treeOrder(summary.processes)) {
    const stage = stages.get(p.pid);
    lines.push(`  ${p.pid} ${p.command}${stage ? ` (stage ${stage.stage})` : ''}`);
    for (const d of [...p.descriptors].sort((a, b) => a.fd - b.fd))
      lines.push(`    ${String(d.fd).padStart(3)} → ${describeDescriptor(d)}`);
  }

  const command = new Map(summary.processes.map((p) => [p.pid, p.command]));
  lines.push('', 'Pipes:');
  if (summary.pipes.length === 0) lines.push('  none');
  for (const pipe of summary.pipes) {
    const ends = (which: 'read' | 'write') =>
      pipe.ends
        .filter((e) => e.end === which)
        .map((e) => `${e.pid} ${command.get(e.pid) ?? '?'} fd ${e.fd}`)
        .join(', ') || 'nobody';
    lines.push(
      `  ${pipe.kind} ${pipe.pipeId}: ${pipe.bufferedBytes} bytes in flight${pipe.capacity ? ` (capacity ${formatBytes(pipe.capacity)})` : ''}`,
    );
    lines.push(`    written by ${ends('write')}`, `    read by    ${ends('read')}`);
  }

  // What cryopipe recorded next to criu (size and a hash of the tail, per written file).
  const recorded = new Map((meta.files ?? []).map((f) => [f.path, f.size]));
  lines.push('', 'Files the restore needs (criu refuses a restore when a size differs):');
  lines.push(
    table([
      ['SIZE', 'ACCESS', 'USED BY', 'PATH'],
      ...[...summary.files]
        .sort((a, b) => Number(b.writable) - Number(a.writable) || a.path.localeCompare(b.path))
        .map((f) => {
          const mine = recorded.get(f.path);
          const note =
            mine !== undefined && f.size !== undefined && mine !== f.size
              ? `  (cryopipe recorded ${mine})`
              : '';
          return [
            f.size === undefined ? '-' : String(f.size),
            f.writable ? 'write' : 'read',
            [...new Set(f.uses.map((u) => u.pid))].join(','),
            `${f.path}${note}`,
          ];
        }),
    ]),
  );
  lines.push(
    '  size: bytes recorded at the checkpoint ("-": none recorded, e.g. files opened to append)',
  );
  return `${lines.join('\n')}\n`;
}

const signed = (n: number) => (n > 0 ? `+${formatBytes(n)}` : n < 0 ? `-${formatBytes(-n)}` : '±0');
const signedNumber = (n: number) => (n > 0 ? `+${n}` : String(n));

function memoryCell(
  before: MemoryBytes | undefined,
  after: MemoryBytes | undefined,
  k: keyof MemoryBytes,
) {
  const x = before?.[k] ?? 0;
  const y = after?.[k] ?? 0;
  return x === y ? formatBytes(y) : `${formatBytes(x)} → ${formatBytes(y)} (${signed(y - x)})`;
}

export function renderDiff(
  job: JobRecord,
  from: LoadedCheckpoint,
  to: LoadedCheckpoint,
  diff: CheckpointDiff,
): string {
  const lines: string[] = [];
  const gap = Date.parse(to.meta.takenAt) - Date.parse(from.meta.takenAt);
  lines.push(
    `job ${job.id}${job.name ? ` (${job.name})` : ''}: checkpoint ${from.number} → ${to.number}` +
      (Number.isFinite(gap)
        ? ` (${formatDuration(Math.abs(gap))} ${gap >= 0 ? 'later' : 'earlier'})`
        : ''),
  );
  if (diff.processesAdded.length) lines.push(`  new processes: ${diff.processesAdded.join(', ')}`);
  if (diff.processesRemoved.length)
    lines.push(`  processes gone: ${diff.processesRemoved.join(', ')}`);

  lines.push('', 'Memory saved:');
  lines.push(
    table([
      ['PID', 'COMMAND', 'PRIVATE', 'SHARED', 'FILE'],
      ...diff.memory.map((m) => [
        String(m.pid),
        m.command,
        memoryCell(m.before, m.after, 'private'),
        memoryCell(m.before, m.after, 'shared'),
        memoryCell(m.before, m.after, 'file'),
      ]),
    ]),
  );

  lines.push('', 'File offsets:');
  if (diff.files.length === 0) lines.push('  no change');
  else
    lines.push(
      table([
        ['PID', 'FD', 'BEFORE', 'AFTER', 'CHANGE', 'SIZE', 'PATH'],
        ...diff.files.map((f) => [
          String(f.pid),
          String(f.fd),
          f.before === undefined ? '-' : String(f.before),
          f.after === undefined ? '-' : String(f.after),
          f.delta === undefined
            ? f.before === undefined
              ? 'opened'
              : 'closed'
            : signedNumber(f.delta),
          f.sizeBefore !== undefined || f.sizeAfter !== undefined
            ? `${f.sizeBefore ?? '-'} → ${f.sizeAfter ?? '-'}`
            : 'same',
          f.path,
        ]),
      ]),
    );

  lines.push('', 'Pipes (bytes in flight):');
  if (diff.pipes.length === 0) lines.push('  no change');
  for (const p of diff.pipes)
    lines.push(
      `  ${p.kind} ${p.pipeId}: ${p.before ?? '-'} → ${p.after ?? '-'} (${signedNumber(p.delta)})  ends ${p.ends.join(' ')}`,
    );
  return `${lines.join('\n')}\n`;
}

import { type Descriptor, Procfs, type Snapshot, writableFiles } from '@cryopipe/procfs';
import {
  type FileOpen,
  type FileRecord,
  type InputRecord,
  recordFile,
  recordInput,
} from '../integrity/file-state.ts';
import { isWithin } from '../restore/relocation.ts';

export interface TreeFile {
  path: string;
  /** The distinct ways the tree has it open (offset, access, O_APPEND). */
  opens: FileOpen[];
}

/** The regular files the tree has open for writing (deleted ones excluded). */
function writableFilesOf(snap: Snapshot): TreeFile[] {
  const byPath = new Map<string, Map<string, FileOpen>>();
  for (const f of writableFiles(snap)) {
    if (f.deleted) continue;
    const open: FileOpen = {
      pos: f.pos ?? 0,
      access: f.access === 'read-write' ? 'read-write' : 'write',
      append: f.append,
    };
    const opens = byPath.get(f.path) ?? new Map<string, FileOpen>();
    opens.set(JSON.stringify(open), open);
    byPath.set(f.path, opens);
  }
  return [...byPath].map(([path, opens]) => ({ path, opens: [...opens.values()] }));
}

/** Regular files the tree only reads (its `< inputs`), outside `ownDir` and the kernel's trees. */
function readOnlyFilesOf(snap: Snapshot, ownDir: string): string[] {
  const paths = new Set<string>();
  for (const proc of snap.processes.values())
    for (const d of proc.fds as Descriptor[])
      if (d.kind === 'file' && d.access === 'read' && !d.deleted && !isWithin(d.path, ownDir))
        if (!/^\/(proc|sys|dev)\//.test(d.path)) paths.add(d.path);
  return [...paths].sort();
}

/**
 * Size, hashes and opens of every file the tree has open for writing, the
 * identity of every file it only reads, and the tree's pids; call it with
 * the tree frozen (it runs inside the frozen window of a checkpoint, so the
 * tree's /proc is read once for all three). `previous`: the last
 * checkpoint's records, whose chunk hashes of bytes already checkpointed
 * are reused.
 */
export async function recordTreeFiles(
  rootPid: number,
  ownDir: string,
  previous: readonly FileRecord[] = [],
): Promise<{ files: FileRecord[]; inputs: InputRecord[]; pids: number[] }> {
  const snap = await new Procfs().snapshot(rootPid, { outside: false });
  const before = new Map(previous.map((r) => [r.path, r]));
  const files = writableFilesOf(snap).map((f) => recordFile(f.path, f.opens, before.get(f.path)));
  const writtenPaths = new Set(files.map((f) => f.path));
  const inputs = readOnlyFilesOf(snap, ownDir)
    .filter((path) => !writtenPaths.has(path))
    .map(recordInput);
  return { files, inputs, pids: [...snap.processes.keys()].sort((a, b) => a - b) };
}

import { type Descriptor, Procfs, writableFiles } from '@cryopipe/procfs';
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

/** The regular files the tree under `rootPid` has open for writing (deleted ones excluded). */
export async function writableFilesOfTree(
  rootPid: number,
  procfs = new Procfs(),
): Promise<TreeFile[]> {
  const snap = await procfs.snapshot(rootPid, { outside: false });
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
async function readOnlyFilesOfTree(rootPid: number, ownDir: string): Promise<string[]> {
  const snap = await new Procfs().snapshot(rootPid, { outside: false });
  const paths = new Set<string>();
  for (const proc of snap.processes.values())
    for (const d of proc.fds as Descriptor[])
      if (d.kind === 'file' && d.access === 'read' && !d.deleted && !isWithin(d.path, ownDir))
        if (!/^\/(proc|sys|dev)\//.test(d.path)) paths.add(d.path);
  return [...paths].sort();
}

/**
 * Size, hashes and opens of every file the tree has open for writing, and
 * the identity of every file it only reads; call it with the tree frozen.
 * `previous`: the last checkpoint's records, whose chunk hashes of bytes
 * already checkpointed are reused.
 */
export async function recordTreeFiles(
  rootPid: number,
  ownDir: string,
  previous: readonly FileRecord[] = [],
): Promise<{ files: FileRecord[]; inputs: InputRecord[] }> {
  const before = new Map(previous.map((r) => [r.path, r]));
  const written = await writableFilesOfTree(rootPid);
  const files = written.map((f) => recordFile(f.path, f.opens, before.get(f.path)));
  const writtenPaths = new Set(files.map((f) => f.path));
  const inputs = (await readOnlyFilesOfTree(rootPid, ownDir))
    .filter((path) => !writtenPaths.has(path))
    .map(recordInput);
  return { files, inputs };
}

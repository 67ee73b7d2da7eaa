import { Procfs, writableFiles } from '@cryopipe/procfs';
import { type FileOpen, type FileRecord, recordFile } from '../integrity/file-state.ts';

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

/** Size, tail hash and opens of every file the tree has open for writing; call it with the tree frozen. */
export async function recordWritableFiles(rootPid: number): Promise<FileRecord[]> {
  return (await writableFilesOfTree(rootPid)).map((f) => recordFile(f.path, f.opens));
}

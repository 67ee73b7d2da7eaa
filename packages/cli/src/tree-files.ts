import { Procfs, writableFiles } from '@cryopipe/procfs';

/** Paths of the regular files the tree under `rootPid` has open for writing (deleted ones excluded). */
export async function writableFilesOfTree(
  rootPid: number,
  procfs = new Procfs(),
): Promise<string[]> {
  const snap = await procfs.snapshot(rootPid, { outside: false });
  return [
    ...new Set(
      writableFiles(snap)
        .filter((f) => !f.deleted)
        .map((f) => f.path),
    ),
  ];
}

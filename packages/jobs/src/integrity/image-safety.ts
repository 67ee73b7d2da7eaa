import { chmodSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { JobError } from '../errors.ts';

/**
 * Restoring runs CRIU as root on the images: whoever can write them can run
 * code as root. Refuse images (and the directories leading to them, up to the
 * cryopipe home) that anyone but us or root owns, or that group or others
 * may write. Symlinks are refused too: they could point anywhere — except
 * criu's own "parent" link to the pre-dump in "pre" (see PRE_DUMP_DIR).
 */
export function assertImagesPrivate(imagesDir: string, home: string): void {
  const uid = process.geteuid?.() ?? 0;
  const problems: string[] = [];
  const inspect = (path: string, expectDir: boolean) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Gone since the listing: a sealer's pid file or a temporary file,
      // nothing a restore reads.
      if (code === 'ENOENT' && !expectDir) return;
      problems.push(`${path}: can't be inspected (${code})`);
      return;
    }
    // A link's own mode bits mean nothing (always 777); its owner still counts.
    const link = st.isSymbolicLink();
    if (link && !isPreDumpLink(path, imagesDir)) problems.push(`${path}: is a symbolic link`);
    else if (expectDir && !st.isDirectory()) problems.push(`${path}: is not a directory`);
    if (st.uid !== uid && st.uid !== 0)
      problems.push(`${path}: owned by uid ${st.uid}, not by you (uid ${uid}) or root`);
    if (!link && (st.mode & 0o022) !== 0) {
      const who = [st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : '']
        .filter(Boolean)
        .join(' and ');
      problems.push(`${path}: writable by ${who} (mode ${(st.mode & 0o7777).toString(8)})`);
    }
  };

  // The directories from the images up to the home: a writable parent lets
  // someone swap the whole directory.
  let dir = imagesDir;
  for (;;) {
    inspect(dir, true);
    if (dir === home || relative(home, dir).startsWith('..') || dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      inspect(p, false);
      if (entry.isDirectory()) walk(p);
    }
  };
  try {
    walk(imagesDir);
  } catch (err) {
    problems.push(`${imagesDir}: can't be listed (${(err as NodeJS.ErrnoException).code})`);
  }
  if (problems.length > 0) {
    throw new JobError(
      `refusing to restore images that someone else could have written:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      'REFUSED',
      'images hold process memory and run as root on restore; if you trust them, fix ownership and modes (chown root, chmod go-w), then retry',
    );
  }
}

/** Where a checkpoint keeps the pre-dump its images build on (criu links "parent" to it). */
export const PRE_DUMP_DIR = 'pre';

function isPreDumpLink(path: string, imagesDir: string): boolean {
  return path === join(imagesDir, 'parent') && readlinkSync(path) === PRE_DUMP_DIR;
}

/**
 * criu creates images with its own modes (0644 here): take group and others'
 * access away from every file and directory under `dir`. Run on a fresh
 * checkpoint before it is renamed into place. A file already private is
 * left alone: chmod(2) changes its ctime, part of the identity a restore
 * checks (image-manifest.ts).
 */
export function restrictToOwner(dir: string): void {
  const restrict = (p: string) => {
    const mode = lstatSync(p).mode;
    if ((mode & 0o7077) !== 0) chmodSync(p, mode & 0o700);
  };
  restrict(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) restrictToOwner(p);
    else if (!entry.isSymbolicLink()) restrict(p);
  }
}

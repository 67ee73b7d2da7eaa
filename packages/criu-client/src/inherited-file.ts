import { closeSync, constants, openSync } from 'node:fs';
import { loadAddon } from './native.ts';

/**
 * criu's inherit-fd key for a regular file or directory of the dumped tree:
 * its path without the leading '/' ('.' for the root itself), the form in
 * which criu's images name it.
 */
export function fileInheritKey(path: string): string {
  if (!path.startsWith('/'))
    throw new TypeError(`fileInheritKey needs an absolute path, got "${path}"`);
  const relative = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return relative === '' ? '.' : relative;
}

/** How the dumped process had the file open, to open it the same way for `inheritFd`. */
export interface InheritedFileOptions {
  /** How the dumped process had the file open. */
  access: 'read' | 'write' | 'read-write';
  /** O_APPEND, as the dumped process had it. */
  append?: boolean;
  /** The dumped file offset; 0 when absent. */
  pos?: number;
  /** Open a directory (O_DIRECTORY, read-only) instead of a file. */
  directory?: boolean;
}

/**
 * Opens `path` to stand in for a file of the dumped tree at restore (pass
 * it in `inheritFd` with {@link fileInheritKey} of the dumped path). criu
 * hands an inherited descriptor to the restored process as it is — it does
 * not reopen it, move its offset or check its size — so this opens it with
 * the dumped access mode and O_APPEND and seeks to the dumped offset. The
 * file must exist: nothing is created or truncated. Close the returned
 * descriptor once the restore request has finished.
 */
export function openInheritedFile(path: string, options: InheritedFileOptions): number {
  if (options.directory) return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  const access = {
    read: constants.O_RDONLY,
    write: constants.O_WRONLY,
    'read-write': constants.O_RDWR,
  }[options.access];
  const fd = openSync(path, access | (options.append ? constants.O_APPEND : 0));
  try {
    if (options.pos) loadAddon().seek(fd, options.pos);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

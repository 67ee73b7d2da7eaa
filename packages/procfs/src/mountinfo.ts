import { parseError } from './errors.ts';
import { int, unescapeOctal } from './numbers.ts';

/** One line of /proc/PID/mountinfo (see proc(5)); paths are unescaped. */
export interface MountInfo {
  /** Unique id of the mount (field 1). */
  mountId: number;
  /** Id of the parent mount; the mount's own id for the root of the tree. */
  parentId: number;
  /** Major number of st_dev for files on this mount. */
  major: number;
  /** Minor number of st_dev for files on this mount. */
  minor: number;
  /** Root of the mount within its filesystem. */
  root: string;
  /** Mount point, relative to the process's root, with octal escapes decoded. */
  mountPoint: string;
  /** Per-mount options (e.g. rw, nosuid, relatime). */
  mountOptions: string[];
  /** Tagged fields such as "shared:1" or "master:2". */
  optionalFields: string[];
  /** Filesystem type, e.g. ext4, tmpfs, proc. */
  fsType: string;
  /** Mount source, e.g. /dev/sda1 or "none". */
  source: string;
  /** Per-superblock options. */
  superOptions: string[];
}

const WHAT = 'mountinfo';

/** Parses the text of /proc/PID/mountinfo. */
export function parseMountInfo(text: string, path?: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || f.length < dash + 4) {
      throw parseError(WHAT, `unexpected line ${JSON.stringify(line)}`, path);
    }
    const dev = /^(\d+):(\d+)$/.exec(f[2]!);
    if (!dev)
      throw parseError(WHAT, `device is ${JSON.stringify(f[2])}, expected major:minor`, path);
    out.push({
      mountId: int(f[0], WHAT, 'mount ID', path),
      parentId: int(f[1], WHAT, 'parent ID', path),
      major: Number(dev[1]),
      minor: Number(dev[2]),
      root: unescapeOctal(f[3]!),
      mountPoint: unescapeOctal(f[4]!),
      mountOptions: f[5]!.split(','),
      optionalFields: f.slice(6, dash),
      fsType: unescapeOctal(f[dash + 1]!),
      source: unescapeOctal(f[dash + 2]!),
      superOptions: f[dash + 3]!.split(','),
    });
  }
  return out;
}

import {
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
  statSync,
} from 'node:fs';
import { ProcfsError } from './errors.ts';

// Reads are synchronous on purpose: /proc is generated from kernel memory and never waits on a disk,
// so a sync read costs a few microseconds while a libuv threadpool round trip costs several times that
// (see BENCHMARKS.md). The public API stays async so this can change without breaking callers.

const KEEP_LIMIT = 1 << 20;
let scratch = Buffer.allocUnsafe(64 * 1024);

/** Reads a whole file until EOF; /proc reports size 0 or 4096 regardless of content, so the size is never trusted. */
export function readBytes(path: string): Buffer {
  return readInto(path, (buf, len) => Buffer.from(buf.subarray(0, len)));
}

/** Reads a whole file as UTF-8 text. */
export function readText(path: string): string {
  return readInto(path, (buf, len) => buf.toString('utf8', 0, len));
}

function readInto<T>(path: string, finish: (buf: Buffer, len: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  }
  try {
    let buf = scratch;
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
        if (buf.length <= KEEP_LIMIT) scratch = buf;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return finish(buf, len);
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  } finally {
    closeSync(fd);
  }
}

export function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  }
}

export function readDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  }
}

export function lstatPath(path: string): Stats {
  try {
    return lstatSync(path);
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  }
}

export function statPath(path: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw ProcfsError.fromSystem(err, path);
  }
}

/** Runs `read`, turning NOT_FOUND into undefined (for files an older kernel or a config may lack). */
export function optional<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (ProcfsError.is(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

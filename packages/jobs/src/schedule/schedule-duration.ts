import { JobError } from '../errors.ts';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a schedule interval: `90s`, `5m`, `1h`, or units combined
 * largest first (`1h30m`). Plain numbers are refused: a unit-less `5` is
 * as likely meant as minutes as seconds.
 */
export function parseDuration(text: string, option: string): number {
  const parts = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!parts || text.trim() === '') {
    throw new JobError(
      `${option} needs a duration like 90s, 5m, 1h or 1h30m, got '${text}'`,
      'USAGE',
    );
  }
  const [, h, m, s] = parts;
  const ms =
    Number(h ?? 0) * UNIT_MS.h! + Number(m ?? 0) * UNIT_MS.m! + Number(s ?? 0) * UNIT_MS.s!;
  if (ms < 1000) throw new JobError(`${option} must be at least 1s, got '${text}'`, 'USAGE');
  return ms;
}

/** The shortest spelling of an interval, for display: 300000 → `5m`. */
export function formatInterval(ms: number): string {
  let rest = Math.round(ms / 1000);
  let out = '';
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out || '0s';
}

/**
 * How many checkpoints periodic checkpoints keep when `--keep` is not given.
 * Restore uses the newest; two older ones remain for when the newest can't
 * be used (damaged images, an output changed since). Keeping every one
 * filled disks: a small job left 99 checkpoints (303 MB) in 2.5 minutes.
 */
export const DEFAULT_KEEP = 3;

/** `--keep N`: how many complete checkpoints to keep (at least 1, the newest). */
export function parseKeep(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new JobError(`--keep needs a whole number of checkpoints ≥ 1, got '${text}'`, 'USAGE');
  }
  return n;
}

import { int } from './numbers.ts';

/** /proc/PID/task/TID/children (Linux 3.5+, CONFIG_PROC_CHILDREN): space-separated child pids. */
export function parseChildren(text: string, path?: string): number[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/).map((p) => int(p, 'children', 'pid', path));
}

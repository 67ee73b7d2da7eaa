import { readdirSync, readFileSync } from 'node:fs';

/**
 * Direct children of `pid` from /proc, across all its threads (a child
 * forked by another thread is listed under that thread); empty once it is
 * gone. For tests that walk a live tree.
 */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process exited while we looked.
  }
  return out;
}

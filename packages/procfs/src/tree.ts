import type { ProcessStat } from './stat.ts';

/** A process and its descendants. */
export interface ProcessTreeNode {
  /** The process id. */
  pid: number;
  /** Direct children, in the order found. */
  children: ProcessTreeNode[];
}

/** A process tree as read from /proc, from a given root. */
export interface ProcessTree {
  /** The root process and, through `children`, every descendant. */
  root: ProcessTreeNode;
  /** Every pid in the tree, root first, parents before children. */
  pids: number[];
  /** How children were found: task/TID/children files, or a scan of every process's ppid. */
  source: 'children' | 'ppid-scan';
}

/** Builds a tree by asking `childrenOf` for each pid, breadth first; cycles (pid reuse races) are cut. */
export function buildTree(
  rootPid: number,
  childrenOf: (pid: number) => number[],
  source: ProcessTree['source'],
): ProcessTree {
  const root: ProcessTreeNode = { pid: rootPid, children: [] };
  const pids = [rootPid];
  const seen = new Set(pids);
  const queue = [root];
  for (let node = queue.shift(); node; node = queue.shift()) {
    for (const child of childrenOf(node.pid)) {
      if (seen.has(child)) continue;
      seen.add(child);
      const childNode: ProcessTreeNode = { pid: child, children: [] };
      node.children.push(childNode);
      pids.push(child);
      queue.push(childNode);
    }
  }
  return { root, pids, source };
}

/** Parent -> children from a list of stats (the ppid-scan fallback). */
export function childrenByParent(stats: Iterable<ProcessStat>): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const s of stats) {
    const list = map.get(s.ppid);
    if (list) list.push(s.pid);
    else map.set(s.ppid, [s.pid]);
  }
  for (const list of map.values()) list.sort((a, b) => a - b);
  return map;
}

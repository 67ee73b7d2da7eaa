import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every import cycle among the modules of `dir` (type-only imports count:
 * they tie the files together for a reader as much as value imports do).
 * Each cycle is a list of file names, first one repeated last.
 */
export function importCycles(dir: string): string[][] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'\.\/([^']+)'/gms)]
      .map((m) => m[1]!)
      .filter((target) => files.includes(target));
    edges.set(file, targets);
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...path.slice(path.indexOf(file)), file]);
      return;
    }
    state.set(file, 'open');
    for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  return cycles;
}

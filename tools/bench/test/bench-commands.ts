// The bench commands the docs give, read from their ```sh blocks and resolved
// the way pnpm would run them: which package, which script, which file. A
// command that names a missing package, script, runner or file is a problem
// reported with the doc it came from.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const repo = join(import.meta.dirname, '../../..');

/** The docs that give bench commands. */
export function benchDocs(): string[] {
  const docs = [join(repo, 'BENCHMARKS.md')];
  for (const group of ['packages', 'tools'])
    for (const name of readdirSync(join(repo, group))) {
      const doc = join(repo, group, name, 'BENCHMARKS.md');
      if (existsSync(doc)) docs.push(doc);
    }
  return docs;
}

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
  devDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** Workspace packages by name: their directory and package.json. */
export function workspace(): Map<string, { dir: string; manifest: Manifest }> {
  const out = new Map<string, { dir: string; manifest: Manifest }>();
  for (const group of ['packages', 'tools'])
    for (const name of readdirSync(join(repo, group))) {
      const path = join(repo, group, name, 'package.json');
      if (!existsSync(path)) continue;
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
      out.set(manifest.name, { dir: join(repo, group, name), manifest });
    }
  return out;
}

/** A documented command resolved to what pnpm runs. */
export interface BenchCommand {
  /** The doc (relative to the repository) and the command line as written. */
  doc: string;
  line: string;
  /** The package directory pnpm runs it in. */
  dir: string;
  /** The script file tsx runs, relative to `dir`. */
  file: string;
  /** Options after the file (`--quick`), placeholders such as DIR dropped. */
  args: string[];
}

/** Every `pnpm …` line inside a ```sh block of `doc`, with `# comments` cut. */
export function commandLines(doc: string): string[] {
  const lines: string[] = [];
  let inSh = false;
  for (const line of readFileSync(doc, 'utf8').split('\n')) {
    if (/^```/.test(line)) {
      inSh = !inSh && /^```(sh|bash)\s*$/.test(line);
      continue;
    }
    const cmd = line.replace(/\s+#.*$/, '').trim();
    if (inSh && /^(\w+=\S*\s+)*pnpm\s/.test(cmd)) lines.push(cmd);
  }
  return lines;
}

/**
 * Resolves one command line as pnpm does: `pnpm [--silent] NAME` at the root
 * (a root script), `pnpm --filter PKG [run] SCRIPT [-- ARGS]` or
 * `pnpm --filter PKG exec tsx FILE`. Returns the command or the problem.
 */
export function resolveCommand(
  doc: string,
  line: string,
  packages = workspace(),
): BenchCommand | string {
  const where = `${relative(repo, doc)}: \`${line}\``;
  const words = line.split(/\s+/).filter((w) => !/^\w+=/.test(w));
  if (words.shift() !== 'pnpm') return `${where}: not a pnpm command`;
  if (words[0] === '--silent' || words[0] === '-s') words.shift();
  if (words[0] !== '--filter') {
    // A root script, which must itself be one of the forms below.
    const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Manifest;
    const script = root.scripts?.[words[0] ?? ''];
    if (!script) return `${where}: the root package.json has no script '${words[0]}'`;
    return resolveCommand(doc, script, packages);
  }
  const name = words[1] ?? '';
  const pkg = packages.get(name);
  if (!pkg) return `${where}: no workspace package is named '${name}'`;
  let rest = words.slice(2);
  let runner: string[];
  if (rest[0] === 'exec') {
    runner = rest.slice(1);
    rest = [];
  } else {
    if (rest[0] === 'run') rest = rest.slice(1);
    const scriptName = rest[0] ?? '';
    const script = pkg.manifest.scripts?.[scriptName];
    if (!script) return `${where}: ${name} has no script '${scriptName}'`;
    runner = script.split(/\s+/);
    rest = rest.slice(1);
    if (rest[0] === '--') rest = rest.slice(1);
  }
  if (runner[0] !== 'tsx') return `${where}: runs '${runner[0]}', not tsx`;
  // A fresh clone has only what the package itself depends on.
  const deps = { ...pkg.manifest.dependencies, ...pkg.manifest.devDependencies };
  if (!deps.tsx) return `${where}: tsx is not a devDependency of ${name}`;
  const file = runner[1] ?? '';
  if (!existsSync(join(pkg.dir, file))) return `${where}: ${name} has no file ${file}`;
  const args = [...runner.slice(2), ...rest].filter((a) => a.startsWith('--') && a !== '--');
  return { doc: relative(repo, doc), line, dir: pkg.dir, file, args };
}

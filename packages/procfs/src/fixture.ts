import { readFileSync } from 'node:fs';

/** Test helper: the text of a file under test/fixtures/proc. */
export function fixtureText(path: string): string {
  return readFileSync(new URL(`../test/fixtures/proc/${path}`, import.meta.url), 'utf8');
}

/** Test helper: the absolute path of a fixture /proc root (test/fixtures/NAME). */
export function fixtureRoot(name = 'proc'): string {
  return new URL(`../test/fixtures/${name}`, import.meta.url).pathname;
}

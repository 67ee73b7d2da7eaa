import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCmdline } from './cmdline.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../test/fixtures/proc/100/${name}`, import.meta.url), 'utf8');

describe('parseCmdline', () => {
  it('splits on NUL and drops the trailing one', () => {
    expect(parseCmdline('sh\0-c\0a b\0')).toEqual(['sh', '-c', 'a b']);
    expect(parseCmdline(fixture('cmdline')).length).toBeGreaterThan(0);
  });
  it('is empty for kernel threads and keeps argv rewritten without NULs', () => {
    expect(parseCmdline('')).toEqual([]);
    expect(parseCmdline('nginx: worker process')).toEqual(['nginx: worker process']);
  });
});

import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobStore } from './job-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'cryopipe-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('job store', () => {
  it('resolves a symlinked home and a home that does not exist yet to real paths', () => {
    mkdirSync(join(dir, 'real'), { mode: 0o700 });
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(new JobStore(join(dir, 'link', 'sub', 'home')).home).toBe(
      join(dir, 'real', 'sub', 'home'),
    );
    const store = new JobStore(join(dir, 'link'));
    const id = store.create();
    expect(store.jobDir(id)).toBe(join(dir, 'real', 'jobs', id));
  });

  it('claims a name once; rm and a vanished or abandoned job give it back', () => {
    const store = new JobStore(join(dir, 'names-home'));
    const a = store.create('x');
    expect(() => store.create('x')).toThrow(/a job named 'x' already exists/);
    expect(readdirSync(store.jobsDir)).toEqual([a]); // the loser left nothing
    store.remove(a);
    const b = store.create('x');
    rmSync(store.jobDir(b), { recursive: true }); // removed by hand: a stale claim
    const c = store.create('x');
    // c never got its job.json (a run that died starting): young, it still holds the name…
    expect(() => store.create('x')).toThrow(/already exists/);
    const old = (Date.now() - 3_600_000) / 1000;
    utimesSync(store.jobDir(c), old, old); // …until it is clearly abandoned
    const d = store.create('x');
    expect(readdirSync(join(store.home, 'names', 'x'))).toEqual([d]);
    expect(readdirSync(join(store.home, 'names')).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

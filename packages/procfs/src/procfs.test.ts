import { describe, expect, it } from 'vitest';
import { ProcfsError } from './errors.ts';
import { fixtureRoot } from './fixture.ts';
import { Procfs } from './procfs.ts';

describe('Procfs on a fixture root', () => {
  const procfs = new Procfs({ root: fixtureRoot() });

  it('reads its parse context from ROOT/self/auxv and ROOT/stat', () => {
    const ctx = procfs.context();
    expect(ctx).toMatchObject({ clockTicks: 100, pageSize: 4096 });
    expect(ctx.bootTimeMs).toBeGreaterThan(1_500_000_000_000);
  });

  it('lists pids and reads a process through the injected root', async () => {
    expect(await procfs.pids()).toEqual([100, 101, 102, 103, 104, 105]);
    const p = procfs.process(101);
    expect((await p.stat()).comm).toBe('a) (b c');
    expect(await procfs.process(100).children()).toEqual([101, 102]);
    expect((await procfs.process(100).environ()).get('HOME')).toBe('/root');
  });

  it('reads comm without its newline, and tells existing, zombie and missing processes apart', async () => {
    expect(await procfs.process(100).comm()).toBe('bash');
    expect(await procfs.process(100).exists()).toBe(true);
    expect(await procfs.process(100).isAlive()).toBe(true);
    // 105 is a zombie: its pid is still taken, but it runs nothing.
    expect(await procfs.process(105).exists()).toBe(true);
    expect(await procfs.process(105).isAlive()).toBe(false);
    expect(await procfs.process(999).exists()).toBe(false);
    expect(await procfs.process(999).isAlive()).toBe(false);
  });

  it('reports a missing process as NOT_FOUND with its path', async () => {
    const err = await procfs
      .process(999)
      .stat()
      .catch((e: unknown) => e);
    expect(ProcfsError.is(err, 'NOT_FOUND')).toBe(true);
    expect((err as ProcfsError).path).toBe(`${fixtureRoot()}/999/stat`);
  });

  it('reports a truncated file as PARSE', async () => {
    const err = await procfs
      .process(104)
      .stat()
      .catch((e: unknown) => e);
    expect(ProcfsError.is(err, 'PARSE')).toBe(true);
  });

  it('overrides the context when asked', () => {
    expect(
      new Procfs({ root: fixtureRoot(), context: { clockTicks: 250 } }).context().clockTicks,
    ).toBe(250);
  });
});

describe('Procfs.tree', () => {
  it('falls back to a ppid scan when there are no children files', async () => {
    const tree = await new Procfs({ root: fixtureRoot('proc-tree') }).tree(10);
    expect(tree.source).toBe('ppid-scan');
    expect(tree.pids).toEqual([10, 11, 13, 12]);
    expect(tree.root.children.map((c) => c.pid)).toEqual([11, 13]);
    expect(tree.root.children[0]!.children[0]!.pid).toBe(12);
  });

  it('refuses a forced children method when the kernel lacks the files', async () => {
    const err = await new Procfs({ root: fixtureRoot('proc-tree') })
      .tree(10, { method: 'children' })
      .catch((e: unknown) => e);
    expect(ProcfsError.is(err, 'NOT_FOUND')).toBe(true);
  });
});

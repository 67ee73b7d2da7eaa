import { spawnSync } from 'node:child_process';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, killJobRoot, root } from '@cryopipe/testkit';
import { pack } from 'tar-stream';
import { expect, it } from 'vitest';
import { expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

/** A tar.zst made by hand, for archives cryopipe would never write. */
async function craftArchive(path: string, entries: { name: string; body: string }[]) {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, mode: 0o600 }, e.body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  const z = spawnSync('zstd', ['-q', '-c'], { input: Buffer.concat(chunks) });
  writeFileSync(path, z.stdout);
}

describeWith([root, criu], 'cryopipe export and import', () => {
  const { cli, cliWith, dir, home } = useCli();
  const output = join(dir, 'count.txt');
  const archive = join(dir, 'job.tar.zst');
  /** Everything in a home's jobs directory, staging directories included. */
  const jobsIn = (h: string) => (existsSync(join(h, 'jobs')) ? readdirSync(join(h, 'jobs')) : []);

  it('exports a checkpointed job, imports it into a fresh home, restores: identical output', async () => {
    const n = 600;
    const started = cli('run', '--json', '--', 'sh', '-c', slowCounter(n, 20), '>', 'count.txt');
    expect(started.status).toBe(0);
    const { id } = started.json();
    await until(() => existsSync(output) && statSync(output).size > 300, 'some output');

    const running = cli('export', id, '-o', archive);
    expect(running.status).toBe(1);
    expect(running.stderr).toMatch(/is running/);
    expect(existsSync(archive)).toBe(false);

    expect(cli('checkpoint', id).status).toBe(0);
    const exported = cli('export', id, '-o', archive, '--json');
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.json().outputs).toEqual([output]);
    expect(statSync(archive).mode & 0o777).toBe(0o600);

    // A fresh home at the same path (another machine), without the job's output.
    rmSync(output);
    renameSync(home, `${home}.exported`);
    // Unsigned, at the recorded paths: what this test is about is the round trip.
    const imported = cli(
      'import',
      archive,
      '--json',
      '--trust-unsigned',
      '--outputs-at-recorded-paths',
    );
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.json()).toMatchObject({ id, placed: [output] });
    expect(statSync(join(home, 'jobs', id)).mode & 0o777).toBe(0o700);
    expect(cli('ps', '--json').json()[0]).toMatchObject({ id, state: 'checkpointed' });

    const again = cli('import', archive, '--trust-unsigned');
    expect(again.status).toBe(6);
    expect(again.stderr).toMatch(/already exists/);

    expect(cli('restore', id).status).toBe(0);
    const waited = cli('wait', id);
    expect(waited.status, waited.stderr).toBe(0);
    expect(readFileSync(output, 'utf8')).toBe(expectedCount(n));
  });

  it('imports into a home at another path and restores there: the job follows its directory', async () => {
    const n = 400;
    const out = join(dir, 'moved.txt');
    const started = cli(
      'run',
      '--json',
      '--',
      'sh',
      '-c',
      `${slowCounter(n)}; echo bye >&2`,
      '>',
      'moved.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    const { id } = started.json();
    await until(() => existsSync(out) && statSync(out).size > 300, 'some output');
    expect(cli('checkpoint', id).status).toBe(0);
    const movedArchive = join(dir, 'moved.tar.zst');
    expect(cli('export', id, '-o', movedArchive).status).toBe(0);
    // The old home disappears: a restore that reached for its paths would fail.
    renameSync(home, `${home}.gone`);
    const other = { CRYOPIPE_HOME: join(dir, 'elsewhere', 'home') };
    const imported = cliWith(
      other,
      'import',
      movedArchive,
      '--trust-unsigned',
      '--outputs-at-recorded-paths',
    );
    expect(imported.status, imported.stderr).toBe(0);
    const restored = cliWith(other, 'restore', id, '--json');
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.json().moved).toContainEqual({
      from: join(home, 'jobs', id, 'run'),
      to: join(other.CRYOPIPE_HOME, 'jobs', id, 'run'),
    });
    try {
      const waited = cliWith(other, 'wait', id);
      expect(waited.status, waited.stderr).toBe(0);
    } finally {
      killJobRoot(restored.json().rootPid, restored.json().id);
    }
    expect(readFileSync(out, 'utf8')).toBe(expectedCount(n));
    expect(cliWith(other, 'logs', id, '--stage', '1').stdout).toMatch(/^bye$/m);
    expect(existsSync(home)).toBe(false);
    renameSync(`${home}.gone`, home);
  });

  it('refuses to overwrite a different file at an output path, and changes nothing', () => {
    renameSync(home, `${home}.restored`);
    writeFileSync(output, 'something else\n');
    const r = cli('import', archive, '--trust-unsigned', '--outputs-at-recorded-paths');
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/refusing to overwrite[\s\S]*count\.txt/);
    expect(readFileSync(output, 'utf8')).toBe('something else\n');
    expect(jobsIn(home)).toEqual([]);
  });

  it('refuses archives with paths outside the job directory, writing nothing', async () => {
    const manifest = JSON.parse(
      spawnSync('sh', ['-c', `zstd -dc '${archive}' | tar -xO cryopipe-export.json`], {
        encoding: 'utf8',
      }).stdout,
    );
    const evil = join(dir, 'evil');
    for (const name of ['job/../../evil', '/tmp/evil', 'elsewhere/evil', 'outputs/7']) {
      const crafted = join(dir, 'crafted.tar.zst');
      await craftArchive(crafted, [
        { name: 'cryopipe-export.json', body: JSON.stringify({ ...manifest, outputs: [] }) },
        { name, body: 'x' },
      ]);
      const r = cli('import', crafted, '--trust-unsigned');
      expect(r.status, name).toBe(6);
      expect(r.stderr).toMatch(/outside the job directory/);
      expect(existsSync(evil)).toBe(false);
      expect(jobsIn(home)).toEqual([]);
    }
    const notOurs = join(dir, 'plain.tar.zst');
    await craftArchive(notOurs, [{ name: 'hello.txt', body: 'hi' }]);
    const r = cli('import', notOurs, '--trust-unsigned');
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/not a cryopipe export/);
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, killJobRoot, root } from '@cryopipe/testkit';
import { extract, type Header, pack } from 'tar-stream';
import { afterAll, expect, it } from 'vitest';
import { expectedCount, slowCounter, until, useCli } from '../test/cli-harness.ts';

/** Bytes of the signature trailer (a zstd skippable frame) at the end of a signed export. */
const TRAILER = 112;

interface Entry {
  header: Partial<Header> & { name: string };
  body: Buffer;
}

/** The tar entries of an export (signed or not), read by hand. */
async function readArchive(path: string): Promise<Entry[]> {
  let bytes = readFileSync(path);
  if (
    bytes.subarray(bytes.length - TRAILER, bytes.length - TRAILER + 4).readUInt32LE(0) ===
    0x184d2a5e
  )
    bytes = bytes.subarray(0, bytes.length - TRAILER);
  const tar = spawnSync('zstd', ['-q', '-d', '-c'], { input: bytes, maxBuffer: 1 << 30 }).stdout;
  const x = extract();
  const entries: Entry[] = [];
  const done = (async () => {
    for await (const e of x) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      entries.push({ header: e.header, body: Buffer.concat(chunks) });
    }
  })();
  x.end(tar);
  await done;
  return entries;
}

/** An unsigned tar.zst made by hand, for archives cryopipe would never write. */
async function writeArchive(path: string, entries: Entry[]): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const { header, body } = e;
    const isFile = header.type === 'file' || !header.type;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (isFile) p.entry({ ...header, size: body.length }, body, done);
      else p.entry({ ...header, size: 0 }, done);
    });
  }
  p.finalize();
  await collected;
  writeFileSync(path, spawnSync('zstd', ['-q', '-c'], { input: Buffer.concat(chunks) }).stdout);
}

const json = (e: Entry) => JSON.parse(e.body.toString('utf8'));
const setJson = (e: Entry, value: unknown): Entry => ({
  header: e.header,
  body: Buffer.from(JSON.stringify(value, null, 2)),
});

/** Every file and directory under `dir`, for "nothing else was created". */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: false }).map(String).sort();
}

describeWith([root, criu], 'untrusted archives', () => {
  const { cli, cliWith, dir } = useCli();
  const keys = join(dir, 'keys');
  const output = join(dir, 'count.txt');
  const signed = join(dir, 'signed.tar.zst');
  const unsigned = join(dir, 'unsigned.tar.zst');
  const strangers = join(dir, 'strangers.tar.zst');
  const encrypted = join(dir, 'encrypted.cpx');
  const n = 400;
  const homeAt = (name: string) => ({ CRYOPIPE_HOME: join(dir, name, 'home') });
  const jobsIn = (env: { CRYOPIPE_HOME: string }) => tree(join(env.CRYOPIPE_HOME, 'jobs'));
  const restored: { id: string; rootPid: number }[] = [];
  let id = '';
  afterAll(() => {
    for (const job of restored) killJobRoot(job.rootPid, job.id);
  });

  it('20 a signed export imports and restores byte-identical on a second home; unsigned and unknown-key archives are refused unless --trust-unsigned, which warns', async () => {
    mkdirSync(keys);
    const made = cli('key', 'new', join(keys, 'build'), '--json');
    expect(made.status, made.stderr).toBe(0);
    expect(statSync(join(keys, 'build.key')).mode & 0o777).toBe(0o600);
    expect(cli('key', 'new', join(keys, 'build')).status).toBe(2); // never replaces a key
    expect(cli('key', 'new', join(keys, 'stranger')).status).toBe(0);
    expect(cli('key', 'new', join(keys, 'transfer'), '--secret').status).toBe(0);

    const started = cli(
      'run',
      '--name',
      'enc',
      '--json',
      '--',
      'sh',
      '-c',
      slowCounter(n, 20),
      '>',
      'count.txt',
    );
    expect(started.status, started.stderr).toBe(0);
    id = started.json().id;
    await until(() => existsSync(output) && statSync(output).size > 300, 'some output');
    expect(cli('checkpoint', id).status).toBe(0);
    const ex = cli('export', id, '-o', signed, '--sign', join(keys, 'build.key'), '--json');
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.json().signedBy).toBe(made.json().id);
    const plain = cli('export', id, '-o', unsigned);
    expect(plain.status).toBe(0);
    expect(plain.stderr).toMatch(/unsigned/);
    expect(cli('export', id, '-o', strangers, '--sign', join(keys, 'stranger.key')).status).toBe(0);
    expect(
      cli(
        'export',
        id,
        '-o',
        encrypted,
        '--sign',
        join(keys, 'build.key'),
        '--encrypt',
        join(keys, 'transfer.secret'),
      ).status,
    ).toBe(0);
    // A signed archive is still a plain tar.zst to other tools.
    expect(
      spawnSync('sh', ['-c', `zstd -dc '${signed}' | tar t`], { encoding: 'utf8' }).stdout,
    ).toMatch(/^cryopipe-export\.json$/m);
    const before = readFileSync(output);

    const b = homeAt('b');
    expect(cliWith(b, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    const u = cliWith(b, 'import', unsigned);
    expect(u.status).toBe(6);
    expect(u.stderr).toMatch(/not signed[\s\S]*--sign KEYFILE[\s\S]*--trust-unsigned/);
    const s = cliWith(b, 'import', strangers);
    expect(s.status).toBe(6);
    expect(s.stderr).toMatch(/signed by key [0-9a-f]{64}, which is not trusted here/);
    expect(jobsIn(b)).toEqual([]);

    const imported = cliWith(b, 'import', signed, '--json');
    expect(imported.status, imported.stderr).toBe(0);
    const moved = join(b.CRYOPIPE_HOME, 'jobs', id, 'outputs', 'count.txt');
    expect(imported.json()).toMatchObject({
      id,
      name: 'enc',
      authenticity: { kind: 'signed' },
      outputs: [{ from: output, to: moved }],
    });
    expect(readFileSync(output)).toEqual(before); // the original output untouched
    const restore = cliWith(b, 'restore', 'enc', '--json');
    expect(restore.status, restore.stderr).toBe(0);
    restored.push(restore.json());
    const waited = cliWith(b, 'wait', 'enc');
    expect(waited.status, waited.stderr).toBe(0);
    expect(readFileSync(moved, 'utf8')).toBe(expectedCount(n));
    expect(readFileSync(output)).toEqual(before);

    // The same through encryption, on a third home.
    const c = homeAt('c');
    expect(cliWith(c, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    expect(cliWith(c, 'import', encrypted).status).toBe(2); // needs --decrypt
    const dec = cliWith(
      c,
      'import',
      encrypted,
      '--decrypt',
      join(keys, 'transfer.secret'),
      '--json',
    );
    expect(dec.status, dec.stderr).toBe(0);
    expect(dec.json().authenticity.kind).toBe('signed');

    // --trust-unsigned takes it, with the warning.
    const d = homeAt('d');
    const trusting = cliWith(d, 'import', unsigned, '--trust-unsigned');
    expect(trusting.status, trusting.stderr).toBe(0);
    expect(trusting.stderr).toMatch(/warning: .*not signed.*runs its code as root/);
    expect(cliWith(homeAt('d2'), 'import', strangers, '--trust-unsigned').stderr).toMatch(
      /warning: .*not trusted here/,
    );
  });

  it('20 a job moved twice (imported, restored and checkpointed there, exported again, imported on a third home) finishes byte-identical', async () => {
    const [m1, m2] = [homeAt('m1'), homeAt('m2')];
    for (const h of [m1, m2])
      expect(cliWith(h, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    expect(cliWith(m1, 'import', signed).status).toBe(0);
    const out1 = join(m1.CRYOPIPE_HOME, 'jobs', id, 'outputs', 'count.txt');
    const size = statSync(out1).size;
    const r1 = cliWith(m1, 'restore', id, '--json');
    expect(r1.status, r1.stderr).toBe(0);
    restored.push(r1.json());
    await until(() => statSync(out1).size > size + 200, 'more output on the first move');
    expect(cliWith(m1, 'checkpoint', id).status).toBe(0);
    const again = join(dir, 'again.tar.zst');
    const ex = cliWith(m1, 'export', id, '--sign', join(keys, 'build.key'), '-o', again, '--json');
    expect(ex.status, ex.stderr).toBe(0);
    // Checkpoint 1 needs the output at its first path, which this archive doesn't carry.
    expect(ex.json().checkpoints).toEqual([2]);
    expect(ex.stderr).toMatch(/checkpoint 1 left out/);
    expect(cliWith(m2, 'import', again).status).toBe(0);
    const r2 = cliWith(m2, 'restore', id, '--json');
    expect(r2.status, r2.stderr).toBe(0);
    restored.push(r2.json());
    expect(cliWith(m2, 'wait', id).status).toBe(0);
    expect(readFileSync(join(m2.CRYOPIPE_HOME, 'jobs', id, 'outputs', 'count.txt'), 'utf8')).toBe(
      expectedCount(n),
    );
  });

  it('21 one byte flipped anywhere in a signed or encrypted archive, or the archive cut short: refused, nothing written', () => {
    const bytes = readFileSync(signed);
    const at = [
      0,
      5,
      600,
      bytes.length >> 1,
      bytes.length - TRAILER - 3,
      bytes.length - TRAILER + 2,
      bytes.length - 70,
      bytes.length - 1,
    ];
    const e = homeAt('e');
    expect(cliWith(e, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    const work = tree(dir).filter((p) => !p.startsWith('e/'));
    for (const [i, pos] of at.entries()) {
      const damaged = Buffer.from(bytes);
      damaged[pos] = damaged[pos]! ^ 0x01;
      const file = join(dir, `flipped-${i}.tar.zst`);
      writeFileSync(file, damaged);
      for (const extra of [[], ['--trust-unsigned']]) {
        const r = cliWith(e, 'import', file, ...extra);
        expect(r.status, `byte ${pos} ${extra}: ${r.stderr}`).toBe(6);
        // A flip inside the trailer's frame header makes it an unsigned archive.
        expect(r.stderr).toMatch(
          /signature does not match|not signed|not a cryopipe export|damaged/,
        );
        if (extra.length === 0) expect(r.stderr).toMatch(/signature does not match|not signed/);
        expect(jobsIn(e)).toEqual([]);
      }
    }
    const cut = join(dir, 'cut.tar.zst');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
    expect(cliWith(e, 'import', cut).status).toBe(6);

    const secret = join(keys, 'transfer.secret');
    const sealed = readFileSync(encrypted);
    for (const pos of [3, 50, sealed.length >> 1, sealed.length - 1]) {
      const damaged = Buffer.from(sealed);
      damaged[pos] = damaged[pos]! ^ 0x80;
      writeFileSync(join(dir, 'flipped.cpx'), damaged);
      const r = cliWith(e, 'import', join(dir, 'flipped.cpx'), '--decrypt', secret);
      expect(r.status, `${pos}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/does not decrypt|not signed/);
    }
    writeFileSync(join(dir, 'cut.cpx'), sealed.subarray(0, sealed.length - 16));
    expect(cliWith(e, 'import', join(dir, 'cut.cpx'), '--decrypt', secret).stderr).toMatch(
      /does not decrypt/,
    );
    expect(cliWith(e, 'import', encrypted, '--decrypt', join(keys, 'other.secret')).status).toBe(2);
    writeFileSync(join(keys, 'wrong.secret'), `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    expect(cliWith(e, 'import', encrypted, '--decrypt', join(keys, 'wrong.secret')).stderr).toMatch(
      /does not decrypt/,
    );
    expect(jobsIn(e)).toEqual([]);
    expect(
      tree(dir).filter((p) => !p.startsWith('e/') && !/^(flipped|cut|keys\/wrong)/.test(p)),
    ).toEqual(work.filter((p) => !/^(flipped|cut|keys\/wrong)/.test(p)));
  });

  it('22 hostile entries and output paths (absolute, .., symlink, hard link, device): refused or kept inside the new job directory, nothing written outside', async () => {
    const real = await readArchive(unsigned);
    const manifest = json(real[0]!);
    const f = homeAt('f');
    const outside = join(dir, 'evil');
    const cron = `/etc/cron.d/cryopipe-test-${process.pid}`;
    const work = tree(dir);
    const crafted = join(dir, 'crafted.tar.zst');
    const refuse = async (entries: Entry[], why: RegExp, ...extra: string[]) => {
      await writeArchive(crafted, entries);
      const r = cliWith(f, 'import', crafted, '--trust-unsigned', ...extra);
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toMatch(why);
      expect(jobsIn(f)).toEqual([]);
      expect(existsSync(outside)).toBe(false);
      expect(existsSync(cron)).toBe(false);
    };
    const file = (name: string, body = 'x'): Entry => ({
      header: { name, mode: 0o644, type: 'file' },
      body: Buffer.from(body),
    });
    // Entry names: '..', absolute, neither job/ nor a listed output.
    for (const name of [
      'job/../../evil',
      '../evil',
      outside,
      'job/logs/../../../evil',
      'outputs/9',
    ])
      await refuse([...real, file(name)], /outside the job directory/);
    // Links and devices, even inside the job directory.
    const odd: Entry['header'][] = [
      { name: 'job/logs/evil', type: 'symlink', linkname: outside },
      { name: 'job/logs/evil', type: 'link', linkname: 'job/job.json' },
      { name: 'job/logs/evil', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'job/logs/evil', type: 'fifo' },
    ];
    for (const header of odd)
      await refuse(
        [...real, { header: { ...header, mode: 0o644 }, body: Buffer.alloc(0) }],
        /a (symlink|link|character-device|fifo), where only files/,
      );

    // Outputs with any absolute path: consistent manifest and checkpoint.json, so
    // only placement stands between them and the machine.
    const retarget = (to: string[]): Entry[] =>
      real.map((e) => {
        if (e.header.name === 'cryopipe-export.json')
          return setJson(e, {
            ...manifest,
            outputs: manifest.outputs.map((o: { path: string }, i: number) => ({
              ...o,
              path: to[i],
            })),
          });
        if (/^job\/checkpoints\/\d+\/checkpoint\.json$/.test(e.header.name)) {
          const cp = json(e);
          return setJson(e, {
            ...cp,
            files: cp.files.map((x: { path: string }) =>
              x.path === output ? { ...x, path: to[0] } : x,
            ),
          });
        }
        return e;
      });
    for (const path of [join(outside, 'deep', 'count.txt'), cron]) {
      await writeArchive(crafted, retarget([path]));
      const r = cliWith(f, 'import', crafted, '--trust-unsigned', '--json');
      expect(r.status, r.stderr).toBe(0);
      const to = join(f.CRYOPIPE_HOME, 'jobs', id, 'outputs', path.split('/').at(-1)!);
      expect(r.json().outputs).toEqual([{ from: path, to }]);
      expect(statSync(to).mode & 0o7777).toBe(0o644 & 0o666);
      expect(existsSync(outside)).toBe(false);
      expect(existsSync(cron)).toBe(false);
      expect(cliWith(f, 'rm', id).status).toBe(0);
    }
    // Asked for the recorded path: a directory that isn't there is not created.
    await refuse(
      retarget([join(outside, 'deep', 'count.txt')]),
      /does not exist here/,
      '--outputs-at-recorded-paths',
    );
    expect(
      tree(dir).filter((p) => p !== 'f' && !p.startsWith('f/') && !p.startsWith('crafted')),
    ).toEqual(work.filter((p) => !p.startsWith('crafted')));
  });

  it("23 an archive that plants a checkpoint into another job's directory, or whose checkpoint.json points at files outside its job: refused before anything is written, the victims untouched", async () => {
    const g = homeAt('g');
    expect(cliWith(g, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    expect(cliWith(g, 'import', signed).status).toBe(0); // the victim job, `id`, lives here
    const victimDir = join(g.CRYOPIPE_HOME, 'jobs', id);
    const victimBefore = tree(victimDir);
    const victimFile = join(dir, 'victim.txt');
    writeFileSync(victimFile, 'precious\n');
    const victimStat = statSync(victimFile);

    // The attacker's job: the real archive under another id.
    const other = 'attacker1';
    const real = (await readArchive(unsigned)).map((e) => {
      if (!/\.json$/.test(e.header.name)) return e;
      const text = e.body
        .toString('utf8')
        .replaceAll(`/jobs/${id}`, `/jobs/${other}`)
        .replaceAll(`"${id}"`, `"${other}"`);
      return { header: e.header, body: Buffer.from(text) };
    });
    const crafted = join(dir, 'planted.tar.zst');
    const cpName = /^job\/checkpoints\/1\/checkpoint\.json$/;
    const withCheckpoint = (edit: (cp: Record<string, unknown>) => unknown) =>
      real.map((e) => (cpName.test(e.header.name) ? setJson(e, edit(json(e))) : e));
    const refuse = async (entries: Entry[], why: RegExp, ...extra: string[]) => {
      await writeArchive(crafted, entries);
      const r = cliWith(g, 'import', crafted, '--trust-unsigned', '--name', 'x', ...extra);
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toMatch(why);
      expect(tree(join(g.CRYOPIPE_HOME, 'jobs'))).toEqual(
        victimBefore
          .map((p) => `${id}/${p}`)
          .concat(id)
          .sort(),
      );
      expect(readFileSync(victimFile, 'utf8')).toBe('precious\n');
      expect(statSync(victimFile).mtimeMs).toBe(victimStat.mtimeMs);
    };
    // The sanity check: this rebranded archive imports cleanly (then is removed).
    await writeArchive(crafted, real);
    const ok = cliWith(g, 'import', crafted, '--trust-unsigned', '--name', 'x');
    expect(ok.status, ok.stderr).toBe(0);
    expect(cliWith(g, 'rm', other).status).toBe(0);

    // An entry into the victim's checkpoints, by name.
    await refuse(
      [
        ...real,
        {
          header: { name: `job/../${id}/checkpoints/2/core-1.img`, mode: 0o600, type: 'file' },
          body: Buffer.from('x'),
        },
      ],
      /outside the job directory/,
    );
    // An output whose recorded path is in the victim's checkpoint directory.
    const planted = join(victimDir, 'checkpoints', '1', 'evil.img');
    const manifest = json(real[0]!);
    const plantEntries = real.map((e) => {
      if (e.header.name === 'cryopipe-export.json')
        return setJson(e, { ...manifest, outputs: [{ ...manifest.outputs[0], path: planted }] });
      if (cpName.test(e.header.name)) {
        const cp = json(e);
        return setJson(e, {
          ...cp,
          files: cp.files.map((x: { path: string }) =>
            x.path === output ? { ...x, path: planted } : x,
          ),
        });
      }
      return e;
    });
    await refuse(
      plantEntries,
      /inside a cryopipe home or job directory/,
      '--outputs-at-recorded-paths',
    );
    expect(existsSync(planted)).toBe(false);
    // checkpoint.json files entries pointing outside the job, at another job, at /etc/passwd.
    for (const path of [victimFile, join(victimDir, 'job.json'), '/etc/passwd', `${dir}/../x`]) {
      await refuse(
        withCheckpoint((cp) => ({
          ...cp,
          files: [...(cp.files as object[]), { path, size: 0, tailSha256: '0'.repeat(64) }],
        })),
        path.includes('..') ? /malformed/ : /neither one of the job's outputs/,
      );
    }
    // A checkpoint.json of another job, or numbered otherwise, or with image names that climb out.
    await refuse(
      withCheckpoint((cp) => ({ ...cp, jobId: id })),
      /belongs to job/,
    );
    await refuse(
      withCheckpoint((cp) => ({ ...cp, number: 2 })),
      /says it is checkpoint 2/,
    );
    await refuse(
      withCheckpoint((cp) => ({
        ...cp,
        images: [{ name: '../../../../etc/shadow', size: 1, sha256: '0'.repeat(64) }],
      })),
      /not a plain relative name/,
    );
    // A checkpoint directory the manifest does not list.
    await refuse(
      [
        ...real,
        {
          header: { name: 'job/checkpoints/7/checkpoint.json', mode: 0o600, type: 'file' },
          body: Buffer.from('{}'),
        },
      ],
      /its checkpoints directory holds/,
    );
    expect(tree(victimDir)).toEqual(victimBefore);
  });

  it('24 importing a job whose name is taken here: refused, then imported under a new name with --name', () => {
    const h = homeAt('h');
    expect(cliWith(h, 'key', 'trust', join(keys, 'build.pub')).status).toBe(0);
    const mine = cliWith(h, 'run', '--name', 'enc', '--wait', '--', 'true');
    expect(mine.status, mine.stderr).toBe(0);
    const before = jobsIn(h);
    const r = cliWith(h, 'import', signed);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/a job named 'enc' already exists here[\s\S]*--name NEW/);
    expect(jobsIn(h)).toEqual(before);
    expect(cliWith(h, 'import', signed, '--name', 'Bad/Name').status).toBe(2);
    const renamed = cliWith(h, 'import', signed, '--name', 'enc-2', '--json');
    expect(renamed.status, renamed.stderr).toBe(0);
    expect(renamed.json()).toMatchObject({ id, name: 'enc-2' });
    const ps = cliWith(h, 'ps', '--json').json() as { id: string; name?: string }[];
    expect(ps.map((j) => j.name).sort()).toEqual(['enc', 'enc-2']);
    expect(cliWith(h, 'import', signed, '--name', 'enc-3').stderr).toMatch(/already exists/); // same id
  });
});

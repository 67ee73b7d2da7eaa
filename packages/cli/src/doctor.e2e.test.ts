import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { useCli } from '../test/cli-harness.ts';

interface Check {
  name: string;
  verdict: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

// doctor runs criu itself (`criu check`, a feature check), which takes a few seconds on a busy machine.
describeWith([root, criu], 'cryopipe doctor', () => {
  const { cli, cliWith, dir } = useCli();
  const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name);

  it('checks what run, checkpoint and restore need, and passes on this machine', () => {
    const r = cli('doctor', '--json');
    expect(r.status, r.stderr).toBe(0);
    const doc = r.json() as { verdict: string; checks: Check[] };
    expect(doc.verdict).not.toBe('fail');
    for (const name of ['root', 'launcher', 'native addon', 'criu', 'criu check', 'home'])
      expect(byName(doc.checks, name)?.verdict, name).not.toBe('fail');
    expect(byName(doc.checks, 'criu')?.detail).toMatch(/version \d+\.\d+/);
    expect(byName(doc.checks, 'launcher')?.detail).toMatch(/cryopipe-launch, version /);
    const human = cli('doctor');
    expect(human.stdout).toMatch(/^OK {4}launcher: /m);
    expect(human.stdout).toMatch(/This machine can checkpoint and restore\./);
  }, 60_000);

  it('fails, with the fix, when the launcher binary is missing', () => {
    const env = { CRYOPIPE_LAUNCHER: join(dir, 'no-such-launcher') };
    const human = cliWith(env, 'doctor');
    expect(human.status).toBe(5);
    expect(human.stdout).toMatch(/^FAIL {2}launcher: .*no-such-launcher/m);
    expect(human.stdout).toMatch(/fix: .*CRYOPIPE_LAUNCHER/);
    expect(human.stdout).not.toMatch(/can checkpoint and restore/);
    expect(human.stdout).toMatch(/can not checkpoint yet/);
    const doc = cliWith(env, 'doctor', '--json').json() as { verdict: string; checks: Check[] };
    expect(doc.verdict).toBe('fail');
    expect(byName(doc.checks, 'launcher')).toMatchObject({ verdict: 'fail' });
    expect(byName(doc.checks, 'launcher')?.fix).toMatch(/CRYOPIPE_LAUNCHER/);
  }, 60_000);

  it('fails on a launcher that is not a cryopipe launcher', () => {
    const fake = join(dir, 'fake-launcher');
    writeFileSync(fake, '#!/bin/sh\necho hello\n', { mode: 0o755 });
    const doc = cliWith({ CRYOPIPE_LAUNCHER: fake }, 'doctor', '--json').json() as {
      checks: Check[];
    };
    expect(byName(doc.checks, 'launcher')).toMatchObject({ verdict: 'fail' });
    expect(byName(doc.checks, 'launcher')?.detail).toMatch(/handshake failed/);
  }, 60_000);

  it('reports a missing native addon instead of crashing, and still checks criu', () => {
    const env = { CRYOPIPE_CRIU_ADDON: join(dir, 'no-such-addon.node') };
    const human = cliWith(env, 'doctor');
    expect(human.status).toBe(5);
    expect(human.stderr).toBe('');
    expect(human.stdout).toMatch(/^FAIL {2}native addon: .*no-such-addon\.node/m);
    expect(human.stdout).toMatch(/fix: .*CRYOPIPE_CRIU_ADDON/);
    expect(human.stdout).toMatch(/^OK {4}criu: .*version \d/m);
    const doc = cliWith(env, 'doctor', '--json').json() as { checks: Check[] };
    expect(byName(doc.checks, 'native addon')?.verdict).toBe('fail');
    expect(byName(doc.checks, 'criu')?.verdict).toBe('ok');
  }, 60_000);

  it('fails on a home that group or others can write', () => {
    const home = join(dir, 'open-home');
    mkdirSync(home);
    chmodSync(home, 0o777);
    const doc = cliWith({ CRYOPIPE_HOME: home }, 'doctor', '--json').json() as {
      checks: Check[];
    };
    expect(byName(doc.checks, 'home')).toMatchObject({ verdict: 'fail' });
    expect(byName(doc.checks, 'home')?.detail).toMatch(/writable by group or others \(mode 777\)/);
    expect(byName(doc.checks, 'home')?.fix).toMatch(/chmod go-w/);
  }, 60_000);
});

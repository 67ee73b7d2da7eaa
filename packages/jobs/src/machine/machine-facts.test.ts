import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriuClient, findCriu, probeHardwareBreakpoints } from '@cryopipe/criu-client';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import {
  criuTracksMemory,
  criuVersion,
  hardwareBreakpoints,
  knownCriuVersion,
} from './machine-facts.ts';

describeWith([root, criu], "the machine's facts, kept per boot", () => {
  const home = mkdtempSync(join(tmpdir(), 'cryopipe-facts-'));
  const client = CriuClient.swrk();
  afterAll(async () => {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  });
  const file = join(home, 'machine.json');
  const facts = () => JSON.parse(readFileSync(file, 'utf8'));
  const witness =
    spawnSync('criu', ['check', '--feature', 'mem_dirty_track'], { stdio: 'ignore' }).status === 0;
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it("asks criu once, then answers from the file until the boot or criu's version changes", async () => {
    const version = (await client.version()).text;
    expect(await criuTracksMemory(client, version, home)).toBe(witness);
    expect(facts()).toEqual({ bootId, criu: { version, memTrack: witness } });

    // A planted opposite answer for this boot is believed: the file is what answers.
    writeFileSync(file, JSON.stringify({ bootId, criu: { version, memTrack: !witness } }));
    expect(await criuTracksMemory(client, version, home)).toBe(!witness);
    // Another criu version, or another boot: criu is asked again.
    expect(await criuTracksMemory(client, `${version}-other`, home)).toBe(witness);
    writeFileSync(
      file,
      JSON.stringify({ bootId: 'another-boot', criu: { version, memTrack: !witness } }),
    );
    expect(await criuTracksMemory(client, version, home)).toBe(witness);
  });

  it("keeps criu's version for the binary it asked, until that file changes", async () => {
    // A copy of criu, so the test can change "the binary" without touching the real one.
    const bin = join(home, 'criu');
    copyFileSync(findCriu(), bin);
    const asked = CriuClient.swrk({ criuPath: bin });
    try {
      rmSync(file, { force: true });
      expect(knownCriuVersion(home, bin)).toBeUndefined();
      const version = await criuVersion(asked, home);
      expect(version.text).toBe((await client.version()).text);
      expect(knownCriuVersion(home, bin)).toEqual(version);
      // Another binary at another path, or this file changed (a reinstall): unknown again.
      expect(knownCriuVersion(home, findCriu())).toBeUndefined();
      utimesSync(bin, new Date(), new Date(Date.now() + 5_000));
      expect(knownCriuVersion(home, bin)).toBeUndefined();
      // Another boot forgets it too.
      await criuVersion(asked, home);
      writeFileSync(file, JSON.stringify({ ...facts(), bootId: 'another-boot' }));
      expect(knownCriuVersion(home, bin)).toBeUndefined();
    } finally {
      asked.close();
    }
  });

  it('probes hardware breakpoints once per boot, keeping what else it knows', async () => {
    const version = (await client.version()).text;
    writeFileSync(file, JSON.stringify({ bootId, criu: { version, memTrack: witness } }));
    const probed = probeHardwareBreakpoints();
    expect(hardwareBreakpoints(home)).toBe(probed);
    expect(facts()).toEqual({ bootId, breakpoints: probed, criu: { version, memTrack: witness } });
    const planted = probed === 'broken' ? 'works' : 'broken';
    writeFileSync(file, JSON.stringify({ bootId, breakpoints: planted }));
    expect(hardwareBreakpoints(home)).toBe(planted);
    writeFileSync(file, JSON.stringify({ bootId: 'another-boot', breakpoints: planted }));
    expect(hardwareBreakpoints(home)).toBe(probed);
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriuClient } from '@cryopipe/criu-client';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { criuTracksMemory } from './memory-tracking.ts';

describeWith([root, criu], "criu's dirty-memory answer, cached per boot", () => {
  const home = mkdtempSync(join(tmpdir(), 'cryopipe-features-'));
  const client = CriuClient.swrk();
  afterAll(async () => {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  });
  const witness =
    spawnSync('criu', ['check', '--feature', 'mem_dirty_track'], { stdio: 'ignore' }).status === 0;
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it("asks criu once, then answers from the cache until the boot or criu's version changes", async () => {
    const version = (await client.version()).text;
    expect(await criuTracksMemory(client, version, home)).toBe(witness);
    const cached = JSON.parse(readFileSync(join(home, 'features.json'), 'utf8'));
    expect(cached).toEqual({ bootId, criuVersion: version, memTrack: witness });

    // A planted opposite answer for this boot is believed: the cache is what answers.
    writeFileSync(join(home, 'features.json'), JSON.stringify({ ...cached, memTrack: !witness }));
    expect(await criuTracksMemory(client, version, home)).toBe(!witness);
    // Another criu version, or another boot: criu is asked again.
    expect(await criuTracksMemory(client, `${version}-other`, home)).toBe(witness);
    writeFileSync(
      join(home, 'features.json'),
      JSON.stringify({ ...cached, bootId: 'another-boot', memTrack: !witness }),
    );
    expect(await criuTracksMemory(client, version, home)).toBe(witness);
  });
});

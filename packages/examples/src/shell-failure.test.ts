import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { CryopipeCli } from './cryopipe-cli.ts';
import { sizeOf } from './output-files.ts';
import {
  diagnose,
  rawCriuDump,
  startInTerminal,
  stillRunning,
  type TerminalJob,
  terminalOutcome,
  underCryopipe,
} from './shell-failure.ts';

const needs = [root, criu, binary('tmux'), binary('ffmpeg'), binary('aomenc')];
const FRAMES = 240; // ~10 s of aomenc on this machine

describeWith(needs, 'the shell-script failure: raw criu, cryopipe diagnose, cryopipe run', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryopipe-shell-failure-'));
  const cli = new CryopipeCli(join(work, 'home'));
  let job: TerminalJob | undefined;
  afterAll(async () => {
    await job?.tmux.kill();
    rmSync(work, { recursive: true, force: true });
  });

  it('step 1: raw criu refuses the terminal job and leaves it running', async () => {
    job = await startInTerminal(work, FRAMES);
    const raw = await rawCriuDump(job.rootPid, join(work, 'raw-images'));
    const said = raw.errors.join('\n');
    expect(raw.exitCode).not.toBe(0);
    expect(said).toMatch(/Task attached to shell terminal\. Consider using --shell-job/);
    // The terminal belongs to the pane shell's session; the script's bash leads only its job's group.
    expect(said).toContain(
      `tty: Found dangling tty with sid ${job.paneShellPid} pgid ${job.rootPid} (pts) on peer fd 0`,
    );
    expect(said).toMatch(/Dumping FAILED/);
    expect(stillRunning(job)).toBe(true);
    const before = sizeOf(job.output);
    await expect
      .poll(() => sizeOf(job!.output), { timeout: 30_000, interval: 100 })
      .toBeGreaterThan(before);
  });

  it('step 2: cryopipe diagnose names the blockers, with evidence and fixes', async () => {
    const { rootPid } = job!;
    const diagnosis = await diagnose(cli, rootPid);
    expect(diagnosis.dumpable).toBe(false);
    const blockers = new Map(
      diagnosis.findings.filter((f) => f.severity === 'blocker').map((f) => [f.id, f]),
    );
    expect([...blockers.keys()]).toEqual(
      expect.arrayContaining([
        'controlling-terminal',
        'terminal-descriptors',
        'root-not-session-leader',
      ]),
    );
    for (const f of blockers.values()) {
      expect(f.evidence.length, f.id).toBeGreaterThan(0);
      expect(f.fix.length, f.id).toBeGreaterThan(10);
    }
    expect(blockers.get('controlling-terminal')!.evidence.map((e) => e.pid)).toContain(rootPid);
    expect(blockers.get('terminal-descriptors')!.evidence).toContainEqual(
      expect.objectContaining({
        pid: rootPid,
        fd: 0,
        target: expect.stringMatching(/^\/dev\/pts\//),
      }),
    );
    expect(blockers.get('root-not-session-leader')!.evidence[0]!.pid).toBe(rootPid);
  });

  it('step 3: under cryopipe run nothing blocks; checkpointed and restored, identical output', async () => {
    // The failed dump did not harm the terminal job: it finishes, and its output is the reference.
    expect(await job!.finished()).toBe('0 0');
    const reference = await terminalOutcome(job!);
    expect(reference.bytes).toBeGreaterThan(10_000);

    const run = await underCryopipe(cli, work, FRAMES, reference.bytes, [0.5]);
    expect(run.diagnosis.dumpable).toBe(true);
    expect(run.diagnosis.findings.filter((f) => f.severity === 'blocker')).toEqual([]);
    expect(run.steps).toHaveLength(1);
    expect(run.steps[0]!.imageBytes).toBeGreaterThan(1024 * 1024);
    expect(run.bytes).toBe(reference.bytes);
    expect(run.sha256).toBe(reference.sha256);
  });
});

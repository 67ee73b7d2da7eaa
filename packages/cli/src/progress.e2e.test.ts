import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '@cryopipe/jobs';
import { binary, criu, describeWith, root } from '@cryopipe/testkit';
import { expect, it } from 'vitest';
import { cliPath, useCli } from '../test/cli-harness.ts';

// Show every step, however quick this machine's disk makes it (the CLIs these
// tests start inherit it).
process.env.CRYOPIPE_PROGRESS_AFTER_MS = '0';

/** A process holding `mb` MiB of non-zero memory, so its images take a while to write. */
const memoryHog = (mb: number) => [
  'python3',
  '-c',
  `import sys, time; b = b"x" * (${mb} << 20); sys.stdout.write("ready\\n"); sys.stdout.flush(); time.sleep(600)`,
];

describeWith([root, criu, binary('python3'), binary('script')], 'progress of long work', () => {
  const { cli, dir, home } = useCli();
  const sh = (command: string) =>
    spawnSync('sh', ['-c', command], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        CRYOPIPE_HOME: home,
        NO_COLOR: '1',
        CLI: cliPath,
      },
      timeout: 120_000,
    });

  async function startHog(): Promise<string> {
    const r = cli('run', '--json', '--', ...memoryHog(600), '>', 'ready.txt');
    expect(r.status, r.stderr).toBe(0);
    const deadline = Date.now() + 60_000;
    while (spawnSync('cat', [join(dir, 'ready.txt')], { encoding: 'utf8' }).stdout !== 'ready\n') {
      if (Date.now() > deadline) throw new Error('the memory hog never got ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    return r.json().id as string;
  }

  it('shows images being written: plain lines off a terminal, nothing with --json', async () => {
    const id = await startHog();
    const cp = cli('checkpoint', id, '--leave-running');
    expect(cp.status, cp.stderr).toBe(0);
    const size = /: (\S+ \S+) of images/.exec(cp.stdout)![1]!;
    const lines = cp.stderr.split('\n').filter((l) => l.includes('writing images:'));
    // The step's last line: everything criu wrote, the time it took and the rate.
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^… writing images: ${size.replace('.', '\\.')}, [\\d.]+ (B|KiB|MiB|GiB)/s in [\\d.]+ (ms|s)$`,
      ),
    );
    // Throttled to one a second (plus the last), never carriage returns off a terminal.
    const seconds = Number(/in ([\d.]+) s$/.exec(lines.at(-1)!)?.[1] ?? '1');
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(cp.stderr).not.toContain('\r');

    const quiet = cli('checkpoint', id, '--leave-running', '--json');
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.json().checkpoint).toBe(2);
  });

  it('keeps one updating line on a terminal', () => {
    const id = cli('ps', '-q', '--state', 'running').stdout.trim();
    expect(id).toMatch(/^\w+$/);
    // script(1) gives the CLI a terminal; stdout and stderr both reach its output.
    const r = sh(`script -qec '"${process.execPath}" "$CLI" checkpoint ${id}' /dev/null`);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\r\u001b\[2K… writing images: [\d.]+ \S+, [\d.]+ \S+\/s/);
    expect(r.stdout).toMatch(/writing images: [^\r\n]* in [\d.]+ (ms|s)\r?\n/);
    expect(r.stdout).toMatch(/checkpoint 3 of /);
  });

  it('shows export and import bytes, the archive being slow to flow', () => {
    const id = cli('ps', '-q').stdout.trim();
    // A reader that starts late holds the export back: more than a second of streaming.
    const exp = sh(
      `"${process.execPath}" "$CLI" export ${id} 2>export.err | { sleep 1.5; cat > job.tar.zst; }; cat export.err`,
    );
    expect(exp.status, exp.stderr).toBe(0);
    const archive = statSync(join(dir, 'job.tar.zst')).size;
    expect(exp.stdout).toMatch(
      new RegExp(
        `… exporting: ${formatBytes(archive).replace('.', '\\.')}, [\\d.]+ \\S+/s in [\\d.]+ s\\n`,
      ),
    );

    expect(cli('rm', id).status).toBe(0);
    // A writer that trickles the archive in over about two seconds.
    const trickle = `import sys, time
d = open("job.tar.zst", "rb").read(); n = len(d) // 8 + 1
for i in range(0, len(d), n):
    sys.stdout.buffer.write(d[i:i + n]); sys.stdout.flush(); time.sleep(0.25)`;
    const imp = sh(
      `python3 -c '${trickle}' | "${process.execPath}" "$CLI" import --trust-unsigned`,
    );
    expect(imp.status, imp.stderr).toBe(0);
    expect(imp.stderr).toMatch(
      new RegExp(
        `… importing: ${formatBytes(archive).replace('.', '\\.')}, [\\d.]+ \\S+/s in [\\d.]+ s\\n`,
      ),
    );
    expect(imp.stdout).toMatch(new RegExp(`imported ${id}: 3 checkpoints`));
    const quiet = sh(`"${process.execPath}" "$CLI" export ${id} --json -o again.tar.zst`);
    expect(quiet.status, quiet.stderr).toBe(0);
    // No progress with --json (the unsigned-archive warning still goes to stderr).
    expect(quiet.stderr).not.toMatch(/exporting/);
  });
});

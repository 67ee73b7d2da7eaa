import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { criu, describeWith, root } from '@cryopipe/testkit';
import { afterAll, expect, it } from 'vitest';
import { directoryBytes, sizeOf } from './output-files.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const tsx = join(packageDir, 'node_modules', '.bin', 'tsx');

function embedDump(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tsx, ['src/embed-dump.ts', ...args], { cwd: packageDir }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWith([root, criu], 'embed-dump: a tool using @cryopipe/criu-client alone', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryopipe-embed-'));
  const trees: ChildProcess[] = [];
  afterAll(() => {
    for (const t of trees)
      if (t.exitCode === null && t.signalCode === null) process.kill(-t.pid!, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  /** A small pipeline in its own session (detached: setsid), stdio on /dev/null and a file: dumpable. */
  async function startTicker(name: string) {
    const out = join(work, `${name}.txt`);
    const tree = spawn('sh', ['-c', `while :; do date +%s%N; sleep 0.1; done | cat > ${out}`], {
      detached: true,
      stdio: 'ignore',
    });
    trees.push(tree);
    const exited = new Promise<NodeJS.Signals | null>((r) => tree.once('exit', (_c, s) => r(s)));
    await until(`${out} to fill`, () => sizeOf(out) > 40);
    return { pid: tree.pid!, out, exited };
  }

  it('dumps a running tree into a new private directory, prints the stats, leaves it running', async () => {
    const { pid, out } = await startTicker('leave');
    const dir = join(work, 'images-leave');
    const r = await embedDump(String(pid), dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`dumped the tree of ${pid} into ${dir}; still running`);

    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const images = readdirSync(dir);
    expect(images).toContain(`core-${pid}.img`);
    expect(images).toContain('pstree.img');
    expect(images.filter((f) => /^core-\d+\.img$/.test(f)).length).toBeGreaterThanOrEqual(3);

    const frozenMs = Number(/frozen time:\s+([\d.]+) ms/.exec(r.stdout)?.[1]);
    const [, written, scanned] = /pages written: (\d+) \(of (\d+) scanned\)/.exec(r.stdout) ?? [];
    const imageBytes = Number(/image size:\s+(\d+) bytes/.exec(r.stdout)?.[1]);
    expect(frozenMs).toBeGreaterThan(0);
    expect(Number(written)).toBeGreaterThan(0);
    expect(Number(written)).toBeLessThanOrEqual(Number(scanned));
    expect(imageBytes).toBe(directoryBytes(dir));

    // Still the same process, still producing output.
    const before = sizeOf(out);
    await until('the tree to keep writing after the dump', () => sizeOf(out) > before + 40);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
  });

  it('with --kill, the tree is stopped by the dump', async () => {
    const { pid, exited } = await startTicker('kill');
    const r = await embedDump('--kill', String(pid), join(work, 'images-kill'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('stopped');
    expect(await exited).toBe('SIGKILL');
  });

  it("prints CRIU's reason and leaves the tree running when it can't be dumped", async () => {
    const { pid, out } = await startTicker('refused');
    // The pipeline's `cat` roots no session of its own: CRIU refuses it without --shell-job.
    const cat = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(' ')
      .find((child) => readFileSync(`/proc/${child}/comm`, 'utf8') === 'cat\n');
    expect(cat).toBeDefined();
    const r = await embedDump(cat!, join(work, 'images-refused'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`criu could not dump ${cat}`);
    expect(r.stderr).toContain(`The root process ${cat} is not a session leader`);
    const before = sizeOf(out);
    await until('the tree to keep writing after the refusal', () => sizeOf(out) > before + 40);
  });

  it('refuses a directory that already exists', async () => {
    const r = await embedDump(String(process.pid), work);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot create .*EEXIST.*give a new directory/);
  });
});

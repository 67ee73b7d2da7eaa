// Our image decoder against CRIU's crit on the same checkpoint directory.
// Run as root:
//   pnpm --filter @cryopipe/criu-client bench:images [-- --quick] [-- DIR]
// Without DIR it checkpoints a real encode (ffmpeg testsrc2 640x360 |
// SvtAv1EncApp, the demo's largest) and benches on that. --quick (or
// BENCH_QUICK=1): a `yes | gzip` tree, one round, and `crit decode` per image
// on 3 of the images only (tools/bench/test/benches-quick.test.ts runs it in
// CI, so the bench can't rot; its numbers mean nothing).
// Candidates alternate within each round so machine noise hits all alike.
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readCheckpoint, readImages } from '../src/images/index.ts';
import { CriuClient } from '../src/index.ts';

const run = promisify(execFile);
const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const given = args.find((a) => !a.startsWith('--'));
const rounds = quick ? 1 : 15;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function critPath(): string {
  const bin =
    process.env.CRIT_BIN ?? readFileSync('/var/cache/cryopipe/crit-current', 'utf8').trim();
  if (!existsSync(bin)) throw new Error(`crit not found at ${bin}: run scripts/provision-criu.sh`);
  return bin;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Checkpoints a fresh tree into a new directory; returns it. */
async function makeCheckpoint(root: string): Promise<string> {
  const script = quick
    ? 'yes | gzip -1 > out.gz'
    : 'ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=640x360:rate=24 -frames:v 100000 ' +
      '-pix_fmt yuv420p -f yuv4mpegpipe - | SvtAv1EncApp --lp 1 --preset 8 --progress 0 -i stdin -b out.ivf';
  const child = spawn('setsid', ['sh', '-c', script], { cwd: root, stdio: 'ignore' });
  await sleep(quick ? 500 : 4000); // let the encoder allocate its buffers
  const imagesDir = join(root, 'img');
  mkdirSync(imagesDir, { mode: 0o700 });
  const client = CriuClient.swrk();
  try {
    await client.dump({ pid: child.pid!, imagesDir }); // kills the tree
  } finally {
    client.close();
  }
  return imagesDir;
}

const root = mkdtempSync(join(tmpdir(), 'images-bench-'));
try {
  if (quick)
    console.log(
      'quick mode: a small tree, one round, to check the bench runs; the numbers mean nothing',
    );
  const dir = given ?? (await makeCheckpoint(root));
  const names = readdirSync(dir).sort();
  const total = names.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const framed = names.filter((n) => !/^pages-\d+\.img$|\.log$/.test(n)).map((n) => join(dir, n));
  const framedBytes = framed.reduce((n, f) => n + statSync(f).size, 0);
  console.log(
    `checkpoint: ${dir}: ${names.length} files, ${(total / 2 ** 20).toFixed(1)} MiB ` +
      `(${framed.length} framed images, ${(framedBytes / 1024).toFixed(0)} KiB; pages are not decoded by either)`,
  );
  const crit = critPath();
  const pycriu = join(dirname(dirname(crit)), 'python');
  const loader = fileURLToPath(new URL('../test/crit-load.py', import.meta.url));

  // One python start-up per image: 25 of them take ~15 s on a busy machine.
  const decodedEach = quick ? framed.slice(0, 3) : framed;
  const each = quick ? `; ${decodedEach.length} of ${framed.length} images, quick mode` : '';
  const samples: Record<string, number[]> = {
    'ours: readImages (decode every image)': [],
    'ours: readCheckpoint (decode + summary)': [],
    'crit: pycriu load of every image, one python process': [],
    [`crit: \`crit decode\` per image (as a user runs it${each})`]: [],
  };
  const [decodeOnly, summary, critOne, critEach] = Object.values(samples) as [
    number[],
    number[],
    number[],
    number[],
  ];
  await readCheckpoint(dir); // warm the page cache and the JIT alike for everyone
  for (let i = 0; i < rounds; i++) {
    decodeOnly.push(await time(() => readImages(dir)));
    summary.push(await time(() => readCheckpoint(dir)));
    critOne.push(
      await time(() =>
        run('/usr/bin/python3', [loader, ...framed], {
          env: { ...process.env, PYTHONPATH: pycriu },
          maxBuffer: 1 << 30,
        }),
      ),
    );
    if (i < (quick ? 1 : 3)) {
      critEach.push(
        await time(async () => {
          for (const f of decodedEach) await run(crit, ['decode', '-i', f], { maxBuffer: 1 << 30 });
        }),
      );
    }
  }
  const base = median(decodeOnly);
  for (const [name, xs] of Object.entries(samples)) {
    console.log(
      `${name}: median ${fmt(median(xs))} (n=${xs.length}) -> ${(median(xs) / base).toFixed(1)}x ours`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { classifyImage, diffCheckpoints, imageToJson } from '@cryopipe/criu-client/images';
import { isSealed } from '@cryopipe/jobs';
import { readRunStatus } from '@cryopipe/spawn';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import {
  checkpointNumbers,
  damaged,
  type LoadedCheckpoint,
  loadCheckpoint,
  parseNumber,
} from '../inspect/load.ts';
import { renderCheckpoint, renderDiff, type StageLabel } from '../inspect/render.ts';
import { jobRef } from '../job-ref.ts';

export const inspect: Command = {
  name: 'inspect',
  summary: 'show what a checkpoint holds: processes, descriptors, pipe bytes, files',
  usage: 'JOB [N] [--diff M] | --raw IMAGE',
  description: `Reads checkpoint N of JOB (default: the newest complete one) with cryopipe's
own decoder of CRIU's images, no crit needed, and prints the process tree
(each process's command, pid, state, threads and the memory saved for it:
private, shared and file pages), every descriptor of every process (fd → pipe
and end, file with its offset, socket, tty…), the pipes between stages with
the bytes that were in flight in them, and the files a restore will open,
with the size criu recorded (a restore refuses a file whose size changed).
cryopipe's own record of the checkpoint comes first: when it was taken,
whether the job was left running, how long it was frozen, the image bytes.

--diff M compares checkpoint M with N: memory by kind per process, the
offset of every open file (how far each output got), the bytes in each pipe.

--raw IMAGE prints the entries of one image file (any path, e.g. pstree.img
or files.img of a checkpoint) as JSON in crit's shape.

Like restore, inspect refuses images someone else could have written and a
checkpoint directory that is not this job's; a damaged image is named.`,
  options: {
    diff: {
      type: 'string',
      valueName: 'M',
      description: 'show what changed from checkpoint M to checkpoint N',
    },
    raw: {
      type: 'string',
      valueName: 'IMAGE',
      description: "print one image file's entries as JSON (crit's shape)",
    },
  },
  examples: [
    'cryopipe inspect enc',
    'cryopipe inspect enc 2 --json | jq ".pipes"',
    'cryopipe inspect enc 3 --diff 2',
    'cryopipe inspect --raw /var/lib/cryopipe/jobs/ID/checkpoints/1/pstree.img',
  ],
  async run({ values, positionals, store, out }) {
    if (values.raw !== undefined) return raw(values.raw as string, positionals, out);
    const job = store.resolve(jobRef(positionals));
    if (positionals.length > 2) {
      throw new CliError(
        `unexpected argument '${positionals[2]}'`,
        EXIT.usage,
        "see 'cryopipe inspect --help'",
      );
    }
    const number = positionals[1] === undefined ? undefined : parseNumber(positionals[1], 'N');
    const numbers = checkpointNumbers(store, job);
    const loaded = await loadCheckpoint(store, job, numbers, number);
    const jobInfo = { id: job.id, name: job.name, command: job.command };

    if (values.diff !== undefined) {
      const from = await loadCheckpoint(
        store,
        job,
        numbers,
        parseNumber(values.diff as string, '--diff'),
      );
      const diff = diffCheckpoints(from.summary, loaded.summary);
      out.result({ job: jobInfo, from: checkpointInfo(from), to: checkpointInfo(loaded), ...diff });
      if (!out.json) process.stdout.write(renderDiff(job, from, loaded, diff));
      return EXIT.ok;
    }

    const { dir: _dir, ...images } = loaded.summary;
    const stages = await stagesOf(store.runDir(job.id));
    out.result({
      job: jobInfo,
      checkpoint: checkpointInfo(loaded),
      checkpoints: numbers,
      ...images,
      processes: images.processes.map((p) => ({ ...p, ...stages.get(p.pid) })),
    });
    if (!out.json) process.stdout.write(renderCheckpoint(job, numbers, loaded, stages));
    return EXIT.ok;
  },
};

/**
 * Which process is which stage, from the launcher's status file: its stage
 * pids are the pids criu saw (inside the job's PID namespace, or host pids
 * in plain mode), and a restore keeps them. Empty when there is none (an
 * adopted job).
 */
async function stagesOf(runDir: string): Promise<Map<number, StageLabel>> {
  try {
    const status = await readRunStatus(runDir);
    return new Map(status.stages.map((s) => [s.pid, { stage: s.index + 1, argv: s.argv }]));
  } catch {
    return new Map();
  }
}

/** What cryopipe's checkpoint.json says, as in the JSON documents. */
function checkpointInfo(c: LoadedCheckpoint) {
  const m = c.meta;
  return {
    number: c.number,
    dir: c.dir,
    takenAt: m.takenAt,
    leaveRunning: m.leaveRunning,
    frozenMs: m.frozenMs,
    dumpMs: m.dumpMs,
    imageBytes: m.imageBytes,
    sealed: isSealed(m),
    criuVersion: m.criuVersion,
    kernel: m.kernel,
    rootPid: m.rootPid,
    files: m.files,
  };
}

async function raw(
  path: string,
  positionals: string[],
  out: { json: boolean; result(v: unknown): void },
): Promise<number> {
  if (positionals.length > 0) {
    throw new CliError(
      `--raw takes one image file, not a job too ('${positionals[0]}')`,
      EXIT.usage,
      'cryopipe inspect --raw DIR/pstree.img',
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `can't read ${path} (${code ?? (err as Error).message})`,
      code === 'ENOENT' ? EXIT.notFound : EXIT.failure,
      code === 'ENOENT'
        ? 'give the path of an image file, e.g. …/checkpoints/1/pstree.img'
        : code === 'EACCES'
          ? "checkpoint images are private to root: run 'sudo cryopipe inspect --raw …'"
          : undefined,
    );
  }
  let image: ReturnType<typeof classifyImage>;
  try {
    image = classifyImage(bytes, basename(path));
  } catch (err) {
    throw damaged(err, path);
  }
  if (image.kind === 'raw') {
    throw new CliError(
      `${path} does not start with a CRIU image header: page data (pages-*.img), a log, or a damaged image`,
      EXIT.failure,
      'page contents have no entries to show; try pstree.img, files.img, fdinfo-N.img, mm-N.img',
    );
  }
  const doc =
    image.kind === 'decoded'
      ? { image: image.name, size: image.size, ...imageToJson(image) }
      : // A well-formed image of a kind this decoder doesn't know: say so, no entries.
        { image: image.name, size: image.size, magic: image.magic, entries: null, decoded: false };
  // The dump is JSON with or without --json.
  if (out.json) out.result(doc);
  else process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  return EXIT.ok;
}

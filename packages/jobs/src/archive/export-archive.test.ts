import { describe, expect, it } from 'vitest';
import { parseCheckpointMeta } from '../checkpoint/checkpoint-meta.ts';
import { type ExportManifest, entryTarget, parseManifest } from './job-archive.ts';

const manifest: ExportManifest = {
  format: 1,
  jobId: 'ab12cd34',
  jobDir: '/var/lib/cryopipe/jobs/ab12cd34',
  exportedAt: '2026-01-01T00:00:00.000Z',
  checkpoints: [2, 3],
  outputs: [
    { entry: 'outputs/0', path: '/srv/out.ivf', size: 10, tailSha256: 'a'.repeat(64), mode: 0o644 },
  ],
};
const withOutput = (o: Partial<ExportManifest['outputs'][number]>) =>
  JSON.stringify({ ...manifest, outputs: [{ ...manifest.outputs[0], ...o }] });

describe('export manifest', () => {
  it('accepts what export writes', () => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it('refuses ids, job directories and outputs that could point anywhere', () => {
    const bad = [
      JSON.stringify({ ...manifest, format: 2 }),
      JSON.stringify({ ...manifest, jobId: '../x' }),
      JSON.stringify({ ...manifest, jobDir: '/var/lib/cryopipe/jobs/other' }),
      JSON.stringify({ ...manifest, jobDir: '/var/lib/cryopipe/jobs/../jobs/ab12cd34' }),
      JSON.stringify({ ...manifest, checkpoints: [0] }),
      withOutput({ path: 'relative/out.ivf' }),
      withOutput({ path: '/srv/../etc/passwd' }),
      withOutput({ path: '/var/lib/cryopipe/jobs/ab12cd34/job.json' }),
      withOutput({ entry: 'outputs/1' }),
      withOutput({ size: -1 }),
      withOutput({ mode: 0o4755 }),
      'not json',
    ];
    for (const text of bad)
      expect(() => parseManifest(text), text).toThrow(/not a cryopipe export/);
  });
});

describe('archive entries', () => {
  it('maps job/… into the job directory and listed outputs to their paths', () => {
    expect(entryTarget('job/', manifest)).toEqual({ kind: 'job', relative: '' });
    expect(entryTarget('job/checkpoints/3/pages-1.img', manifest)).toEqual({
      kind: 'job',
      relative: 'checkpoints/3/pages-1.img',
    });
    expect(entryTarget('outputs/0', manifest)).toMatchObject({
      kind: 'output',
      output: { path: '/srv/out.ivf' },
    });
  });

  it('refuses anything else', () => {
    for (const name of [
      'job/../x',
      'job/a/../../x',
      '/etc/passwd',
      './job/x',
      'job//x',
      'job/./x',
      'outputs/1',
      'other/file',
      'job\\..\\x',
      'job/a\\b',
    ])
      expect(() => entryTarget(name, manifest), name).toThrow(/outside the job directory/);
  });
});

describe('checkpoint.json', () => {
  const meta = {
    number: 2,
    jobId: 'ab12cd34',
    jobDir: '/var/lib/cryopipe/jobs/ab12cd34',
    takenAt: '2026-01-01T00:00:00.000Z',
    leaveRunning: false,
    rootPid: 100,
    criuVersion: '4.2.1',
    kernel: '6.18',
    imageBytes: 10,
    dumpMs: 5,
    files: [
      {
        path: '/srv/out.ivf',
        size: 10,
        tailSha256: 'a'.repeat(64),
        opens: [{ pos: 10, access: 'write', append: false }],
      },
    ],
    images: [{ name: 'pre/pages-1.img', size: 1, sha256: 'b'.repeat(64) }],
  };

  it('accepts what checkpoints write, with or without format, and keeps newer fields', () => {
    expect(parseCheckpointMeta(JSON.stringify(meta))).toEqual({ ...meta, format: 1 });
    expect(parseCheckpointMeta(JSON.stringify({ ...meta, format: 1, later: 1 }))).toMatchObject({
      later: 1,
    });
  });

  it('refuses every field a restore would act on when it is malformed', () => {
    const file = meta.files[0]!;
    const bad: object[] = [
      { format: 2 },
      { number: 0 },
      { number: '2' },
      { jobId: '../x' },
      { jobDir: 'relative' },
      { jobDir: '/a/../b' },
      { rootPid: -1 },
      { treePids: [1, 'x'] },
      { files: 'x' },
      { files: [{ ...file, path: '/srv/../etc/passwd' }] },
      { files: [{ ...file, path: 'out.ivf' }] },
      { files: [{ ...file, size: -1 }] },
      { files: [{ ...file, tailSha256: 'x' }] },
      { files: [{ ...file, opens: [{ pos: 0, access: 'exec', append: false }] }] },
      { images: [{ name: '../../etc/shadow', size: 1, sha256: 'b'.repeat(64) }] },
      { images: [{ name: '/etc/shadow', size: 1, sha256: 'b'.repeat(64) }] },
      { images: [{ name: 'a//b', size: 1, sha256: 'b'.repeat(64) }] },
    ];
    for (const change of bad)
      expect(
        () => parseCheckpointMeta(JSON.stringify({ ...meta, ...change })),
        JSON.stringify(change),
      ).toThrow(/is malformed/);
    expect(() => parseCheckpointMeta('[]')).toThrow(/is malformed/);
    expect(() => parseCheckpointMeta('{')).toThrow(/not JSON/);
  });
});

/**
 * The two AV1 encodes of the demo: ffmpeg renders a synthetic clip (lavfi
 * testsrc2) as y4m on stdout, the encoder reads it on stdin. Flags chosen
 * for deterministic output, so a restored run can be compared byte for byte
 * with an uninterrupted one: aomenc needs --passes=1 to read a pipe (with two
 * passes it writes an empty stream and exits 0) and --threads=1; SVT-AV1
 * needs --lp 1.
 */
export interface Encoder {
  name: 'aomenc' | 'SvtAv1EncApp';
  /** The pipeline as `cryopipe run` argv (operators as separate words). */
  pipeline(output: string, frames: number, options?: EncodeOptions): string[];
}

/** Variations of the same deterministic encode, for tests that need them. */
export interface EncodeOptions {
  /** The encoder's speed preset (aomenc --cpu-used, default 6): 8 is faster, output differs. */
  speed?: number;
  /**
   * Frames per second ffmpeg produces in real time (-re with this rate):
   * the encode then lasts frames / fps seconds however fast the machine is.
   */
  realTimeFps?: number;
}

/** A `cryopipe run` argv cut at its `|` words: one argv per stage (for @cryopipe/spawn or a shell). */
export function stagesOf(pipeline: readonly string[]): string[][] {
  const stages: string[][] = [[]];
  for (const word of pipeline) {
    if (word === '|') stages.push([]);
    else stages.at(-1)!.push(word);
  }
  return stages;
}

const source = (size: string, frames: number, realTimeFps?: number) => [
  'ffmpeg',
  '-nostdin',
  '-loglevel',
  'error',
  ...(realTimeFps === undefined ? [] : ['-re']),
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=${size}:rate=${realTimeFps ?? 24}`,
  '-frames:v',
  String(frames),
  '-pix_fmt',
  'yuv420p',
  '-f',
  'yuv4mpegpipe',
  '-',
];

export const aomenc: Encoder = {
  name: 'aomenc',
  pipeline: (output, frames, options = {}) => [
    ...source('320x240', frames, options.realTimeFps),
    '|',
    'aomenc',
    '--passes=1',
    '--threads=1',
    `--cpu-used=${options.speed ?? 6}`,
    '--ivf',
    '-q',
    '-o',
    output,
    '-',
  ],
};

export const svtAv1: Encoder = {
  name: 'SvtAv1EncApp',
  pipeline: (output, frames, options = {}) => [
    ...source('640x360', frames, options.realTimeFps),
    '|',
    'SvtAv1EncApp',
    '--lp',
    '1',
    '--preset',
    String(options.speed ?? 8),
    '--progress',
    '0',
    '-i',
    'stdin',
    '-b',
    output,
  ],
};

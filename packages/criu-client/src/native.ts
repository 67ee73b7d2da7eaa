import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What native/seqpacket.c exports. */
export interface SeqpacketAddon {
  socketpair(): [number, number];
  connect(path: string): number;
  send(fd: number, message: Uint8Array): number;
  close(fd: number): void;
  seek(fd: number, offset: number): number;
  probeBreakpoints(timeoutMs: number): 'works' | 'broken' | 'unsupported';
  Reader: new (
    fd: number,
    onMessage: (
      err: (Error & { errno?: number }) | null,
      data: Buffer | null,
      fds: number[],
    ) => void,
  ) => NativeReader;
}

export interface NativeReader {
  start(): void;
  stop(): void;
  close(): void;
}

/** Environment variable naming a prebuilt addon to load instead of the shipped one. */
export const ADDON_ENV = 'CRYOPIPE_CRIU_ADDON';

const fileName = `seqpacket-${process.platform}-${process.arch}.node`;

/** Where the addon is looked for: the override, then dist/native next to the bundle or the sources. */
export function addonCandidates(): string[] {
  const override = process.env[ADDON_ENV];
  if (override) return [override];
  return [
    fileURLToPath(new URL(`./native/${fileName}`, import.meta.url)),
    fileURLToPath(new URL(`../dist/native/${fileName}`, import.meta.url)),
  ];
}

let loaded: SeqpacketAddon | undefined;

/** Loads the SOCK_SEQPACKET addon once; throws naming the paths tried and the fix. */
export function loadAddon(): SeqpacketAddon {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) {
    throw new Error(
      `@cryopipe/criu-client: native addon ${fileName} not found (looked in ${candidates.join(', ')}). ` +
        `This package supports Linux only; rebuild it with \`pnpm --filter @cryopipe/criu-client build\` ` +
        `(needs a C compiler and Node's headers) or point ${ADDON_ENV} at a built .node file.`,
    );
  }
  loaded = createRequire(import.meta.url)(path) as SeqpacketAddon;
  return loaded;
}

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

/** The platforms whose addon ships in the package (dist/native/seqpacket-<platform>.node). */
export const SUPPORTED_PLATFORMS = ['linux-x64', 'linux-arm64'] as const;

/** The C library Node runs on: Node's report names glibc's version; musl has none. */
function libc(): 'glibc' | 'musl' {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })
    ?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/**
 * Why this platform cannot load the shipped addon, or undefined when it can:
 * the addons are built for glibc (≥ 2.17) on x64 and arm64 Linux.
 */
export function unsupportedPlatform(): string | undefined {
  const platform = `${process.platform}-${process.arch}`;
  const supported = `${SUPPORTED_PLATFORMS.join(' and ')} with glibc ≥ 2.17`;
  if (!(SUPPORTED_PLATFORMS as readonly string[]).includes(platform))
    return `this is ${platform}; the package ships the addon for ${supported}`;
  if (libc() === 'musl')
    return `this is ${platform} with musl libc (Alpine?); the package ships the addon for ${supported}`;
  return undefined;
}

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
    const why = process.env[ADDON_ENV] ? undefined : unsupportedPlatform();
    throw new Error(
      why
        ? `@cryopipe/criu-client: no native addon for this platform: ${why}. ` +
            `Build native/seqpacket.c of the cryopipe repository for it and point ${ADDON_ENV} at the .node file.`
        : `@cryopipe/criu-client: native addon ${fileName} not found (looked in ${candidates.join(', ')}). ` +
            `The package ships it prebuilt for ${SUPPORTED_PLATFORMS.join(' and ')}: reinstall it, ` +
            `or point ${ADDON_ENV} at a built .node file.`,
    );
  }
  loaded = createRequire(import.meta.url)(path) as SeqpacketAddon;
  return loaded;
}

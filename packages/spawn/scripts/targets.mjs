// The platforms whose launcher ships in @cryopipe/spawn, and the C toolchains
// that build each one from any Linux host (build-launcher.mjs; the loop over
// them is the repository's scripts/cross-build.mjs).

/**
 * Every shipped architecture with the compilers tried in order. musl-gcc is
 * only a choice on an x64 host (Debian's musl-tools is native only); arm64 is
 * linked statically against glibc with Debian's gcc-aarch64-linux-gnu and
 * libc6-dev-arm64-cross: the launcher uses no NSS, so static glibc is safe.
 */
export const TARGETS = [
  {
    arch: 'x64',
    toolchains: [
      { cc: 'musl-gcc', strip: 'strip', host: 'x64' },
      { cc: 'gcc', strip: 'strip', host: 'x64' },
      { cc: 'x86_64-linux-gnu-gcc', strip: 'x86_64-linux-gnu-strip' },
    ],
    debian: 'musl-tools (or gcc-x86-64-linux-gnu on another host)',
  },
  {
    arch: 'arm64',
    toolchains: [
      { cc: 'aarch64-linux-gnu-gcc', strip: 'aarch64-linux-gnu-strip' },
      { cc: 'gcc', strip: 'strip', host: 'arm64' },
    ],
    debian: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
];

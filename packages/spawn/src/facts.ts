import facts from './facts.json' with { type: 'json' };

// The facts that the TypeScript side and the C launcher must agree on live in
// facts.json, and only there: this module exports them to TypeScript, and
// scripts/build-launcher.mjs passes each one to the compiler as a -D flag
// (native/facts.h names them and refuses to compile without them). JSON,
// because both a bundler and a plain Node script can read it without a build.

/** Most stages in one pipeline. */
export const MAX_STAGES: number = facts.maxStages;

/** Most descriptors one stage may declare (pipe ends, files, null and dups together). */
export const MAX_FDS_PER_STAGE: number = facts.maxFdsPerStage;

/** Highest descriptor number a stage may ask for (targets are 0..MAX_FD). */
export const MAX_FD: number = facts.maxFd;

/** Most pipes in one pipeline. */
export const MAX_PIPES: number = facts.maxPipes;

/**
 * The search path for a stage's command when the stage's environment has no
 * PATH (the same default as glibc's execvp). Tools that check a command
 * before starting it should search the same list.
 */
export const DEFAULT_PATH: string = facts.defaultPath;

/**
 * The descriptor on which a launched pipeline's dump root keeps its run
 * directory open. The launcher reaches its files through it, never by path,
 * so a restore that hands CRIU another directory for it (inherit-fd) moves
 * the job; and `/proc/PID/fd/3` tells which run a process belongs to.
 */
export const RUN_DIR_FD: number = facts.runDirFd;

/** First token of the spec file; the launcher refuses any other version. */
export const SPEC_HEADER: string = facts.specHeader;

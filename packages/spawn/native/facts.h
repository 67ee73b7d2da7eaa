/*
 * Facts the launcher shares with the TypeScript side of @cryopipe/spawn.
 *
 * Their values live in one place, src/facts.json, which src/facts.ts exports
 * to TypeScript. scripts/build-launcher.mjs passes each one to the compiler as
 * a -D flag (FACT_…), and the package version from package.json as
 * FACT_VERSION; this header only names them, and refuses to compile without
 * them, so no value can be typed here a second time and drift.
 */
#ifndef CRYOPIPE_FACTS_H
#define CRYOPIPE_FACTS_H

#if !defined(FACT_VERSION) || !defined(FACT_SPEC_HEADER) || !defined(FACT_MAX_STAGES) ||     \
    !defined(FACT_MAX_FDS_PER_STAGE) || !defined(FACT_MAX_FD) || !defined(FACT_MAX_PIPES) || \
    !defined(FACT_RUN_DIR_FD) || !defined(FACT_DEFAULT_PATH)
#error "build with scripts/build-launcher.mjs: it passes the facts of src/facts.json as -D flags"
#endif

#define LAUNCHER_VERSION FACT_VERSION
#define SPEC_HEADER FACT_SPEC_HEADER
#define MAX_STAGES FACT_MAX_STAGES
#define MAX_FDS FACT_MAX_FDS_PER_STAGE
#define MAX_TARGET_FD FACT_MAX_FD
#define MAX_PIPES FACT_MAX_PIPES
/* Documented: cryopipe finds a job's run directory on this descriptor. */
#define RUN_DIR_FD FACT_RUN_DIR_FD
/* The command search path of a stage whose environment has no PATH. */
#define DEFAULT_PATH FACT_DEFAULT_PATH

/* Exit status of a launcher (or keeper) that could not do its job. */
#define EXIT_LAUNCHER 125

#endif

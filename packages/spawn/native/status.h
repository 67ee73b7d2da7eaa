/*
 * RUNDIR/status: the run's state as JSON (parsed by src/run-status.ts),
 * written by the launcher's dump root and by the keeper of an adopted job.
 */
#ifndef CRYOPIPE_STATUS_H
#define CRYOPIPE_STATUS_H

#include <sys/types.h>

enum run_state { RUN_RUNNING, RUN_EXITED, RUN_FAILED };

/* Plain: the launcher is the dump root. PID namespace: its child, the namespace init, is. */
enum run_mode { MODE_PLAIN, MODE_PIDNS };

/* Where a stage that never ran its command failed. */
enum exec_phase { PHASE_EXEC, PHASE_CWD, PHASE_OPEN, PHASE_DUP };

struct stage_status {
  /* Pid inside the pipeline's PID namespace; the host's in plain mode. */
  pid_t pid;
  /* Pid as the host sees it; 0 while unknown. */
  pid_t host_pid;
  char *const *argv;
  int argc;
  /* Epoch milliseconds; 0 while unknown. */
  long long started_at;
  long long ended_at;
  /* Reaped: wstatus holds its wait status. */
  int done;
  int wstatus;
  /* Set (> 0) when the stage never ran its command, with the phase it failed in. */
  int exec_errno;
  enum exec_phase exec_phase;
};

struct run_status {
  enum run_state state;
  enum run_mode mode;
  pid_t root_pid;
  pid_t launcher_pid;
  long long started_at;
  /* 0 while the run goes on. */
  long long ended_at;
  /* The run's exit status; -1 while it goes on. */
  int exit_code;
  /* Why the run failed, or NULL. */
  const char *error;
  int nstages;
  const struct stage_status *stages;
};

/* Milliseconds since the epoch (wall clock: spans a checkpoint's downtime). */
long long now_ms(void);

/* The name of an exec phase as the status file spells it: "exec", "cwd", "open", "dup". */
const char *exec_phase_name(enum exec_phase phase);

/*
 * Replaces DIR_FD/status atomically (written to status.tmp, then renamed), so
 * a reader never sees half a file; no descriptor stays open afterwards, which
 * keeps the writer dumpable at any moment. Returns 0, or -1 with errno set.
 */
int status_write(int dir_fd, const struct run_status *status);

#endif

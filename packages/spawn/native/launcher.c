/*
 * cryopipe-launch: the clean parent of a checkpointable pipeline.
 *
 * Usage: cryopipe-launch RUNDIR      (reads RUNDIR/spec, see spec-encoding.ts)
 *        cryopipe-launch --keep RUNDIR …   (keeper of an adopted job, see keeper.c)
 *        cryopipe-launch --version
 *
 * Start report: once RUNDIR/status says the stages started, "started\n" goes
 * to the stdout we were given, which is then closed (closed unwritten on a
 * failure first), so a caller reads a pipe to EOF instead of watching RUNDIR.
 *
 * PID-namespace mode: this process (the "outer") unshares CLONE_NEWPID and
 * forks; the child is PID 1 of the new namespace, calls setsid there and is
 * the dump root. The outer only forwards signals and relays the exit status.
 * Plain mode: this process is the session leader and the dump root.
 *
 * After that the dump root holds fd 0 (/dev/null), 1 and 2 (RUNDIR/launcher.log)
 * and 3 (RUNDIR itself) only, handles signals synchronously in one sigwaitinfo
 * loop, and records stage statuses by atomically replacing RUNDIR/status (see
 * status.c), so it survives a CRIU checkpoint/restore and the run directory
 * stays the only channel. Every file in RUNDIR is reached through fd 3, never
 * by path: a restore that hands criu another directory for that fd
 * (--inherit-fd) moves the job, so two copies of one checkpoint can run side
 * by side, each writing its own status.
 *
 * Limits, the default PATH and the descriptor numbers come from facts.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler.h"
#include "facts.h"
#include "status.h"

/* What a stage's descriptor is opened from. */
enum src_kind { SRC_NULL, SRC_FILE, SRC_PIPE, SRC_DUP };

/* The spec's `pidns` value, as spec-encoding.ts writes it. */
enum pidns_request { PIDNS_OFF = 0, PIDNS_REQUIRED = 1, PIDNS_AUTO = 2 };

struct fd_spec {
  int target;
  enum src_kind kind;
  /* open(2) flags of a file or /dev/null. */
  int flags;
  /* SRC_PIPE: which pipe, and which end of it. */
  int pipe;
  int write_end;
  /* SRC_DUP: the target of this stage whose open file this one shares. */
  int dup_of;
  const char *path;
};

/* A stage as the spec declares it; what happens to it at run time is in states[]. */
struct stage {
  char **argv;
  char **envp;
  int argc;
  int envc;
  const char *cwd;
  mode_t umask;
  int nfds;
  struct fd_spec fds[MAX_FDS];
};

/* Sent by a stage that could not exec through the close-on-exec report pipe. */
struct exec_report {
  int index;
  int err;
  enum exec_phase phase;
};

static struct stage stages[MAX_STAGES];
static struct stage_status states[MAX_STAGES];
static int nstages;
static int npipes;
static enum pidns_request pidns_request = PIDNS_AUTO;
static char run_dir[PATH_MAX];
static struct run_status run = {.mode = MODE_PLAIN, .exit_code = -1, .stages = states};
/* The caller's stdout until the start is reported. */
static int report_fd = -1;
static sigset_t handled;
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

/*
 * RUNDIR/launcher.log becomes fd 1 and 2 when first needed, at the latest
 * while the stages exec: creating a file is slow on some file systems, so not
 * before. Returns 0 once the log is open, -1 when it cannot be.
 */
static int open_log(void) {
  static int tried;
  static int result = -1;
  if (tried) {
    return result;
  }
  tried = 1;
  int fd = openat(RUN_DIR_FD, "launcher.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return result; /* messages keep going to the stderr we were given */
  }
  /* fd > 2: main() keeps 0-2 taken. */
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  result = 0;
  return result;
}

PRINTF_LIKE(1, 2) static void log_line(const char *fmt, ...) {
  va_list ap;
  open_log();
  dprintf(2, "cryopipe-launch[%d]: ", (int)getpid());
  va_start(ap, fmt);
  vdprintf(2, fmt, ap);
  va_end(ap);
  dprintf(2, "\n");
}

/* ---- status file (status.c writes it) ---- */

static int write_run_status(enum run_state state) {
  for (int i = 0; i < nstages; i++) {
    states[i].argv = stages[i].argv;
    states[i].argc = stages[i].argc;
  }
  run.state = state;
  run.nstages = nstages;
  if (status_write(RUN_DIR_FD, &run) == 0) {
    return 0;
  }
  log_line("cannot replace %s/status: %s", run_dir, strerror(errno));
  return -1;
}

PRINTF_LIKE(1, 2) NORETURN static void fail(const char *fmt, ...) {
  static char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_line("error: %s", msg);
  run.error = msg;
  run.ended_at = now_ms();
  run.exit_code = EXIT_LAUNCHER;
  write_run_status(RUN_FAILED);
  exit(EXIT_LAUNCHER);
}

/* ---- spec: NUL-separated tokens, validated in full before any fork ---- */

static char *spec_buf;
static char *spec_end;
static char *cursor;

static const char *next_token(void) {
  if (cursor >= spec_end) {
    fail("spec ends early (truncated file?)");
  }
  char *tok = cursor;
  cursor += strlen(tok) + 1;
  return tok;
}

static long parse_number(const char *what, int base, long min, long max) {
  const char *tok = next_token();
  char *end;
  errno = 0;
  long v = strtol(tok, &end, base);
  if (!*tok || *end || errno || v < min || v > max) {
    fail("bad %s '%s' (want %ld..%ld)", what, tok, min, max);
  }
  return v;
}

static void push(char ***arr, int *n, char *value) {
  char **grown = realloc(*arr, sizeof(char *) * (size_t)(*n + 2));
  if (!grown) {
    fail("out of memory");
  }
  grown[*n] = value;
  *n += 1;
  grown[*n] = NULL;
  *arr = grown;
}

static int open_flags(const char *mode) {
  if (!strcmp(mode, "r")) {
    return O_RDONLY;
  }
  if (!strcmp(mode, "w")) {
    return O_WRONLY | O_CREAT;
  }
  if (!strcmp(mode, "a")) {
    return O_WRONLY | O_CREAT | O_APPEND;
  }
  if (!strcmp(mode, "t")) {
    return O_WRONLY | O_CREAT | O_TRUNC;
  }
  fail("bad file mode '%s' (want r, w, a or t)", mode);
}

static void parse_fd(struct stage *s) {
  if (s->nfds >= MAX_FDS) {
    fail("stage %d declares more than %d descriptors", nstages - 1, MAX_FDS);
  }
  struct fd_spec *f = &s->fds[s->nfds];
  s->nfds++;
  f->target = (int)parse_number("fd number", 10, 0, MAX_TARGET_FD);
  const char *kind = next_token();
  if (!strcmp(kind, "null")) {
    f->kind = SRC_NULL;
    f->flags = open_flags(next_token()) == O_RDONLY ? O_RDONLY : O_WRONLY;
  } else if (!strcmp(kind, "file")) {
    f->kind = SRC_FILE;
    f->flags = open_flags(next_token());
    f->path = next_token();
    if (f->path[0] != '/') {
      fail("file path '%s' is not absolute", f->path);
    }
  } else if (!strcmp(kind, "pipe")) {
    f->kind = SRC_PIPE;
    f->pipe = (int)parse_number("pipe index", 10, 0, MAX_PIPES - 1);
    f->write_end = !strcmp(next_token(), "w");
  } else if (!strcmp(kind, "dup")) {
    /* The same open file as another target of this stage, like a shell's 2>&1. */
    f->kind = SRC_DUP;
    f->dup_of = (int)parse_number("dup fd number", 10, 0, MAX_TARGET_FD);
  } else {
    fail("bad descriptor source '%s' (want null, file, pipe or dup)", kind);
  }
}

static void read_spec_file(void) {
  struct stat st;
  int fd = openat(RUN_DIR_FD, "spec", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st)) {
    fail("cannot open %s/spec: %s", run_dir, strerror(errno));
  }
  spec_buf = malloc((size_t)st.st_size + 1);
  if (!spec_buf) {
    fail("out of memory");
  }
  ssize_t got = read(fd, spec_buf, (size_t)st.st_size);
  close(fd);
  if (got != st.st_size) {
    fail("short read of %s/spec", run_dir);
  }
  spec_buf[st.st_size] = '\0';
  cursor = spec_buf;
  spec_end = spec_buf + st.st_size;
}

/* A `stage` record opens a stage; the records after it describe that stage. */
static struct stage *open_stage(void) {
  if (nstages >= MAX_STAGES) {
    fail("more than %d stages", MAX_STAGES);
  }
  struct stage *s = &stages[nstages];
  nstages++;
  s->umask = 022;
  return s;
}

static void parse_stage_record(struct stage *s, const char *key) {
  if (!strcmp(key, "arg")) {
    push(&s->argv, &s->argc, (char *)next_token());
  } else if (!strcmp(key, "env")) {
    push(&s->envp, &s->envc, (char *)next_token());
  } else if (!strcmp(key, "cwd")) {
    s->cwd = next_token();
  } else if (!strcmp(key, "umask")) {
    s->umask = (mode_t)parse_number("umask", 8, 0, 0777);
  } else if (!strcmp(key, "fd")) {
    parse_fd(s);
  } else {
    fail("unknown spec key '%s'", key);
  }
}

static void parse_spec(void) {
  read_spec_file();
  if (strcmp(next_token(), SPEC_HEADER)) {
    fail("spec is not %s (launcher %s)", SPEC_HEADER, LAUNCHER_VERSION);
  }
  struct stage *s = NULL;
  for (const char *key = next_token(); strcmp(key, "end"); key = next_token()) {
    if (!strcmp(key, "pidns")) {
      pidns_request = (enum pidns_request)parse_number("pidns", 10, PIDNS_OFF, PIDNS_AUTO);
    } else if (!strcmp(key, "pipes")) {
      npipes = (int)parse_number("pipe count", 10, 0, MAX_PIPES);
    } else if (!strcmp(key, "stage")) {
      s = open_stage();
    } else if (!s) {
      fail("'%s' before the first stage", key);
    } else {
      parse_stage_record(s, key);
    }
  }
  if (cursor != spec_end) {
    fail("data after the end of the spec");
  }
}

/* Index of the non-dup descriptor that a dup copies, or -1. */
static int dup_source(const struct stage *s, const struct fd_spec *f) {
  for (int b = 0; b < s->nfds; b++) {
    if (s->fds[b].target == f->dup_of && s->fds[b].kind != SRC_DUP) {
      return b;
    }
  }
  return -1;
}

/* Checks stage i on its own, and counts the pipe ends it uses. */
static void validate_stage(int i, int *readers, int *writers) {
  struct stage *s = &stages[i];
  if (s->argc == 0 || !s->argv[0][0]) {
    fail("stage %d has no command", i);
  }
  if (!s->envp && !(s->envp = calloc(1, sizeof(char *)))) {
    fail("out of memory");
  }
  for (int e = 0; e < s->envc; e++) {
    if (!strchr(s->envp[e], '=')) {
      fail("stage %d: env entry '%s' has no '='", i, s->envp[e]);
    }
  }
  for (int a = 0; a < s->nfds; a++) {
    struct fd_spec *f = &s->fds[a];
    for (int b = 0; b < a; b++) {
      if (s->fds[b].target == f->target) {
        fail("stage %d declares fd %d twice", i, f->target);
      }
    }
    if (f->kind == SRC_DUP && dup_source(s, f) < 0) {
      fail("stage %d fd %d duplicates fd %d, which the stage does not set from a file, pipe or "
           "null",
           i, f->target, f->dup_of);
    }
    if (f->kind != SRC_PIPE) {
      continue;
    }
    if (f->pipe >= npipes) {
      fail("stage %d fd %d uses pipe %d of %d", i, f->target, f->pipe, npipes);
    }
    if (f->write_end) {
      writers[f->pipe]++;
    } else {
      readers[f->pipe]++;
    }
  }
}

static void validate_spec(void) {
  static int readers[MAX_PIPES];
  static int writers[MAX_PIPES];
  if (nstages == 0) {
    fail("the spec has no stages");
  }
  for (int i = 0; i < nstages; i++) {
    validate_stage(i, readers, writers);
  }
  for (int p = 0; p < npipes; p++) {
    /* One end may be missing: a shell's pipe whose other end a redirection
     * replaced. Nobody holds it, so a writer gets EPIPE/SIGPIPE, a reader EOF. */
    if (readers[p] > 1 || writers[p] > 1 || readers[p] + writers[p] == 0) {
      fail("pipe %d has %d readers and %d writers (want at most one each, at least one end)", p,
           readers[p], writers[p]);
    }
  }
}

/* ---- stage start: runs in the forked child, never returns ---- */

NORETURN static void report_and_exit(int errfd, int index, int err, enum exec_phase phase) {
  struct exec_report r = {index, err, phase};
  if (write(errfd, &r, sizeof r) < 0) {
    /* The parent logs the missing report as a crash. */
  }
  _exit(phase == PHASE_EXEC && (err == ENOENT || err == ENOTDIR) ? 127 : 126);
}

static int compare_ints(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

/* Close every descriptor except the targets and errfd (close-on-exec anyway). */
static void close_all_but(const struct stage *s, int errfd) {
  int keep[MAX_FDS + 1];
  int n = 0;
  int next = 0;
  for (int a = 0; a < s->nfds; a++) {
    keep[n] = s->fds[a].target;
    n++;
  }
  keep[n] = errfd;
  n++;
  qsort(keep, (size_t)n, sizeof *keep, compare_ints);
  for (int k = 0; k < n; k++) {
    if (keep[k] > next) {
      syscall(SYS_close_range, (unsigned)next, (unsigned)keep[k] - 1, 0);
    }
    next = keep[k] + 1;
  }
  syscall(SYS_close_range, (unsigned)next, ~0U, 0);
}

/* execvp's search, over the stage's own PATH (DEFAULT_PATH without one). */
NORETURN static void exec_with_path(struct stage *s, int errfd, int index) {
  const char *cmd = s->argv[0];
  const char *path = DEFAULT_PATH;
  if (strchr(cmd, '/')) {
    execve(cmd, s->argv, s->envp);
    report_and_exit(errfd, index, errno, PHASE_EXEC);
  }
  for (int e = 0; e < s->envc; e++) {
    if (!strncmp(s->envp[e], "PATH=", 5)) {
      path = s->envp[e] + 5;
    }
  }
  int err = ENOENT;
  for (const char *dir = path;; dir++) {
    const char *colon = strchrnul(dir, ':');
    char full[PATH_MAX];
    int n;
    if (colon == dir) {
      n = snprintf(full, sizeof full, "%s", cmd);
    } else {
      n = snprintf(full, sizeof full, "%.*s/%s", (int)(colon - dir), dir, cmd);
    }
    if (n > 0 && (size_t)n < sizeof full) {
      execve(full, s->argv, s->envp);
      if (errno == EACCES) {
        err = EACCES;
      } else if (errno != ENOENT && errno != ENOTDIR) {
        err = errno;
        break;
      }
    }
    if (!*colon) {
      break;
    }
    dir = colon;
  }
  report_and_exit(errfd, index, err, PHASE_EXEC);
}

NORETURN static void run_stage(int index, int (*pipes)[2], int errfd) {
  struct stage *s = &stages[index];
  int sources[MAX_FDS];
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL); /* dispositions were reset once in main() */
  umask(s->umask);
  if (s->cwd && chdir(s->cwd)) {
    report_and_exit(errfd, index, errno, PHASE_CWD);
  }
  /* Every target number is occupied while sources open, so none lands on one. */
  for (int a = 0; a < s->nfds; a++) {
    struct fd_spec *f = &s->fds[a];
    if (f->kind == SRC_DUP) {
      continue;
    }
    if (f->kind == SRC_PIPE) {
      sources[a] = pipes[f->pipe][f->write_end];
    } else {
      const char *path = f->kind == SRC_FILE ? f->path : "/dev/null";
      sources[a] = open(path, f->flags | O_CLOEXEC, 0666);
    }
    if (sources[a] < 0) {
      report_and_exit(errfd, index, errno, PHASE_OPEN);
    }
  }
  for (int a = 0; a < s->nfds; a++) {
    if (s->fds[a].kind == SRC_DUP) {
      sources[a] = sources[dup_source(s, &s->fds[a])];
    }
  }
  for (int a = 0; a < s->nfds; a++) {
    if (dup2(sources[a], s->fds[a].target) < 0) {
      report_and_exit(errfd, index, errno, PHASE_DUP);
    }
  }
  close_all_but(s, errfd);
  exec_with_path(s, errfd, index);
}

/* ---- supervision (dump root) ---- */

static int read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  if (got < 0) {
    return -1;
  }
  buf[got] = '\0';
  return 0;
}

/* First (host) and last (innermost) NSpid values of a process seen via /proc. */
static int ns_pids(const char *pid, pid_t *host, pid_t *inner, pid_t *ppid) {
  char path[64];
  char buf[4096];
  snprintf(path, sizeof path, "/proc/%s/status", pid);
  if (read_small(path, buf, sizeof buf)) {
    return -1;
  }
  char *line = strstr(buf, "\nNSpid:");
  char *pp = strstr(buf, "\nPPid:");
  if (!line) {
    return -1;
  }
  if (ppid && pp) {
    *ppid = (pid_t)strtol(pp + 6, NULL, 10);
  }
  char *p = line + 7;
  char *end;
  *host = (pid_t)strtol(p, &end, 10);
  *inner = *host;
  while (end != p && *end != '\n') {
    p = end;
    *inner = (pid_t)strtol(p, &end, 10);
  }
  return 0;
}

/*
 * Host pids change on a restore in PID-namespace mode, so they are learnt
 * again before each status write. The namespace init sees host pids through
 * the host /proc (no new mount namespace). Plain mode: pids are host pids.
 */
static void learn_host_pids(void) {
  char path[96];
  char buf[8192];
  char num[24];
  pid_t inner;
  pid_t ppid = 0;
  if (run.mode != MODE_PIDNS) {
    return;
  }
  if (ns_pids("self", &run.root_pid, &inner, &ppid)) {
    run.root_pid = getpid();
    return;
  }
  run.launcher_pid = ppid;
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)run.root_pid);
  if (read_small(path, buf, sizeof buf)) {
    return;
  }
  char *end;
  for (char *p = buf; *p; p = end) {
    long child = strtol(p, &end, 10);
    if (end == p) {
      break;
    }
    pid_t host;
    snprintf(num, sizeof num, "%ld", child);
    if (ns_pids(num, &host, &inner, NULL)) {
      continue;
    }
    for (int i = 0; i < nstages; i++) {
      if (states[i].pid == inner) {
        states[i].host_pid = host;
      }
    }
  }
}

static int record(enum run_state state) {
  learn_host_pids();
  return write_run_status(state);
}

/*
 * Forks every stage; returns the read end of the exec-report pipe (EOF: all
 * exec'd or failed).
 */
static int start_stages(void) {
  static int pipes[MAX_PIPES][2];
  static char reserved[MAX_TARGET_FD + 1];
  int errpipe[2];
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    fail("cannot open /dev/null: %s", strerror(errno));
  }
  /* Reserve every target number first so no pipe can be handed one. */
  for (int i = 0; i < nstages; i++) {
    for (int a = 0; a < stages[i].nfds; a++) {
      int t = stages[i].fds[a].target;
      if (fcntl(t, F_GETFD) >= 0) {
        continue;
      }
      if (dup3(null_fd, t, O_CLOEXEC) < 0) {
        fail("cannot reserve fd %d: %s", t, strerror(errno));
      }
      reserved[t] = 1;
    }
  }
  for (int p = 0; p < npipes; p++) {
    if (pipe2(pipes[p], O_CLOEXEC)) {
      fail("pipe2: %s", strerror(errno));
    }
  }
  if (pipe2(errpipe, O_CLOEXEC)) {
    fail("pipe2: %s", strerror(errno));
  }
  for (int i = 0; i < nstages; i++) {
    states[i].started_at = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
      fail("fork for stage %d: %s", i, strerror(errno));
    }
    if (pid == 0) {
      run_stage(i, pipes, errpipe[1]);
    }
    states[i].pid = pid;
    if (run.mode != MODE_PIDNS) {
      states[i].host_pid = pid;
    }
  }
  for (int p = 0; p < npipes; p++) {
    close(pipes[p][0]);
    close(pipes[p][1]);
  }
  for (int t = 0; t <= MAX_TARGET_FD; t++) {
    if (reserved[t]) {
      close(t);
    }
  }
  close(null_fd);
  close(errpipe[1]);
  return errpipe[0];
}

/* While the stages exec: the log, and a first status with their pids. */
static void record_start(void) {
  if (open_log() == 0 && record(RUN_RUNNING) == 0) {
    return;
  }
  const char *why = strerror(errno);
  for (int i = 0; i < nstages; i++) {
    kill(states[i].pid, SIGKILL);
  }
  while (wait(NULL) > 0) {
  }
  fail("cannot create files in %s (%s); nothing runs without a status file", run_dir, why);
}

/* Reads what the stages that could not exec reported, until every stage exec'd or failed. */
static void collect_exec_reports(int fd) {
  struct exec_report r;
  while (read(fd, &r, sizeof r) == (ssize_t)sizeof r) {
    if (r.index >= 0 && r.index < nstages) {
      states[r.index].exec_errno = r.err;
      states[r.index].exec_phase = r.phase;
    }
  }
  close(fd);
}

/* Tells the caller the stages started (status already says so), then lets go of its pipe. */
static void report_started(void) {
  if (report_fd < 0) {
    return;
  }
  signal(SIGPIPE, SIG_IGN); /* a caller that went away must not kill the dump root */
  if (write(report_fd, "started\n", 8) < 0) {
    /* Nobody listening: fine. */
  }
  signal(SIGPIPE, SIG_DFL);
  close(report_fd);
  report_fd = -1;
}

static int pipefail_status(void) {
  int code = 0;
  for (int i = 0; i < nstages; i++) {
    int st = states[i].wstatus;
    int c = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (c) {
      code = c;
    }
  }
  return code;
}

/* Index of the stage with pid `pid`, or -1 (an orphan reparented to the namespace init). */
static int stage_of(pid_t pid) {
  for (int i = 0; i < nstages; i++) {
    if (states[i].pid == pid && !states[i].done) {
      return i;
    }
  }
  return -1;
}

/* Reaps every child that ended; returns 1 when a stage was among them. */
static int reap(void) {
  int changed = 0;
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    int i = stage_of(pid);
    if (i < 0) {
      continue;
    }
    states[i].done = 1;
    states[i].wstatus = st;
    states[i].ended_at = now_ms();
    changed = 1;
    if (states[i].exec_errno) {
      log_line("stage %d (%s) failed during %s: %s", i, stages[i].argv[0],
               exec_phase_name(states[i].exec_phase), strerror(states[i].exec_errno));
    }
  }
  return changed;
}

static int all_done(void) {
  for (int i = 0; i < nstages; i++) {
    if (!states[i].done) {
      return 0;
    }
  }
  return 1;
}

/*
 * Job control. The dump root leads a new session (in PID-namespace mode the
 * namespace init does this), so the pipeline has no controlling terminal:
 * nothing a terminal does (hangup on close, SIGINT from ^C, SIGTTIN/SIGTTOU
 * for a background read or write) can reach a stage, and CRIU never finds a
 * terminal it would need --shell-job for. The stages stay in this session
 * and in the dump root's process group. None of them leads the session, so
 * even a stage that opens a terminal cannot make it its controlling one.
 * Signals for the pipeline (TERM, INT, HUP, USR1, USR2) arrive at the dump
 * root and are passed to each live stage one by one, not to the process
 * group, which also holds the dump root itself. setsid fails only when we
 * already lead a process group: fine if that is our own session, an error
 * otherwise.
 */
static void become_session_leader(void) {
  if (setsid() < 0 && getsid(0) != getpid()) {
    fail("setsid: %s (start the launcher detached)", strerror(errno));
  }
}

/* Forwards the pipeline's signals to every live stage and reaps, until every stage ended. */
static void supervise_loop(void) {
  while (!all_done()) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) {
      continue; /* EINTR, e.g. around a checkpoint or restore */
    }
    if (sig == SIGCHLD) {
      if (reap() && !all_done()) {
        record(RUN_RUNNING);
      }
      continue;
    }
    for (int i = 0; i < nstages; i++) {
      if (!states[i].done) {
        kill(states[i].pid, sig);
      }
    }
  }
}

/* The dump root's whole life: start the stages, watch them, record how they ended. */
NORETURN static void supervise(void) {
  become_session_leader();
  if (chdir("/")) {
    fail("chdir /: %s", strerror(errno));
  }
  run.started_at = now_ms();
  int exec_reports = start_stages();
  record_start();
  collect_exec_reports(exec_reports);
  if (reap() && !all_done()) {
    record(RUN_RUNNING);
  }
  report_started();
  supervise_loop();
  run.exit_code = pipefail_status();
  run.ended_at = now_ms();
  record(RUN_EXITED);
  exit(run.exit_code);
}

/* The outer launcher in PID-namespace mode: relay signals, relay the exit. */
NORETURN static void relay(pid_t child) {
  for (;;) {
    siginfo_t info;
    int st;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) {
      continue;
    }
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    if (waitpid(child, &st, WNOHANG) == child) {
      exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
  }
}

/*
 * Forks the namespace init, which runs the pipeline, and stays as the outer
 * process relaying to it; returns only when there will be no namespace
 * (refused and not required): then this process runs the pipeline itself.
 */
static void enter_pid_namespace(void) {
  if (unshare(CLONE_NEWPID) != 0) {
    if (pidns_request == PIDNS_REQUIRED) {
      fail("unshare(CLONE_NEWPID): %s (run as root, or use plain mode)", strerror(errno));
    }
    log_line("no PID namespace (%s); running in plain mode", strerror(errno));
    return;
  }
  run.mode = MODE_PIDNS;
  if (chdir("/")) {
    fail("chdir /: %s", strerror(errno));
  }
  pid_t child = fork();
  if (child < 0) {
    fail("fork of the namespace init: %s", strerror(errno));
  }
  if (child == 0) {
    supervise();
  }
  if (report_fd >= 0) {
    close(report_fd); /* the namespace init reports */
    report_fd = -1;
  }
  open_log();
  relay(child);
}

/* ---- main's steps ---- */

static int print_version(void) {
  printf("cryopipe-launch %s %s\n", LAUNCHER_VERSION, SPEC_HEADER);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: cryopipe-launch /absolute/run/dir | --version\n");
  return EXIT_LAUNCHER;
}

/*
 * Closes every descriptor above 2 and opens the run directory as RUN_DIR_FD.
 * Four descriptors remain later: /dev/null, (see open_log) the log twice and
 * the run directory, plus the report fd until the start.
 */
static int open_run_dir(const char *path) {
  if (snprintf(run_dir, sizeof run_dir, "%s", path) >= (int)sizeof run_dir - 16) {
    return -1;
  }
  syscall(SYS_close_range, 3U, ~0U, 0);
  int dir_fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    fprintf(stderr, "cryopipe-launch: cannot open run directory %s: %s\n", run_dir,
            strerror(errno));
    return -1;
  }
  if (dir_fd == RUN_DIR_FD) {
    return 0;
  }
  /* 0-2 were closed: the directory took one of them. */
  if (dup3(dir_fd, RUN_DIR_FD, O_CLOEXEC) < 0) {
    return -1;
  }
  close(dir_fd);
  return 0;
}

/* Keeps stdout as the report fd, then points 0 and 1 (and 2 if closed) at /dev/null. */
static int take_standard_fds(void) {
  report_fd = fcntl(1, F_DUPFD_CLOEXEC, RUN_DIR_FD + 1);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) {
    return -1;
  }
  /* report_fd is the only copy of stdout; 0-2 stay taken for the log. */
  for (int fd = 0; fd <= 2; fd++) {
    if (fd < 2 || fcntl(fd, F_GETFD) < 0) {
      dup2(null_fd, fd);
    }
  }
  if (null_fd > 2) {
    close(null_fd);
  }
  return 0;
}

/* Exec kept only ignored signals: reset them here once, so every stage starts clean. */
static void reset_signal_dispositions(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    signal(sig, SIG_DFL);
  }
}

/* Blocked for good: they are taken synchronously with sigwaitinfo, never by a handler. */
static void block_handled_signals(void) {
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
    sigaddset(&handled, forwarded[i]);
  }
  sigprocmask(SIG_BLOCK, &handled, NULL);
}

int keeper_main(int argc, char **argv); /* keeper.c */

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--keep")) {
    return keeper_main(argc, argv);
  }
  if (argc == 2 && !strcmp(argv[1], "--version")) {
    return print_version();
  }
  if (argc != 2 || argv[1][0] != '/') {
    return usage();
  }
  if (open_run_dir(argv[1]) || take_standard_fds()) {
    return EXIT_LAUNCHER;
  }
  reset_signal_dispositions();
  run.root_pid = getpid();
  run.launcher_pid = run.root_pid;
  run.started_at = now_ms();

  parse_spec();
  validate_spec();
  block_handled_signals();
  if (pidns_request != PIDNS_OFF) {
    enter_pid_namespace();
  }
  supervise();
}

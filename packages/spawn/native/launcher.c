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
 * loop, and records stage statuses by atomically replacing RUNDIR/status, so it
 * survives a CRIU checkpoint/restore and the run directory stays the only channel.
 * Every file in RUNDIR is reached through fd 3, never by path: a restore that
 * hands criu another directory for that fd (--inherit-fd) moves the job, so two
 * copies of one checkpoint can run side by side, each writing its own status.
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
#include <time.h>
#include <unistd.h>

#define LAUNCHER_VERSION "0.1.0"
#define SPEC_HEADER "cryopipe-spec/1"
#define MAX_STAGES 64
#define MAX_FDS 64
#define MAX_PIPES 512
#define MAX_TARGET_FD 1023
#define EXIT_LAUNCHER 125
#define RUN_DIR_FD 3 /* documented: cryopipe finds a job's run directory here */

#define LOG(...) \
  (open_log(), dprintf(2, "cryopipe-launch[%d]: ", (int)getpid()), dprintf(2, __VA_ARGS__), dprintf(2, "\n"))

enum src_kind { SRC_NULL, SRC_FILE, SRC_PIPE, SRC_DUP };
enum phase { PH_EXEC, PH_CWD, PH_OPEN, PH_DUP };
static const char *phase_names[] = {"exec", "cwd", "open", "dup"};

struct fd_spec {
  int target, kind, flags, pipe, write_end, dup_of;
  const char *path;
};

struct stage {
  char **argv, **envp;
  int argc, envc, nfds;
  const char *cwd;
  mode_t umask;
  struct fd_spec fds[MAX_FDS];
  pid_t pid, host_pid;
  int done, wstatus, exec_errno, exec_phase;
  long long started, ended;
};

struct exec_report { int index, err, phase; };

static struct stage stages[MAX_STAGES];
static int nstages, npipes, pidns_mode = 2; /* 0 off, 1 on, 2 auto */
static char run_dir[PATH_MAX];
static const char *mode_name = "plain", *fail_message;
static pid_t root_host_pid, launcher_host_pid;
static long long root_started, root_ended;
static int root_exit = -1;
static int report_fd = -1; /* the caller's stdout until the start is reported */
static sigset_t handled;
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RUNDIR/launcher.log becomes fd 1 and 2 when first needed, at the latest while the
 * stages exec: creating a file is slow on some file systems, so not before. */
static int open_log(void) {
  static int done, result = -1;
  if (done++) return result;
  int fd = openat(RUN_DIR_FD, "launcher.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return result; /* messages keep going to the stderr we were given */
  dup2(fd, 1), dup2(fd, 2), close(fd); /* fd > 2: main() keeps 0-2 taken */
  return result = 0;
}

/* ---- status file: JSON, replaced atomically, fd closed right away ---- */

static char *sb;
static size_t sb_len, sb_cap;

static void sb_put(const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sb ? sb + sb_len : NULL, sb ? sb_cap - sb_len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (sb && sb_len + (size_t)n < sb_cap) { sb_len += (size_t)n; return; }
    size_t cap = (sb_cap ? sb_cap * 2 : 4096) + (size_t)n;
    char *grown = realloc(sb, cap);
    if (!grown) return;
    sb = grown;
    sb_cap = cap;
  }
}

static void sb_json_string(const char *s) {
  sb_put("\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') sb_put("\\%c", *p);
    else if (*p < 0x20) sb_put("\\u%04x", *p);
    else sb_put("%c", *p);
  }
  sb_put("\"");
}

static void sb_int_or_null(const char *key, long long value, int present) {
  if (present) sb_put(",\"%s\":%lld", key, value);
  else sb_put(",\"%s\":null", key);
}

static int write_status(const char *state) {
  sb_len = 0;
  sb_put("{\"version\":1,\"state\":\"%s\",\"mode\":\"%s\"", state, mode_name);
  sb_put(",\"rootPid\":%d,\"launcherPid\":%d", (int)root_host_pid, (int)launcher_host_pid);
  sb_int_or_null("startedAt", root_started, 1);
  sb_int_or_null("endedAt", root_ended, root_ended > 0);
  sb_int_or_null("exitCode", root_exit, root_exit >= 0);
  if (fail_message) { sb_put(",\"error\":"); sb_json_string(fail_message); }
  sb_put(",\"stages\":[");
  for (int i = 0; i < nstages; i++) {
    struct stage *s = &stages[i];
    int exited = s->done && WIFEXITED(s->wstatus), signaled = s->done && WIFSIGNALED(s->wstatus);
    sb_put("%s{\"index\":%d,\"pid\":%d,\"hostPid\":%d,\"argv\":[", i ? "," : "", i, (int)s->pid,
           (int)s->host_pid);
    for (int a = 0; a < s->argc; a++) { if (a) sb_put(","); sb_json_string(s->argv[a]); }
    sb_put("]");
    sb_int_or_null("startedAt", s->started, s->started > 0);
    sb_int_or_null("endedAt", s->ended, s->done);
    sb_int_or_null("exitCode", exited ? WEXITSTATUS(s->wstatus) : 0, exited);
    sb_int_or_null("signal", signaled ? WTERMSIG(s->wstatus) : 0, signaled);
    sb_int_or_null("execErrno", s->exec_errno, s->exec_errno > 0);
    if (s->exec_errno > 0) sb_put(",\"execPhase\":\"%s\"", phase_names[s->exec_phase]);
    sb_put("}");
  }
  sb_put("]}\n");
  int fd = openat(RUN_DIR_FD, "status.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { LOG("cannot write %s/status.tmp: %s", run_dir, strerror(errno)); return -1; }
  ssize_t w = write(fd, sb, sb_len);
  close(fd);
  if (w == (ssize_t)sb_len && !renameat(RUN_DIR_FD, "status.tmp", RUN_DIR_FD, "status")) return 0;
  return LOG("cannot replace %s/status: %s", run_dir, strerror(errno)), -1;
}

static void fail(const char *fmt, ...) {
  static char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  LOG("error: %s", msg);
  fail_message = msg;
  root_ended = now_ms();
  root_exit = EXIT_LAUNCHER;
  write_status("failed");
  exit(EXIT_LAUNCHER);
}

/* ---- spec: NUL-separated tokens, validated in full before any fork ---- */

static char *spec_buf, *spec_end, *cursor;

static const char *next_token(void) {
  if (cursor >= spec_end) fail("spec ends early (truncated file?)");
  char *tok = cursor;
  cursor += strlen(tok) + 1;
  return tok;
}

static long parse_number(const char *what, int base, long min, long max) {
  const char *tok = next_token();
  char *end;
  errno = 0;
  long v = strtol(tok, &end, base);
  if (!*tok || *end || errno || v < min || v > max) fail("bad %s '%s' (want %ld..%ld)", what, tok, min, max);
  return v;
}

static void push(char ***arr, int *n, char *value) {
  char **grown = realloc(*arr, sizeof(char *) * (size_t)(*n + 2));
  if (!grown) fail("out of memory");
  grown[(*n)++] = value;
  grown[*n] = NULL;
  *arr = grown;
}

static int open_flags(const char *mode) {
  if (!strcmp(mode, "r")) return O_RDONLY;
  if (!strcmp(mode, "w")) return O_WRONLY | O_CREAT;
  if (!strcmp(mode, "a")) return O_WRONLY | O_CREAT | O_APPEND;
  if (!strcmp(mode, "t")) return O_WRONLY | O_CREAT | O_TRUNC;
  fail("bad file mode '%s' (want r, w, a or t)", mode);
  return -1;
}

static void parse_fd(struct stage *s) {
  if (s->nfds >= MAX_FDS) fail("stage %d declares more than %d descriptors", nstages - 1, MAX_FDS);
  struct fd_spec *f = &s->fds[s->nfds++];
  f->target = (int)parse_number("fd number", 10, 0, MAX_TARGET_FD);
  const char *kind = next_token();
  if (!strcmp(kind, "null")) {
    f->kind = SRC_NULL;
    f->flags = open_flags(next_token()) == O_RDONLY ? O_RDONLY : O_WRONLY;
  } else if (!strcmp(kind, "file")) {
    f->kind = SRC_FILE;
    f->flags = open_flags(next_token());
    f->path = next_token();
    if (f->path[0] != '/') fail("file path '%s' is not absolute", f->path);
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

static void parse_spec(void) {
  struct stat st;
  int fd = openat(RUN_DIR_FD, "spec", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st)) fail("cannot open %s/spec: %s", run_dir, strerror(errno));
  spec_buf = malloc((size_t)st.st_size + 1);
  if (!spec_buf) fail("out of memory");
  ssize_t got = read(fd, spec_buf, (size_t)st.st_size);
  close(fd);
  if (got != st.st_size) fail("short read of %s/spec", run_dir);
  spec_buf[st.st_size] = '\0';
  cursor = spec_buf;
  spec_end = spec_buf + st.st_size;
  if (strcmp(next_token(), SPEC_HEADER)) fail("spec is not %s (launcher %s)", SPEC_HEADER, LAUNCHER_VERSION);
  struct stage *s = NULL;
  for (;;) {
    const char *key = next_token();
    if (!strcmp(key, "end")) break;
    if (!strcmp(key, "pidns")) pidns_mode = (int)parse_number("pidns", 10, 0, 2);
    else if (!strcmp(key, "pipes")) npipes = (int)parse_number("pipe count", 10, 0, MAX_PIPES);
    else if (!strcmp(key, "stage")) {
      if (nstages >= MAX_STAGES) fail("more than %d stages", MAX_STAGES);
      s = &stages[nstages++];
      s->umask = 022;
    } else if (!s) fail("'%s' before the first stage", key);
    else if (!strcmp(key, "arg")) push(&s->argv, &s->argc, (char *)next_token());
    else if (!strcmp(key, "env")) push(&s->envp, &s->envc, (char *)next_token());
    else if (!strcmp(key, "cwd")) s->cwd = next_token();
    else if (!strcmp(key, "umask")) s->umask = (mode_t)parse_number("umask", 8, 0, 0777);
    else if (!strcmp(key, "fd")) parse_fd(s);
    else fail("unknown spec key '%s'", key);
  }
  if (cursor != spec_end) fail("data after the end of the spec");
}

/* Index of the non-dup descriptor that a dup copies, or -1. */
static int dup_source(const struct stage *s, const struct fd_spec *f) {
  for (int b = 0; b < s->nfds; b++)
    if (s->fds[b].target == f->dup_of && s->fds[b].kind != SRC_DUP) return b;
  return -1;
}

static void validate_spec(void) {
  static int readers[MAX_PIPES], writers[MAX_PIPES];
  if (nstages == 0) fail("the spec has no stages");
  for (int i = 0; i < nstages; i++) {
    struct stage *s = &stages[i];
    if (s->argc == 0 || !s->argv[0][0]) fail("stage %d has no command", i);
    if (!s->envp && !(s->envp = calloc(1, sizeof(char *)))) fail("out of memory");
    for (int e = 0; e < s->envc; e++)
      if (!strchr(s->envp[e], '=')) fail("stage %d: env entry '%s' has no '='", i, s->envp[e]);
    for (int a = 0; a < s->nfds; a++) {
      struct fd_spec *f = &s->fds[a];
      for (int b = 0; b < a; b++)
        if (s->fds[b].target == f->target) fail("stage %d declares fd %d twice", i, f->target);
      if (f->kind == SRC_DUP && dup_source(s, f) < 0)
        fail("stage %d fd %d duplicates fd %d, which the stage does not set from a file, pipe or null", i, f->target, f->dup_of);
      if (f->kind != SRC_PIPE) continue;
      if (f->pipe >= npipes) fail("stage %d fd %d uses pipe %d of %d", i, f->target, f->pipe, npipes);
      (f->write_end ? writers : readers)[f->pipe]++;
    }
  }
  for (int p = 0; p < npipes; p++)
    if (readers[p] != 1 || writers[p] != 1)
      fail("pipe %d has %d readers and %d writers (want exactly one each)", p, readers[p], writers[p]);
}

/* ---- stage start: runs in the forked child, never returns ---- */

static void report_and_exit(int errfd, int index, int err, int phase) {
  struct exec_report r = {index, err, phase};
  if (write(errfd, &r, sizeof r) < 0) { /* the parent logs the missing report as a crash */ }
  _exit(phase == PH_EXEC && (err == ENOENT || err == ENOTDIR) ? 127 : 126);
}

static int compare_ints(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Close every descriptor except the targets and errfd (close-on-exec anyway). */
static void close_all_but(const struct stage *s, int errfd) {
  int keep[MAX_FDS + 1], n = 0, next = 0;
  for (int a = 0; a < s->nfds; a++) keep[n++] = s->fds[a].target;
  keep[n++] = errfd;
  qsort(keep, (size_t)n, sizeof *keep, compare_ints);
  for (int k = 0; k < n; k++) {
    if (keep[k] > next) syscall(SYS_close_range, (unsigned)next, (unsigned)keep[k] - 1, 0);
    next = keep[k] + 1;
  }
  syscall(SYS_close_range, (unsigned)next, ~0U, 0);
}

static void exec_with_path(struct stage *s, int errfd, int index) {
  const char *cmd = s->argv[0], *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  if (strchr(cmd, '/')) { execve(cmd, s->argv, s->envp); report_and_exit(errfd, index, errno, PH_EXEC); }
  for (int e = 0; e < s->envc; e++)
    if (!strncmp(s->envp[e], "PATH=", 5)) path = s->envp[e] + 5;
  int err = ENOENT;
  for (const char *dir = path;; dir++) {
    const char *colon = strchrnul(dir, ':');
    char full[PATH_MAX];
    int n = colon == dir ? snprintf(full, sizeof full, "%s", cmd)
                         : snprintf(full, sizeof full, "%.*s/%s", (int)(colon - dir), dir, cmd);
    if (n > 0 && (size_t)n < sizeof full) {
      execve(full, s->argv, s->envp);
      if (errno == EACCES) err = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR) { err = errno; break; }
    }
    if (!*colon) break;
    dir = colon;
  }
  report_and_exit(errfd, index, err, PH_EXEC);
}

static void run_stage(int index, int (*pipes)[2], int errfd) {
  struct stage *s = &stages[index];
  int sources[MAX_FDS];
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL); /* dispositions were reset once in main() */
  umask(s->umask);
  if (s->cwd && chdir(s->cwd)) report_and_exit(errfd, index, errno, PH_CWD);
  /* Every target number is occupied while sources open, so none lands on one. */
  for (int a = 0; a < s->nfds; a++) {
    struct fd_spec *f = &s->fds[a];
    if (f->kind == SRC_DUP) continue;
    if (f->kind == SRC_PIPE) sources[a] = pipes[f->pipe][f->write_end];
    else sources[a] = open(f->kind == SRC_FILE ? f->path : "/dev/null", f->flags | O_CLOEXEC, 0666);
    if (sources[a] < 0) report_and_exit(errfd, index, errno, PH_OPEN);
  }
  for (int a = 0; a < s->nfds; a++)
    if (s->fds[a].kind == SRC_DUP) sources[a] = sources[dup_source(s, &s->fds[a])];
  for (int a = 0; a < s->nfds; a++)
    if (dup2(sources[a], s->fds[a].target) < 0) report_and_exit(errfd, index, errno, PH_DUP);
  close_all_but(s, errfd);
  exec_with_path(s, errfd, index);
}

/* ---- supervision (dump root) ---- */

static int read_small(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  if (got < 0) return -1;
  buf[got] = '\0';
  return 0;
}

/* First (host) and last (innermost) NSpid values of a process seen via /proc. */
static int ns_pids(const char *pid, pid_t *host, pid_t *inner, pid_t *ppid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%s/status", pid);
  if (read_small(path, buf, sizeof buf)) return -1;
  char *line = strstr(buf, "\nNSpid:"), *pp = strstr(buf, "\nPPid:");
  if (!line) return -1;
  if (ppid && pp) *ppid = (pid_t)strtol(pp + 6, NULL, 10);
  char *p = line + 7, *end;
  *host = *inner = (pid_t)strtol(p, &end, 10);
  while (end != p && *end != '\n') { p = end; *inner = (pid_t)strtol(p, &end, 10); }
  return 0;
}

/* The ns-init sees host pids through the host /proc (no new mount ns). */
static void learn_host_pids(void) {
  char path[96], buf[8192], num[24];
  pid_t inner, ppid = 0;
  if (strcmp(mode_name, "pidns")) return; /* plain mode: pids are host pids already */
  if (ns_pids("self", &root_host_pid, &inner, &ppid)) { root_host_pid = getpid(); return; }
  launcher_host_pid = !strcmp(mode_name, "pidns") ? ppid : root_host_pid;
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)root_host_pid);
  if (read_small(path, buf, sizeof buf)) return;
  for (char *p = buf, *end; *p; p = end) {
    long child = strtol(p, &end, 10);
    if (end == p) break;
    pid_t host;
    snprintf(num, sizeof num, "%ld", child);
    if (ns_pids(num, &host, &inner, NULL)) continue;
    for (int i = 0; i < nstages; i++)
      if (stages[i].pid == inner) stages[i].host_pid = host;
  }
}

/* Forks every stage; returns the read end of the exec-report pipe (EOF: all exec'd or failed). */
static int start_stages(void) {
  static int pipes[MAX_PIPES][2];
  static char reserved[MAX_TARGET_FD + 1];
  int errpipe[2], null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) fail("cannot open /dev/null: %s", strerror(errno));
  /* Reserve every target number first so no pipe can be handed one. */
  for (int i = 0; i < nstages; i++)
    for (int a = 0; a < stages[i].nfds; a++) {
      int t = stages[i].fds[a].target;
      if (fcntl(t, F_GETFD) >= 0) continue;
      if (dup3(null_fd, t, O_CLOEXEC) < 0) fail("cannot reserve fd %d: %s", t, strerror(errno));
      reserved[t] = 1;
    }
  for (int p = 0; p < npipes; p++)
    if (pipe2(pipes[p], O_CLOEXEC)) fail("pipe2: %s", strerror(errno));
  if (pipe2(errpipe, O_CLOEXEC)) fail("pipe2: %s", strerror(errno));
  for (int i = 0; i < nstages; i++) {
    stages[i].started = now_ms();
    pid_t pid = fork();
    if (pid < 0) fail("fork for stage %d: %s", i, strerror(errno));
    if (pid == 0) run_stage(i, pipes, errpipe[1]);
    stages[i].pid = pid;
    if (strcmp(mode_name, "pidns")) stages[i].host_pid = pid;
  }
  for (int p = 0; p < npipes; p++) close(pipes[p][0]), close(pipes[p][1]);
  for (int t = 0; t <= MAX_TARGET_FD; t++)
    if (reserved[t]) close(t);
  close(null_fd);
  close(errpipe[1]);
  return errpipe[0];
}

/* Tells the caller the stages started (status already says so), then lets go of its pipe. */
static void report_started(void) {
  if (report_fd < 0) return;
  signal(SIGPIPE, SIG_IGN); /* a caller that went away must not kill the dump root */
  if (write(report_fd, "started\n", 8) < 0) { /* nobody listening: fine */ }
  signal(SIGPIPE, SIG_DFL), close(report_fd), report_fd = -1;
}

/* Host pids change on a restore in PID-namespace mode: refresh before each write. */
static int record(const char *state) {
  learn_host_pids();
  return write_status(state);
}

static int pipefail_status(void) {
  int code = 0;
  for (int i = 0; i < nstages; i++) {
    int st = stages[i].wstatus;
    int c = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (c) code = c;
  }
  return code;
}

static int reap(void) {
  int changed = 0, st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
    for (int i = 0; i < nstages; i++)
      if (stages[i].pid == pid && !stages[i].done) {
        stages[i].done = 1, stages[i].wstatus = st, stages[i].ended = now_ms();
        changed = 1;
        if (stages[i].exec_errno)
          LOG("stage %d (%s) failed during %s: %s", i, stages[i].argv[0], phase_names[stages[i].exec_phase],
              strerror(stages[i].exec_errno));
      }
  return changed;
}

static int all_done(void) {
  for (int i = 0; i < nstages; i++)
    if (!stages[i].done) return 0;
  return 1;
}

static void supervise(void) {
  if (setsid() < 0 && getsid(0) != getpid()) fail("setsid: %s (start the launcher detached)", strerror(errno));
  if (chdir("/")) fail("chdir /: %s", strerror(errno));
  root_started = now_ms();
  int exec_reports = start_stages();
  /* While the stages exec: the log, and a first status with their pids. */
  if (open_log() || record("running")) {
    const char *why = strerror(errno);
    for (int i = 0; i < nstages; i++) kill(stages[i].pid, SIGKILL);
    while (wait(NULL) > 0) {}
    fail("cannot create files in %s (%s); nothing runs without a status file", run_dir, why);
  }
  struct exec_report r;
  while (read(exec_reports, &r, sizeof r) == (ssize_t)sizeof r)
    if (r.index >= 0 && r.index < nstages) stages[r.index].exec_errno = r.err, stages[r.index].exec_phase = r.phase;
  close(exec_reports);
  if (reap() && !all_done()) record("running");
  report_started();
  while (!all_done()) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) continue; /* EINTR, e.g. around a checkpoint or restore */
    if (sig == SIGCHLD) {
      if (reap() && !all_done()) record("running");
      continue;
    }
    for (int i = 0; i < nstages; i++)
      if (!stages[i].done) kill(stages[i].pid, sig);
  }
  root_exit = pipefail_status();
  root_ended = now_ms();
  record("exited");
  exit(root_exit);
}

/* The outer launcher in PID-namespace mode: relay signals, relay the exit. */
static void relay(pid_t child) {
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info), st;
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(child, sig); continue; }
    if (waitpid(child, &st, WNOHANG) == child) exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
}

int keeper_main(int argc, char **argv); /* keeper.c */

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--keep")) return keeper_main(argc, argv);
  if (argc == 2 && !strcmp(argv[1], "--version")) {
    printf("cryopipe-launch %s %s\n", LAUNCHER_VERSION, SPEC_HEADER);
    return 0;
  }
  if (argc != 2 || argv[1][0] != '/') {
    fprintf(stderr, "usage: cryopipe-launch /absolute/run/dir | --version\n");
    return EXIT_LAUNCHER;
  }
  if (snprintf(run_dir, sizeof run_dir, "%s", argv[1]) >= (int)sizeof run_dir - 16) return EXIT_LAUNCHER;
  /* Four descriptors: /dev/null, (see open_log) the log twice and the run directory,
   * plus the report fd until the start. */
  syscall(SYS_close_range, 3U, ~0U, 0);
  int dir_fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    fprintf(stderr, "cryopipe-launch: cannot open run directory %s: %s\n", run_dir, strerror(errno));
    return EXIT_LAUNCHER;
  }
  if (dir_fd != RUN_DIR_FD) { /* 0-2 were closed: the directory took one of them */
    if (dup3(dir_fd, RUN_DIR_FD, O_CLOEXEC) < 0) return EXIT_LAUNCHER;
    close(dir_fd);
  }
  report_fd = fcntl(1, F_DUPFD_CLOEXEC, RUN_DIR_FD + 1);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) return EXIT_LAUNCHER;
  for (int fd = 0; fd <= 2; fd++) /* report_fd is the only copy of stdout; 0-2 stay taken for the log */
    if (fd < 2 || fcntl(fd, F_GETFD) < 0) dup2(null_fd, fd);
  if (null_fd > 2) close(null_fd);
  /* Exec kept only ignored signals: reset them here once, so every stage starts clean. */
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  root_host_pid = launcher_host_pid = getpid();
  root_started = now_ms();

  parse_spec();
  validate_spec();

  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&handled, forwarded[i]);
  sigprocmask(SIG_BLOCK, &handled, NULL);

  if (pidns_mode != 0) {
    if (unshare(CLONE_NEWPID) == 0) {
      mode_name = "pidns";
      if (chdir("/")) fail("chdir /: %s", strerror(errno));
      pid_t child = fork();
      if (child < 0) fail("fork of the namespace init: %s", strerror(errno));
      if (child == 0) supervise();
      if (report_fd >= 0) close(report_fd), report_fd = -1; /* the namespace init reports */
      open_log();
      relay(child);
    }
    if (pidns_mode == 1) fail("unshare(CLONE_NEWPID): %s (run as root, or use plain mode)", strerror(errno));
    LOG("no PID namespace (%s); running in plain mode", strerror(errno));
  }
  supervise();
  return 0;
}

/*
 * Keeper mode of cryopipe-launch: the terminal owner of an adopted job.
 *
 * Usage: cryopipe-launch --keep RUNDIR IMAGES LOG CRIU COLS ROWS
 *
 * A process dumped as a CRIU shell job can only be restored by a criu whose
 * stdin is a terminal that controls its session. The keeper makes one: it
 * leads a new session, opens a pty pair, makes the slave its controlling
 * terminal and runs `criu restore --shell-job -d` with the slave as stdin.
 * As a child subreaper it inherits the restored root when criu exits.
 *
 * Then it holds the master: everything the job writes to its terminal is
 * appended to LOG; bytes written to the FIFO RUNDIR/input are typed into the
 * terminal (cryopipe attach). TERM, INT, HUP, USR1 and USR2 go to the
 * terminal's foreground process group and to the root. RUNDIR/status has the
 * launcher's format, with the restored root as the one stage.
 *
 * Start report on the stdout we were given: "started KEEPER ROOT\n", or
 * "failed MESSAGE\n". No threads, no handlers: signals come through a
 * signalfd in the one poll loop, so keeper and job can be dumped together.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define KLOG(...) (dprintf(2, "cryopipe-keeper[%d]: ", (int)getpid()), dprintf(2, __VA_ARGS__), dprintf(2, "\n"))

static const char *run_dir;
static pid_t keeper_pid, criu_pid, root_pid;
static long long started_at, ended_at;
static int root_done, root_wstatus, report_fd = -1;
static char root_argv[1024];
static size_t root_argv_len;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void json_string(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

/* RUNDIR/status in the launcher's format (see run-status.ts), replaced atomically. */
static void write_status(const char *state, const char *error) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/status", run_dir);
  snprintf(tmp, sizeof tmp, "%s/status.tmp", run_dir);
  FILE *f = fopen(tmp, "we");
  if (!f) { KLOG("cannot write %s: %s", tmp, strerror(errno)); return; }
  int exited = root_done && WIFEXITED(root_wstatus), signaled = root_done && WIFSIGNALED(root_wstatus);
  int code = exited ? WEXITSTATUS(root_wstatus) : signaled ? 128 + WTERMSIG(root_wstatus) : -1;
  fprintf(f, "{\"version\":1,\"state\":\"%s\",\"mode\":\"plain\",\"rootPid\":%d,\"launcherPid\":%d,\"startedAt\":%lld",
          state, (int)keeper_pid, (int)keeper_pid, started_at);
  if (ended_at) fprintf(f, ",\"endedAt\":%lld", ended_at); else fprintf(f, ",\"endedAt\":null");
  if (code >= 0) fprintf(f, ",\"exitCode\":%d", code); else fprintf(f, ",\"exitCode\":null");
  if (error) { fprintf(f, ",\"error\":"); json_string(f, error, strlen(error)); }
  fprintf(f, ",\"stages\":[");
  if (root_pid) {
    fprintf(f, "{\"index\":0,\"pid\":%d,\"hostPid\":%d,\"argv\":[", (int)root_pid, (int)root_pid);
    for (size_t at = 0; at < root_argv_len;) {
      size_t n = strlen(root_argv + at);
      if (at) fputc(',', f);
      json_string(f, root_argv + at, n);
      at += n + 1;
    }
    fprintf(f, "],\"startedAt\":%lld", started_at);
    if (root_done) fprintf(f, ",\"endedAt\":%lld", ended_at);
    if (exited) fprintf(f, ",\"exitCode\":%d", WEXITSTATUS(root_wstatus));
    if (signaled) fprintf(f, ",\"signal\":%d", WTERMSIG(root_wstatus));
    fprintf(f, "}");
  }
  fprintf(f, "]}\n");
  if (fclose(f) || rename(tmp, path)) KLOG("cannot replace %s: %s", path, strerror(errno));
}

static void report(const char *fmt, ...) {
  if (report_fd < 0) return;
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  signal(SIGPIPE, SIG_IGN); /* a caller that went away must not kill the keeper */
  if (n > 0 && write(report_fd, line, (size_t)n) < 0) { /* nobody listening: fine */ }
  signal(SIGPIPE, SIG_DFL);
  close(report_fd);
  report_fd = -1;
}

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  KLOG("error: %s", msg);
  ended_at = now_ms();
  write_status("failed", msg);
  report("failed %s\n", msg);
  exit(125);
}

static void learn_root(void) {
  char path[PATH_MAX], buf[32];
  snprintf(path, sizeof path, "%s/root.pid", run_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (n <= 0) fail("criu restored the job but wrote no %s", path);
  buf[n] = '\0';
  root_pid = (pid_t)strtol(buf, NULL, 10);
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)root_pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  n = fd < 0 ? -1 : read(fd, root_argv, sizeof root_argv - 1);
  if (fd >= 0) close(fd);
  root_argv_len = n > 0 ? (size_t)n : 0;
  if (root_argv_len && root_argv[root_argv_len - 1]) root_argv[root_argv_len++] = '\0';
}

static pid_t start_criu(const char *criu, const char *images, int slave) {
  char pidfile[PATH_MAX];
  snprintf(pidfile, sizeof pidfile, "%s/root.pid", run_dir);
  unlink(pidfile);
  pid_t pid = fork();
  if (pid < 0) fail("fork for criu: %s", strerror(errno));
  if (pid > 0) return pid;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  dup2(slave, 0); /* criu's shell-job restore inherits this terminal for the job */
  dup2(2, 1);
  char *argv[] = {(char *)criu, "restore", "-D", (char *)images, "--shell-job", "--restore-detached",
                  "--pidfile", pidfile, "-W", (char *)run_dir, "-o", "restore.log", "-v4", NULL};
  execv(criu, argv);
  KLOG("exec %s: %s", criu, strerror(errno));
  _exit(127);
}

/* Copies what is readable on `from` to `to`: 1 copied, -1 nothing now, 0 EOF/EIO (no writer left). */
static int pump(int from, int to) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? -1 : 0;
  if (n == 0) return 0;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = write(to, buf + done, (size_t)(n - done));
    if (w < 0) { if (errno == EINTR) continue; KLOG("write: %s", strerror(errno)); break; }
    done += w;
  }
  return 1;
}

static void reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    if (pid == criu_pid) {
      criu_pid = 0;
      if (!WIFEXITED(st) || WEXITSTATUS(st))
        fail("criu restore failed (%s %d); see %s/restore.log", WIFEXITED(st) ? "exit" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), run_dir);
      learn_root();
      write_status("running", NULL);
      report("started %d %d\n", (int)keeper_pid, (int)root_pid);
    } else if (pid == root_pid) {
      root_done = 1, root_wstatus = st, ended_at = now_ms();
    } /* else: an orphan of the job, reparented to us as subreaper */
  }
}

int keeper_main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: cryopipe-launch --keep RUNDIR IMAGES LOG CRIU COLS ROWS\n");
    return 125;
  }
  run_dir = argv[2];
  const char *images = argv[3], *log_path = argv[4], *criu = argv[5];
  struct winsize ws = {.ws_col = (unsigned short)atoi(argv[6]), .ws_row = (unsigned short)atoi(argv[7])};
  syscall(SYS_close_range, 3U, ~0U, 0);
  report_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  int null_fd = open("/dev/null", O_RDWR);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/launcher.log", run_dir);
  int log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd < 0 || log_fd < 0) return 125;
  dup2(null_fd, 0), dup2(log_fd, 1), dup2(log_fd, 2);
  close(null_fd), close(log_fd);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  keeper_pid = getpid();
  started_at = now_ms();

  sigset_t handled;
  sigemptyset(&handled);
  int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&handled, forwarded[i]);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  int sig_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) fail("signalfd: %s", strerror(errno));

  if (setsid() < 0 && getsid(0) != getpid()) fail("setsid: %s (start the keeper detached)", strerror(errno));
  if (prctl(PR_SET_CHILD_SUBREAPER, 1)) fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) || unlockpt(master)) fail("cannot open a pty: %s", strerror(errno));
  const char *slave_name = ptsname(master);
  int slave = slave_name ? open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (slave < 0) fail("cannot open the pty slave: %s", strerror(errno));
  if (ioctl(slave, TIOCSCTTY, 0)) fail("TIOCSCTTY: %s", strerror(errno));
  if (ws.ws_col && ws.ws_row) ioctl(master, TIOCSWINSZ, &ws);
  int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) fail("cannot open %s: %s", log_path, strerror(errno));
  snprintf(path, sizeof path, "%s/input", run_dir);
  if (mkfifo(path, 0600) && errno != EEXIST) fail("mkfifo %s: %s", path, strerror(errno));
  /* Read-write, so the FIFO never reports EOF between two writers. */
  int input = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (input < 0) fail("cannot open %s: %s", path, strerror(errno));
  if (chdir("/")) fail("chdir /: %s", strerror(errno));
  write_status("running", NULL);

  criu_pid = start_criu(criu, images, slave);
  close(slave); /* the job holds it now; the session keeps it as controlling terminal */
  int master_open = 1;
  while (!root_done || criu_pid) {
    struct pollfd fds[3] = {{sig_fd, POLLIN, 0}, {input, POLLIN, 0}, {master_open ? master : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) continue; /* EINTR, e.g. around a checkpoint or restore */
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) master_open = pump(master, out) != 0;
    if (fds[1].revents & POLLIN) pump(input, master);
    if (!(fds[0].revents & POLLIN)) continue;
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
      int sig = (int)si.ssi_signo;
      if (sig == SIGCHLD) { reap(); continue; }
      pid_t fg = tcgetpgrp(master);
      if (fg > 0) kill(-fg, sig);
      if (root_pid && !root_done) kill(root_pid, sig);
    }
    if (root_done) reap();
  }
  /* The last output: what the job wrote just before it ended. */
  fcntl(master, F_SETFL, O_NONBLOCK);
  while (master_open && pump(master, out) > 0) {}
  write_status("exited", NULL);
  exit(WIFEXITED(root_wstatus) ? WEXITSTATUS(root_wstatus) : 128 + WTERMSIG(root_wstatus));
}

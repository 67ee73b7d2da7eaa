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
 * terminal's foreground process group and to the root. RUNDIR/status is
 * written by the launcher's writer (status.c), with the restored root as the
 * one stage; like the launcher, the keeper holds RUNDIR on RUN_DIR_FD.
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
#include <unistd.h>

#include "compiler.h"
#include "facts.h"
#include "status.h"

static const char *run_dir;
static pid_t criu_pid;
static pid_t root_pid;
static int report_fd = -1;
/* The restored root's command line: NUL-separated in root_argv_text, split into root_argv. */
static char root_argv_text[1024];
static char *root_argv[sizeof root_argv_text + 1];
static struct stage_status root_stage;
static struct run_status run = {.mode = MODE_PLAIN, .exit_code = -1, .stages = &root_stage};

PRINTF_LIKE(1, 2) static void log_line(const char *fmt, ...) {
  va_list ap;
  dprintf(2, "cryopipe-keeper[%d]: ", (int)getpid());
  va_start(ap, fmt);
  vdprintf(2, fmt, ap);
  va_end(ap);
  dprintf(2, "\n");
}

/* The restored root's exit status as a shell reports it, or -1 while it runs. */
static int root_exit_code(void) {
  if (!root_stage.done) {
    return -1;
  }
  int st = root_stage.wstatus;
  if (WIFEXITED(st)) {
    return WEXITSTATUS(st);
  }
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* RUNDIR/status in the launcher's format (see status.c), replaced atomically. */
static void record(enum run_state state, const char *error) {
  run.state = state;
  run.error = error;
  run.exit_code = root_exit_code();
  run.nstages = root_pid ? 1 : 0;
  if (status_write(RUN_DIR_FD, &run)) {
    log_line("cannot replace %s/status: %s", run_dir, strerror(errno));
  }
}

PRINTF_LIKE(1, 2) static void report(const char *fmt, ...) {
  if (report_fd < 0) {
    return;
  }
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  signal(SIGPIPE, SIG_IGN); /* a caller that went away must not kill the keeper */
  if (n > 0 && write(report_fd, line, (size_t)n) < 0) {
    /* Nobody listening: fine. */
  }
  signal(SIGPIPE, SIG_DFL);
  close(report_fd);
  report_fd = -1;
}

PRINTF_LIKE(1, 2) NORETURN static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_line("error: %s", msg);
  run.ended_at = now_ms();
  record(RUN_FAILED, msg);
  report("failed %s\n", msg);
  exit(EXIT_LAUNCHER);
}

/* Reads up to n - 1 bytes of `path`; returns how many, or -1. */
static ssize_t read_file(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  return got;
}

/* The root criu restored (its --pidfile), and its command line for the status. */
static void learn_root(void) {
  char path[PATH_MAX];
  char buf[32];
  snprintf(path, sizeof path, "%s/root.pid", run_dir);
  ssize_t n = read_file(path, buf, sizeof buf);
  if (n <= 0) {
    fail("criu restored the job but wrote no %s", path);
  }
  buf[n] = '\0';
  root_pid = (pid_t)strtol(buf, NULL, 10);
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)root_pid);
  n = read_file(path, root_argv_text, sizeof root_argv_text);
  size_t len = n > 0 ? (size_t)n : 0;
  root_argv_text[len] = '\0'; /* read_file left room: the last argument always ends */
  int argc = 0;
  for (size_t at = 0; at < len; at += strlen(root_argv_text + at) + 1) {
    root_argv[argc] = root_argv_text + at;
    argc++;
  }
  root_argv[argc] = NULL;
  root_stage.pid = root_pid;
  root_stage.host_pid = root_pid;
  root_stage.argv = root_argv;
  root_stage.argc = argc;
}

static pid_t start_criu(const char *criu, const char *images, int slave) {
  char pidfile[PATH_MAX];
  snprintf(pidfile, sizeof pidfile, "%s/root.pid", run_dir);
  unlink(pidfile);
  pid_t pid = fork();
  if (pid < 0) {
    fail("fork for criu: %s", strerror(errno));
  }
  if (pid > 0) {
    return pid;
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  dup2(slave, 0); /* criu's shell-job restore inherits this terminal for the job */
  dup2(2, 1);
  char *argv[] = {
      (char *)criu, "restore", "-D", (char *)images,  "--shell-job", "--restore-detached",
      "--pidfile",  pidfile,   "-W", (char *)run_dir, "-o",          "restore.log",
      "-v4",        NULL};
  execv(criu, argv);
  log_line("exec %s: %s", criu, strerror(errno));
  _exit(127);
}

/*
 * Copies what is readable on `from` to `to`: 1 copied, -1 nothing now, 0
 * EOF/EIO (no writer left).
 */
static int pump(int from, int to) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) {
    return errno == EAGAIN || errno == EINTR ? -1 : 0;
  }
  if (n == 0) {
    return 0;
  }
  for (ssize_t done = 0; done < n;) {
    ssize_t w = write(to, buf + done, (size_t)(n - done));
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w < 0) {
      log_line("write: %s", strerror(errno));
      break;
    }
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
      if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fail("criu restore failed (%s %d); see %s/restore.log", WIFEXITED(st) ? "exit" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), run_dir);
      }
      learn_root();
      record(RUN_RUNNING, NULL);
      report("started %d %d\n", (int)run.root_pid, (int)root_pid);
    } else if (pid == root_pid) {
      root_stage.done = 1;
      root_stage.wstatus = st;
      root_stage.ended_at = now_ms();
      run.ended_at = root_stage.ended_at;
    }
    /* Else: an orphan of the job, reparented to us as subreaper. */
  }
}

/*
 * Job control. The keeper leads a session whose controlling terminal is the
 * pty it made, and the restored job is part of that session: a shell in the
 * job keeps doing job control on it (its foreground process group, SIGTTOU
 * for a background write, SIGTSTP from a typed ^Z), as it did in its old
 * terminal. So a signal for the job goes where a terminal would send it, to
 * the terminal's foreground process group (the command the shell is
 * waiting for), and also to the restored root (the shell itself, which is not
 * in that group while a command runs).
 */
static void forward(int master, int sig) {
  pid_t fg = tcgetpgrp(master);
  if (fg > 0) {
    kill(-fg, sig);
  }
  if (root_pid && !root_stage.done) {
    kill(root_pid, sig);
  }
}

/* Signals, terminal output and typed input, until criu is done and the root ended. */
static void serve(int sig_fd, int input, int master, int out) {
  int master_open = 1;
  while (!root_stage.done || criu_pid) {
    struct pollfd fds[3] = {
        {sig_fd, POLLIN, 0}, {input, POLLIN, 0}, {master_open ? master : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      continue; /* EINTR, e.g. around a checkpoint or restore */
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      master_open = pump(master, out) != 0;
    }
    if (fds[1].revents & POLLIN) {
      pump(input, master);
    }
    if (!(fds[0].revents & POLLIN)) {
      continue;
    }
    struct signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
      if ((int)si.ssi_signo == SIGCHLD) {
        reap();
      } else {
        forward(master, (int)si.ssi_signo);
      }
    }
    if (root_stage.done) {
      reap();
    }
  }
  /* The last output: what the job wrote just before it ended. */
  fcntl(master, F_SETFL, O_NONBLOCK);
  while (master_open && pump(master, out) > 0) {
  }
}

/*
 * Closes every descriptor above 2; then RUNDIR becomes RUN_DIR_FD, stdout
 * the report fd, 0 /dev/null, 1 and 2 RUNDIR/launcher.log.
 */
static int take_descriptors(void) {
  syscall(SYS_close_range, 3U, ~0U, 0);
  int dir_fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return -1;
  }
  if (dir_fd != RUN_DIR_FD) {
    /* 0-2 were closed: the directory took one of them. */
    if (dup3(dir_fd, RUN_DIR_FD, O_CLOEXEC) < 0) {
      return -1;
    }
    close(dir_fd);
  }
  report_fd = fcntl(1, F_DUPFD_CLOEXEC, RUN_DIR_FD + 1);
  int null_fd = open("/dev/null", O_RDWR);
  int log_fd = openat(RUN_DIR_FD, "launcher.log", O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd < 0 || log_fd < 0) {
    return -1;
  }
  dup2(null_fd, 0);
  dup2(log_fd, 1);
  dup2(log_fd, 2);
  close(null_fd);
  close(log_fd);
  return 0;
}

/* Blocks the handled signals and returns a signalfd that delivers them. */
static int signal_fd(void) {
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
  sigset_t handled;
  sigemptyset(&handled);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
    sigaddset(&handled, forwarded[i]);
  }
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  int fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    fail("signalfd: %s", strerror(errno));
  }
  return fd;
}

/*
 * A new session whose controlling terminal is a fresh pty (see forward() for
 * what that means for job control); returns the master, the slave in *slave.
 */
static int open_terminal(const struct winsize *ws, int *slave) {
  if (setsid() < 0 && getsid(0) != getpid()) {
    fail("setsid: %s (start the keeper detached)", strerror(errno));
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
    fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  }
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) || unlockpt(master)) {
    fail("cannot open a pty: %s", strerror(errno));
  }
  const char *slave_name = ptsname(master);
  *slave = slave_name ? open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  if (*slave < 0) {
    fail("cannot open the pty slave: %s", strerror(errno));
  }
  if (ioctl(*slave, TIOCSCTTY, 0)) {
    fail("TIOCSCTTY: %s", strerror(errno));
  }
  if (ws->ws_col && ws->ws_row) {
    ioctl(master, TIOCSWINSZ, ws);
  }
  return master;
}

/* RUNDIR/input: read-write, so the FIFO never reports EOF between two writers. */
static int open_input(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/input", run_dir);
  if (mkfifo(path, 0600) && errno != EEXIST) {
    fail("mkfifo %s: %s", path, strerror(errno));
  }
  int input = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (input < 0) {
    fail("cannot open %s: %s", path, strerror(errno));
  }
  return input;
}

int keeper_main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: cryopipe-launch --keep RUNDIR IMAGES LOG CRIU COLS ROWS\n");
    return EXIT_LAUNCHER;
  }
  run_dir = argv[2];
  const char *images = argv[3];
  const char *log_path = argv[4];
  const char *criu = argv[5];
  struct winsize ws = {.ws_col = (unsigned short)atoi(argv[6]),
                       .ws_row = (unsigned short)atoi(argv[7])};
  if (take_descriptors()) {
    return EXIT_LAUNCHER;
  }
  for (int sig = 1; sig < NSIG; sig++) {
    signal(sig, SIG_DFL);
  }
  run.root_pid = getpid();
  run.launcher_pid = run.root_pid;
  run.started_at = now_ms();
  root_stage.started_at = run.started_at;

  int sig_fd = signal_fd();
  int slave;
  int master = open_terminal(&ws, &slave);
  int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) {
    fail("cannot open %s: %s", log_path, strerror(errno));
  }
  int input = open_input();
  if (chdir("/")) {
    fail("chdir /: %s", strerror(errno));
  }
  record(RUN_RUNNING, NULL);
  criu_pid = start_criu(criu, images, slave);
  close(slave); /* the job holds it now; the session keeps it as controlling terminal */
  serve(sig_fd, input, master, out);
  record(RUN_EXITED, NULL);
  exit(root_exit_code());
}

/*
 * The status writer shared by the launcher and the keeper (see status.h).
 * The JSON is built in one growing buffer, then written with one write(2).
 */
#define _GNU_SOURCE
#include "status.h"

#include "compiler.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {"running", "exited", "failed"};
static const char *const mode_names[] = {"plain", "pidns"};
static const char *const phase_names[] = {"exec", "cwd", "open", "dup"};

/* The JSON text under construction; kept between writes, so it grows only once. */
static char *text;
static size_t text_len;
static size_t text_cap;
/* Set when the buffer could not grow: the write is refused rather than truncated. */
static int text_broken;

long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *exec_phase_name(enum exec_phase phase) {
  return phase_names[phase];
}

PRINTF_LIKE(1, 2) static void put(const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text ? text + text_len : NULL, text ? text_cap - text_len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      text_broken = 1;
      return;
    }
    if (text && text_len + (size_t)n < text_cap) {
      text_len += (size_t)n;
      return;
    }
    size_t cap = (text_cap ? text_cap * 2 : 4096) + (size_t)n;
    char *grown = realloc(text, cap);
    if (!grown) {
      text_broken = 1;
      return;
    }
    text = grown;
    text_cap = cap;
  }
}

static void put_string(const char *s) {
  put("\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      put("\\%c", *p);
    else if (*p < 0x20)
      put("\\u%04x", *p);
    else
      put("%c", *p);
  }
  put("\"");
}

/* `,"key":value`, or `,"key":null` when the value is not there. */
static void put_number(const char *key, long long value, int present) {
  if (present)
    put(",\"%s\":%lld", key, value);
  else
    put(",\"%s\":null", key);
}

static void put_stage(int index, const struct stage_status *s) {
  int exited = s->done && WIFEXITED(s->wstatus);
  int signaled = s->done && WIFSIGNALED(s->wstatus);
  put("%s{\"index\":%d", index ? "," : "", index);
  put(",\"pid\":%d,\"hostPid\":%d,\"argv\":[", (int)s->pid, (int)s->host_pid);
  for (int a = 0; a < s->argc; a++) {
    if (a)
      put(",");
    put_string(s->argv[a]);
  }
  put("]");
  put_number("startedAt", s->started_at, s->started_at > 0);
  put_number("endedAt", s->ended_at, s->done);
  put_number("exitCode", exited ? WEXITSTATUS(s->wstatus) : 0, exited);
  put_number("signal", signaled ? WTERMSIG(s->wstatus) : 0, signaled);
  put_number("execErrno", s->exec_errno, s->exec_errno > 0);
  if (s->exec_errno > 0)
    put(",\"execPhase\":\"%s\"", exec_phase_name(s->exec_phase));
  put("}");
}

static void put_status(const struct run_status *st) {
  put("{\"version\":1,\"state\":\"%s\"", state_names[st->state]);
  put(",\"mode\":\"%s\"", mode_names[st->mode]);
  put(",\"rootPid\":%d,\"launcherPid\":%d", (int)st->root_pid, (int)st->launcher_pid);
  put_number("startedAt", st->started_at, 1);
  put_number("endedAt", st->ended_at, st->ended_at > 0);
  put_number("exitCode", st->exit_code, st->exit_code >= 0);
  if (st->error) {
    put(",\"error\":");
    put_string(st->error);
  }
  put(",\"stages\":[");
  for (int i = 0; i < st->nstages; i++)
    put_stage(i, &st->stages[i]);
  put("]}\n");
}

int status_write(int dir_fd, const struct run_status *status) {
  text_len = 0;
  text_broken = 0;
  put_status(status);
  if (text_broken) {
    errno = ENOMEM;
    return -1;
  }
  int fd = openat(dir_fd, "status.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  ssize_t written = write(fd, text, text_len);
  int write_errno = errno;
  close(fd);
  if (written != (ssize_t)text_len) {
    errno = written < 0 ? write_errno : EIO;
    return -1;
  }
  return renameat(dir_fd, "status.tmp", dir_fd, "status");
}

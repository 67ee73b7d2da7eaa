/*
 * seqpacket.c: the few socket calls CRIU's RPC needs and Node lacks.
 *
 * CRIU speaks protobuf over AF_UNIX SOCK_SEQPACKET (`criu swrk <fd>` and the
 * `criu service` socket). Node's net.Socket refuses such a descriptor, and
 * forcing it truncates messages, so this addon provides:
 *   socketpair()            -> [ours, theirs]  (theirs goes to `criu swrk`)
 *   connect(path)           -> fd              (a `criu service` socket)
 *   send(fd, buf)           -> bytes           (one whole message)
 *   new Reader(fd, cb)      cb(err, buf, fds)  per message; buf null at EOF
 *     .start() .stop() .close()
 *   close(fd)
 *   seek(fd, offset)        -> offset          (lseek SEEK_SET: an inherit-fd
 *                                              descriptor goes to criu as it is)
 *   probeBreakpoints(ms)    -> "works" | "broken" | "unsupported"
 *
 * Messages are received at their exact size (MSG_PEEK|MSG_TRUNC tells it),
 * with any SCM_RIGHTS descriptors (CRIU passes the pty master of the
 * orphan-pts-master notify that way). Reading is driven by a libuv poll
 * handle on Node's own loop, so nothing blocks the event loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_PASSED_FDS 16

#define CHECK_NAPI(env, call)                                                  \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error((env), NULL, "N-API call failed: " #call);              \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* Throws an Error whose message names the call and errno, with .code set. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  napi_value error, code, text;
  snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, error, "errno", code);
  napi_throw(env, error);
  return NULL;
}

static int get_int_arg(napi_env env, napi_callback_info info, size_t index,
                       int32_t *out) {
  size_t argc = 4;
  napi_value argv[4];
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok ||
      index >= argc || napi_typeof(env, argv[index], &type) != napi_ok ||
      type != napi_number) {
    napi_throw_type_error(env, NULL, "expected a number argument");
    return -1;
  }
  napi_get_value_int32(env, argv[index], out);
  return 0;
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int fds[2];
  napi_value result, value;
  (void)info;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
    return throw_errno(env, "socketpair(AF_UNIX, SOCK_SEQPACKET)", errno);
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &result));
  for (uint32_t i = 0; i < 2; i++) {
    CHECK_NAPI(env, napi_create_int32(env, fds[i], &value));
    CHECK_NAPI(env, napi_set_element(env, result, i, value));
  }
  return result;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], result;
  struct sockaddr_un addr;
  int fd;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], addr.sun_path,
                                             sizeof(addr.sun_path),
                                             &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "connect(path): path must be a string");
    return NULL;
  }
  if (len >= sizeof(addr.sun_path) - 1) {
    napi_throw_range_error(env, NULL, "socket path is too long for AF_UNIX");
    return NULL;
  }
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return throw_errno(env, "socket(AF_UNIX, SOCK_SEQPACKET)", errno);
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "connect", err);
  }
  CHECK_NAPI(env, napi_create_int32(env, fd, &result));
  return result;
}

/* Sends one message. Requests are small and criu reads them at once, so a
 * blocking send (retried on EINTR) is simpler than queueing writes. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2], result;
  void *data = NULL;
  int32_t fd;
  ssize_t n;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(fd, buffer): bad arguments");
    return NULL;
  }
  do {
    n = send(fd, data, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return throw_errno(env, "send", errno);
  CHECK_NAPI(env, napi_create_int64(env, (int64_t)n, &result));
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (get_int_arg(env, info, 0, &fd) < 0)
    return NULL;
  if (close(fd) < 0 && errno != EINTR)
    return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value js_seek(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2], result;
  int32_t fd;
  int64_t offset;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, args[0], &fd) != napi_ok ||
      napi_get_value_int64(env, args[1], &offset) != napi_ok || offset < 0) {
    napi_throw_type_error(env, NULL, "seek(fd, offset) needs an fd and an offset >= 0");
    return NULL;
  }
  off_t at = lseek(fd, (off_t)offset, SEEK_SET);
  if (at < 0)
    return throw_errno(env, "lseek", errno);
  CHECK_NAPI(env, napi_create_int64(env, (int64_t)at, &result));
  return result;
}

/* ---- Reader: one uv_poll handle delivering whole messages to a callback. */

typedef struct reader {
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async;
  uv_poll_t poll;
  int fd;
  int started;
  int closed;        /* JS closed it (or GC did): the poll handle is closing */
  int handle_closed; /* libuv finished closing the poll handle */
  int finalized;     /* the JS wrapper was garbage-collected */
} reader_t;

/* Receives one message at its exact size. Returns bytes (0 at EOF) or -1. */
static ssize_t recv_message(int fd, char **out, int *fds, int *nfds) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  struct iovec iov;
  struct cmsghdr *cmsg;
  ssize_t size, got;
  char *buffer;

  *out = NULL;
  *nfds = 0;
  do {
    size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  } while (size < 0 && errno == EINTR);
  if (size <= 0)
    return size;
  buffer = malloc((size_t)size);
  if (buffer == NULL) {
    errno = ENOMEM;
    return -1;
  }
  memset(&msg, 0, sizeof(msg));
  iov.iov_base = buffer;
  iov.iov_len = (size_t)size;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  do {
    got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    free(buffer);
    return -1;
  }
  for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count && *nfds < MAX_PASSED_FDS; i++)
      memcpy(&fds[(*nfds)++], CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
  }
  *out = buffer;
  return got;
}

static void finalize_buffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void reader_deliver(reader_t *r, int err, char *data, ssize_t size,
                           const int *fds, int nfds) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[3], result, value;

  napi_open_handle_scope(env, &scope);
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &recv);
  if (err != 0) {
    char msg[160];
    napi_value text, code;
    snprintf(msg, sizeof(msg), "recv from CRIU socket: %s", strerror(err));
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &argv[0]);
    napi_create_int32(env, err, &code);
    napi_set_named_property(env, argv[0], "errno", code);
    napi_get_null(env, &argv[1]);
  } else {
    napi_get_null(env, &argv[0]);
    if (data == NULL) {
      napi_get_null(env, &argv[1]); /* EOF: criu closed its end */
    } else if (napi_create_external_buffer(env, (size_t)size, data,
                                           finalize_buffer, NULL,
                                           &argv[1]) != napi_ok) {
      /* External buffers may be disallowed (e.g. sandboxed builds): copy. */
      void *copy;
      napi_create_buffer_copy(env, (size_t)size, data, &copy, &argv[1]);
      free(data);
    }
  }
  napi_create_array_with_length(env, (size_t)nfds, &argv[2]);
  for (int i = 0; i < nfds; i++) {
    napi_create_int32(env, fds[i], &value);
    napi_set_element(env, argv[2], (uint32_t)i, value);
  }
  napi_make_callback(env, r->async, recv, cb, 3, argv, &result);
  napi_close_handle_scope(env, scope);
}

static void reader_on_poll(uv_poll_t *handle, int status, int events) {
  reader_t *r = handle->data;
  (void)events;
  if (status < 0) {
    uv_poll_stop(&r->poll);
    r->started = 0;
    reader_deliver(r, -status, NULL, 0, NULL, 0);
    return;
  }
  /* Drain every queued message; stop early if JS stopped or closed us. */
  while (r->started && !r->closed) {
    int fds[MAX_PASSED_FDS], nfds = 0;
    char *data = NULL;
    ssize_t n = recv_message(r->fd, &data, fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      uv_poll_stop(&r->poll);
      r->started = 0;
      reader_deliver(r, err, NULL, 0, NULL, 0);
      return;
    }
    reader_deliver(r, 0, data, n, fds, nfds);
  }
}

/* The struct is freed once both libuv and the GC are done with it. */
static void reader_on_closed(uv_handle_t *handle) {
  reader_t *r = handle->data;
  r->handle_closed = 1;
  if (r->finalized)
    free(r);
}

static void reader_release(reader_t *r) {
  if (r->closed)
    return;
  r->closed = 1;
  r->started = 0;
  napi_delete_reference(r->env, r->callback);
  napi_async_destroy(r->env, r->async);
  uv_close((uv_handle_t *)&r->poll, reader_on_closed);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  reader_t *r = data;
  (void)env;
  (void)hint;
  r->finalized = 1;
  if (!r->closed)
    reader_release(r);
  else if (r->handle_closed)
    free(r);
}

static napi_value reader_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, name;
  napi_valuetype type;
  uv_loop_t *loop;
  reader_t *r;
  int32_t fd;
  int rc;

  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "new Reader(fd, callback): bad arguments");
    return NULL;
  }
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
    return throw_errno(env, "fcntl(O_NONBLOCK)", errno);
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return throw_errno(env, "calloc", ENOMEM);
  r->env = env;
  r->fd = fd;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
  rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) {
    free(r);
    return throw_errno(env, "uv_poll_init", -rc);
  }
  r->poll.data = r;
  CHECK_NAPI(env, napi_create_reference(env, argv[1], 1, &r->callback));
  CHECK_NAPI(env, napi_create_string_utf8(env, "CriuSocketRead",
                                          NAPI_AUTO_LENGTH, &name));
  CHECK_NAPI(env, napi_async_init(env, NULL, name, &r->async));
  CHECK_NAPI(env, napi_wrap(env, self, r, reader_finalize, NULL, NULL));
  return self;
}

static reader_t *reader_unwrap(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, NULL, "Reader: not a Reader");
    return NULL;
  }
  return data;
}

/* Starting keeps the Node process alive until the reader is stopped. */
static napi_value reader_start(napi_env env, napi_callback_info info) {
  reader_t *r = reader_unwrap(env, info);
  int rc;
  if (r == NULL)
    return NULL;
  if (r->closed) {
    napi_throw_error(env, NULL, "Reader: already closed");
    return NULL;
  }
  if (r->started)
    return NULL;
  rc = uv_poll_start(&r->poll, UV_READABLE | UV_DISCONNECT, reader_on_poll);
  if (rc < 0)
    return throw_errno(env, "uv_poll_start", -rc);
  r->started = 1;
  return NULL;
}

static napi_value reader_stop(napi_env env, napi_callback_info info) {
  reader_t *r = reader_unwrap(env, info);
  if (r == NULL || r->closed || !r->started)
    return NULL;
  uv_poll_stop(&r->poll);
  r->started = 0;
  return NULL;
}

/* Stops polling; the descriptor itself stays open (close it separately). */
static napi_value reader_close(napi_env env, napi_callback_info info) {
  reader_t *r = reader_unwrap(env, info);
  if (r != NULL)
    reader_release(r);
  return NULL;
}

/* ---- Hardware breakpoint probe. */

#if defined(__x86_64__)
static void probe_target(void) {
  /* Reached only when the breakpoint on this function did not trap. */
  raise(SIGSTOP);
  _exit(0);
}

static long debugreg_offset(int n) {
  return (long)(offsetof(struct user, u_debugreg) + (size_t)n * sizeof(long));
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the child to change state, giving up after deadline. Returns
 * 1 with *status set, 0 on timeout, -1 on error. */
static int wait_until(pid_t pid, int *status, int64_t deadline) {
  for (;;) {
    pid_t got = waitpid(pid, status, WNOHANG | __WALL);
    if (got == pid)
      return 1;
    if (got < 0 && errno != EINTR)
      return -1;
    if (now_ms() >= deadline)
      return 0;
    struct timespec pause = {0, 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}

/* Forks a child that stops itself; sets an execute breakpoint (DR0, enabled
 * locally in DR7) on probe_target and lets it run into it. A SIGTRAP means
 * debug registers work; a SIGSTOP from probe_target, an exit or a timeout
 * means they do not (CRIU < 4.2 would then hang during dump). */
static const char *probe_breakpoints(int timeout_ms, int *err) {
  int status = 0, waited;
  const char *verdict = "broken";
  int64_t deadline = now_ms() + timeout_ms;
  pid_t pid = fork();
  if (pid < 0) {
    *err = errno;
    return NULL;
  }
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
      _exit(2);
    raise(SIGSTOP);
    probe_target();
    _exit(0);
  }
  waited = wait_until(pid, &status, deadline);
  if (waited <= 0 || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
    *err = waited < 0 ? errno : ECHILD;
    verdict = NULL;
    goto out;
  }
  if (ptrace(PTRACE_POKEUSER, pid, (void *)debugreg_offset(0),
             (void *)(uintptr_t)probe_target) < 0 ||
      ptrace(PTRACE_POKEUSER, pid, (void *)debugreg_offset(7), (void *)1L) < 0) {
    verdict = "broken"; /* the kernel refuses debug registers here */
    goto out;
  }
  if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0) {
    *err = errno;
    verdict = NULL;
    goto out;
  }
  waited = wait_until(pid, &status, deadline);
  if (waited == 1 && WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP)
    verdict = "works";
out:
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
    ;
  return verdict;
}
#endif

static napi_value js_probe_breakpoints(napi_env env, napi_callback_info info) {
  int32_t timeout_ms;
  napi_value result;
  const char *verdict = "unsupported";
  if (get_int_arg(env, info, 0, &timeout_ms) < 0)
    return NULL;
#if defined(__x86_64__)
  int err = 0;
  verdict = probe_breakpoints(timeout_ms, &err);
  if (verdict == NULL)
    return throw_errno(env, "hardware breakpoint probe", err);
#else
  (void)timeout_ms;
#endif
  CHECK_NAPI(env, napi_create_string_utf8(env, verdict, NAPI_AUTO_LENGTH, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"seek", NULL, js_seek, NULL, NULL, NULL, napi_default, NULL},
      {"probeBreakpoints", NULL, js_probe_breakpoints, NULL, NULL, NULL,
       napi_default, NULL},
  };
  napi_property_descriptor methods[] = {
      {"start", NULL, reader_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, reader_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, reader_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value reader_class;
  CHECK_NAPI(env, napi_define_properties(env, exports,
                                         sizeof(functions) / sizeof(functions[0]),
                                         functions));
  CHECK_NAPI(env, napi_define_class(env, "Reader", NAPI_AUTO_LENGTH, reader_new,
                                    NULL, sizeof(methods) / sizeof(methods[0]),
                                    methods, &reader_class));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "Reader", reader_class));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

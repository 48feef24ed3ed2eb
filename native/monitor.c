/*
 * The monitor of a detached container. flux starts the helper as `flux-helper monitor CTL DIR
 * EVENTS ID NAME LOGMAX TIMEOUT STOPSIG N END… PLAN…` and leaves once the command runs; the
 * helper's supervising process (the parent of the container's init) then holds the container
 * by itself, in about a megabyte instead of a Node process:
 *   - the command's stdout and stderr are two pipes it reads in one poll loop (stdout first, so
 *     a line written to stdout before one to stderr stays before it), written to DIR/log as
 *     container-log.ts writes it: one JSON line {"t","s","l"} per line, rotated to log.1 past
 *     LOGMAX bytes;
 *   - it keeps slirp4netns (whose exit fd it holds) and so the port forwards;
 *   - the signals of `flux stop` and `flux kill` reach it and go on to init (SIGALRM: kill
 *     every process), as in a foreground run;
 *   - --timeout TIMEOUT: STOPSIG, then SIGKILL 10 s later, status 124 (as run-timeout.ts);
 *     STOPSIG 0 is the image's StopSignal, which flux knows only once it has read the image,
 *     after this argv was fixed: it writes its number to DIR/stop-signal before the command
 *     runs (none there: SIGTERM);
 *   - at the end it writes DIR/exit {"exitCode","finishedAt"}, which container-state.ts reads
 *     over state.json, and appends the `exited` event to EVENTS (container-events.ts's format);
 *     then, when flux has work left for the end (DIR/ended.json: --rm, a user network to
 *     leave, a socket to remove), it has END run (start_ender).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "monitor.h"

int monitoring;

static const char *dir, *events, *ident, *name;
static unsigned long long log_max;
static long timeout_sec;
static int stop_sig;
static char **end_argv;

/* Read ends (ours) and write ends (the command's) of stdout and stderr. */
static int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
static int timed_out;
/* Our end of the pipe to the ender (see start_ender). */
static int ender = -1;

static void ignore(int s) { (void)s; }

static long number(const char *t, long max)
{
  char *end;
  long v = strtol(t, &end, 10);
  return *t && !*end && v >= 0 && v <= max ? v : -1;
}

/*
 * The container's end runs flux in the host's namespaces, which we leave for the container's
 * (its user namespace cannot be left again): a child forked before that waits on a pipe, and
 * execs END when it reads E from it. At the pipe's end without an E (we ended without flux's
 * K, or were killed) it just exits. It holds nothing else of ours.
 */
static void start_ender(void)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]), close(p[1]);
    return;
  }
  if (pid == 0) {
    char c = 0;
    ssize_t r;
    if (dup2(p[0], 3) < 0)
      _exit(0);
    syscall(SYS_close_range, 4, ~0U, 0);
    while ((r = read(3, &c, 1)) < 0 && errno == EINTR)
      ;
    if (r != 1 || c != 'E')
      _exit(0);
    close(3);
    execv(end_argv[0], end_argv);
    perror("flux-helper monitor: exec");
    _exit(127);
  }
  close(p[0]);
  ender = p[1];
}

int monitor_args(int argc, char **argv)
{
  if (argc < 8)
    return -1;
  dir = argv[0];
  events = argv[1];
  ident = argv[2];
  name = argv[3];
  long max = number(argv[4], 1L << 40), secs = number(argv[5], 1L << 30), sig = number(argv[6], 64), n = number(argv[7], 64);
  if (max < 4096 || secs < 0 || sig < 0 || n < 0 || argc < 8 + n)
    return -1;
  log_max = (unsigned long long)max;
  timeout_sec = secs;
  stop_sig = (int)sig;
  if (n > 0) {
    end_argv = calloc((size_t)n + 1, sizeof *end_argv);
    if (!end_argv)
      return -1;
    memcpy(end_argv, argv + 8, (size_t)n * sizeof *end_argv);
  }
  monitoring = 1;
  /*
   * flux goes once the command runs: a record to it then must not end us. A handler, not
   * SIG_IGN: ignored signals would stay ignored in the command across its exec.
   */
  struct sigaction sa = { .sa_handler = ignore };
  sigaction(SIGPIPE, &sa, NULL);
  if (end_argv)
    start_ender();
  return 8 + (int)n;
}

void monitor_pipes(void)
{
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
    perror("flux-helper monitor: pipe");
    _exit(125);
  }
  out_r = o[0], out_w = o[1], err_r = e[0], err_w = e[1];
}

void monitor_child_stdio(void)
{
  if (!monitoring)
    return;
  if (dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
    _exit(125);
  close(out_r), close(out_w), close(err_r), close(err_w);
}

static void path_in_dir(char *buf, size_t cap, const char *file)
{
  snprintf(buf, cap, "%s/%s", dir, file);
}

/* STOPSIG 0: the number flux wrote to DIR/stop-signal, else SIGTERM. */
static int image_stop_signal(void)
{
  char path[4096], text[16];
  path_in_dir(path, sizeof path, "stop-signal");
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return SIGTERM;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  text[n > 0 ? n : 0] = 0;
  long v = number(text, 64);
  return v >= 1 ? (int)v : SIGTERM;
}

/* ---------- the output ---------- */

struct stream {
  const char *name;
  int *fd;
  unsigned char buf[LINE_MAX_BYTES];
  size_t len;
};

static struct stream out_stream = { "stdout", &out_r, { 0 }, 0 };
static struct stream err_stream = { "stderr", &err_r, { 0 }, 0 };

/* Splits what came into lines; a line longer than the buffer is cut (as docker cuts at 16 KiB). */
static void take(struct stream *st, const unsigned char *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (b[i] == '\n') {
      monitor_log_line(st->name, st->buf, st->len);
      st->len = 0;
      continue;
    }
    if (st->len == sizeof st->buf) {
      monitor_log_line(st->name, st->buf, st->len);
      st->len = 0;
    }
    st->buf[st->len++] = b[i];
  }
}

/* One read of a stream (non-blocking); 0 at its end or when empty. */
static int pump(struct stream *st)
{
  unsigned char b[65536];
  if (*st->fd < 0)
    return 0;
  ssize_t r = read(*st->fd, b, sizeof b);
  if (r > 0) {
    take(st, b, (size_t)r);
    return 1;
  }
  if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
    close(*st->fd);
    *st->fd = -1;
  }
  return 0;
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ssize_t monitor_relay(int report, unsigned char *status, pid_t init)
{
  close(out_w), close(err_w);
  out_w = err_w = -1;
  fcntl(out_r, F_SETFL, O_NONBLOCK);
  fcntl(err_r, F_SETFL, O_NONBLOCK);
  monitor_log_open(dir, log_max);
  long long deadline = timeout_sec > 0 ? now_ms() + timeout_sec * 1000LL : -1;
  ssize_t got;
  for (;;) {
    struct pollfd fds[3] = { { report, POLLIN, 0 }, { out_r, POLLIN, 0 }, { err_r, POLLIN, 0 } };
    int wait = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      wait = left > 0 ? (int)(left < 0x7fffffff ? left : 0x7fffffff) : 0;
    }
    int n = poll(fds, 3, wait);
    if (n < 0 && errno != EINTR)
      return read(report, status, 1);
    if (n == 0 && deadline >= 0) {
      /* --timeout: the stop signal first, SIGKILL of every process 10 s later. */
      kill(init, timed_out ? SIGKILL : stop_sig ? stop_sig : image_stop_signal());
      deadline = timed_out ? -1 : now_ms() + 10000;
      timed_out = 1;
      continue;
    }
    if (n <= 0)
      continue;
    if (fds[1].revents)
      pump(&out_stream);
    if (fds[2].revents)
      pump(&err_stream);
    if (fds[0].revents) {
      while ((got = read(report, status, 1)) < 0 && errno == EINTR)
        ;
      break;
    }
  }
  /* Nothing of the container writes any more: what the pipes hold is the rest of the output. */
  while (pump(&out_stream))
    ;
  while (pump(&err_stream))
    ;
  if (out_stream.len)
    monitor_log_line("stdout", out_stream.buf, out_stream.len);
  if (err_stream.len)
    monitor_log_line("stderr", err_stream.buf, err_stream.len);
  out_stream.len = err_stream.len = 0;
  return got;
}

int monitor_code(int code)
{
  return monitoring && timed_out ? 124 : code;
}

/* ---------- the end ---------- */

static void write_exit(int code)
{
  char path[4096], tmp[4096], t[96], text[192];
  path_in_dir(path, sizeof path, "exit");
  path_in_dir(tmp, sizeof tmp, ".exit.tmp");
  monitor_iso_now(t);
  int n = snprintf(text, sizeof text, "{\"exitCode\":%d,\"finishedAt\":\"%s\"}\n", code, t);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  monitor_write_all(fd, text, (size_t)n);
  close(fd);
  rename(tmp, path);
}

static void record_exited(int code)
{
  char t[96], line[1024], esc_name[6 * 256 + 1];
  struct stat st;
  /* Past 1 MiB the events start over, one older part kept (container-events.ts). */
  if (stat(events, &st) == 0 && st.st_size > 1024 * 1024) {
    char old[4096];
    snprintf(old, sizeof old, "%s.1", events);
    rename(events, old);
  }
  size_t nlen = strlen(name);
  monitor_json_escape(esc_name, (const unsigned char *)name, nlen < 256 ? nlen : 256);
  monitor_iso_now(t);
  int n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"id\":\"%s\",\"name\":\"%s\",\"event\":\"exited\",\"exitCode\":%d}\n", t, ident, esc_name, code);
  int fd = open(events, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || n <= 0 || (size_t)n >= sizeof line)
    return;
  monitor_write_all(fd, line, (size_t)n);
  close(fd);
}

int monitor_finish(int code, int ctl)
{
  monitor_log_close();
  /*
   * flux says K once it has recorded the container as running, then lets go; a container that
   * never started is the starting flux's to report and remove, and it lets go without a word.
   */
  char c = 0;
  ssize_t r;
  while (ctl >= 0 && ((r = read(ctl, &c, 1)) == 1 ? c != 'K' : r < 0 && errno == EINTR))
    ;
  if (c != 'K')
    return code;
  write_exit(code);
  record_exited(code);
  char work[4096];
  path_in_dir(work, sizeof work, "ended.json");
  if (ender >= 0 && access(work, F_OK) == 0)
    monitor_write_all(ender, "E", 1);
  return code;
}

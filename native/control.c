/*
 * The control socket with Node: the records the helper writes (one a line, strings escaped; the
 * table is in flux-helper.h), Node's go or abort, and the refusal that ends a failed step.
 */
#include "flux-helper.h"

void lap(const char *label)
{
  if (state.timing_origin < 0)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  dprintf(2, "flux: timing: helper %s %.1f ms\n", label, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 - state.timing_origin);
}

/*
 * Appends S to a record, escaped so that no string can end the record or split its fields: an
 * image's Entrypoint or WorkingDir holding "\nC0" must not read as a record of its own. Control
 * characters and the backslash become \n \t \r \\ or \xHH; Node's parseRecord undoes this.
 */
static size_t put_escaped(char *buf, size_t at, size_t cap, const char *s)
{
  if (!s)
    s = "";
  for (; *s && at + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\n' || c == '\t' || c == '\r' || c == '\\') {
      buf[at++] = '\\';
      buf[at++] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\';
    } else if (c < 0x20 || c == 0x7f) {
      at += (size_t)snprintf(buf + at, cap - at, "\\x%02x", c);
    } else {
      buf[at++] = (char)c;
    }
  }
  return at;
}

/*
 * One record to Node, a line. Only %s, %d, %ld, %u and %% are known; every %s argument is
 * escaped (put_escaped), so the record's own tabs and newline are the only ones in it.
 */
__attribute__((format(printf, 1, 2))) void ctl_write(const char *fmt, ...)
{
  char buf[4 * PATH_MAX + 256];
  size_t at = 0, cap = sizeof buf;
  va_list ap;
  va_start(ap, fmt);
  for (const char *f = fmt; *f && at + 24 < cap; f++) {
    if (*f != '%') {
      buf[at++] = *f;
      continue;
    }
    f++;
    if (*f == 's')
      at = put_escaped(buf, at, cap - 24, va_arg(ap, const char *));
    else if (*f == 'd')
      at += (size_t)snprintf(buf + at, cap - at, "%d", va_arg(ap, int));
    else if (*f == 'u')
      at += (size_t)snprintf(buf + at, cap - at, "%u", va_arg(ap, unsigned));
    else if (f[0] == 'l' && f[1] == 'd')
      at += (size_t)snprintf(buf + at, cap - at, "%ld", va_arg(ap, long)), f++;
    else if (*f == '%')
      buf[at++] = '%';
    else
      break; /* not a format this writer knows: the record ends here */
  }
  va_end(ap);
  /* A record cut short (a path near PATH_MAX, all escaped) still ends its line. */
  if (at == 0 || buf[at - 1] != '\n')
    buf[at++] = '\n';
  if (state.ctl < 0)
    return;
  /* Best-effort: Node may already be gone, and then nobody needs the record. */
  ssize_t r = write(state.ctl, buf, at);
  (void)r;
}

#define FLUX_RECORD(letter, fields, meaning) { letter, fields, meaning },
const struct record RECORDS[] = { FLUX_RECORDS(FLUX_RECORD) };
#undef FLUX_RECORD
const size_t NRECORDS = sizeof RECORDS / sizeof *RECORDS;

/* Report (operation, errno, path) and stop: Node turns it into one sentence. */
_Noreturn void fail(const char *op, const char *path)
{
  int e = errno;
  ctl_write("E%s\t%d\t%s\n", op, e, path ? path : "");
  if (state.exec_report_fd >= 0)
    (void)!write(state.exec_report_fd, "x", 1);
  stop_net_helper();
#ifdef FLUX_FUZZ
  flux_fuzz_refused(); /* the plan fuzzer (native/fuzz) goes on with its next input */
#endif
  _exit(125);
}

/* Every allocation is checked: a helper short of memory says so and stops, never crashes. */
void *xcalloc(size_t n, size_t size)
{
  void *m = calloc(n ? n : 1, size ? size : 1);
  if (!m) {
    errno = ENOMEM;
    fail("allocate memory", "");
  }
#ifdef FLUX_FUZZ
  flux_fuzz_allocated(m);
#endif
  return m;
}

void *xmalloc(size_t size)
{
  return xcalloc(1, size);
}

/* Wait for Node's go ('G'); anything else means Node gave up. */
void await_go(void)
{
  char c = 0;
  for (;;) {
    ssize_t r = read(state.ctl, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != 1 || c != 'G')
      _exit(125); /* Node aborted or died: it has already said why. */
    break;
  }
  char nl;
  ssize_t r = read(state.ctl, &nl, 1);
  (void)r;
}

/* Tell Node the namespaces exist and wait while it writes the maps and wires the network. */
void handshake(void)
{
  ctl_write("R\n");
  await_go();
}

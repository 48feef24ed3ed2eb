/*
 * flux-helper: the small privileged-in-a-namespace half of flux.
 *
 * Node builds the sandbox as data (a plan) and this program only executes it, the way
 * bubblewrap separates its command line from its setup operations. It does only what a
 * multi-threaded Node process cannot do safely: unshare namespaces, mount, pivot_root,
 * drop capabilities and exec.
 *
 * Three modes:
 *   flux-helper userns CTLFD -- ARGV...   new user+mount namespace, wait for the id maps, exec ARGV as root there
 *   flux-helper run CTLFD PLAN...         run a container: PLAN names the namespaces, the rest comes on CTLFD
 *   flux-helper exec CTLFD PID PLAN...    run a command in the running container of process PID; PLAN is
 *                                         the process part of a container plan (cwd user caps nnp seccomp
 *                                         path env argv), all on the command line
 *
 * The plan comes in two parts. The first names the namespaces and id maps and comes as the
 * command line's arguments, so the helper starts on it at once: it creates the namespaces and
 * maps the ids (the slow part, two setuid helpers) while Node is still reading the image and
 * preparing the rest. The second describes the container (root, mounts, user, command) and
 * comes on CTLFD. End of input instead of it means Node gave up before the container was
 * ready (and says why itself): the helper leaves quietly.
 *
 * CTLFD is a socket shared with Node. Helper -> Node, one record per line:
 *   R                       namespaces exist: write the id maps (and wire the network), then say G
 *   K<kind>                 which rootfs kind was mounted (overlay, fuse, bind)
 *   E<op>\t<errno>\t<path>  a setup step failed; the helper exits 125
 *   X<errno>\t<cmd>         the command could not be executed; exit 127 or 126
 *   N                       the network helper we started is ready; the command starts now
 *   S                       the network helper we started went away: before it was ready (then
 *                           exit 125), or while the command ran (Node warns)
 *   P                       the command has started (its exec succeeded)
 *   C<status>               the command ended and nothing runs in the container any more; the
 *                           helper cleans up meanwhile
 *   D<status>               the run is over and cleaned up; the helper only exits after this
 * Strings in a record (a path, a command: image data) are escaped, \n \t \r \\ and \xHH, so
 * none can end a record or split its fields (put_escaped).
 * Node -> helper: "G\n" (go) or "A\n" (abort).
 *
 * Process tree of a run (rootless):
 *   node ─ helper (new user/mnt/uts/ipc/cgroup[/net] ns; makes the rootfs; supervises; cleans up)
 *            └─ init (pid 1 of a new pid ns; attaches the rootfs, mounts /proc, /dev…, pivots;
 *                     reaps, forwards signals; ends what the command left running)
 *                 └─ command
 * Every level dies with its parent (PR_SET_PDEATHSIG), so kill -9 of flux leaves no process.
 * SIGALRM to the helper ends the container at once: init, and with it every process of the
 * container, gets SIGKILL, and the helper cleans up as after any run (`docker stop`'s last step).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <linux/openat2.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "monitor.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int ctl = -1;
/* --preserve-fds: the fds passed on to the command as 3, 4, …, kept meanwhile from PRESERVED_AT up. */
#define PRESERVE_MAX 64
#define PRESERVED_AT 200
static int npreserved;
#ifdef FLUX_FUZZ
/* The plan fuzzer (native/fuzz): a refusal returns to it, and it frees what a plan allocated. */
_Noreturn void flux_fuzz_refused(void);
void flux_fuzz_allocated(void *m);
#endif
/* The ready fd of the network helper we started (start_net_helper): "1" once it is ready, EOF if it died. */
static int net_ready = -1;
/* Route changes of the new network namespace (watch_routes), or -1. */
static int net_routes = -1;

/* ---------- reporting ---------- */

/* FLUX_TIMING=1: Node passes the epoch ms of its own start, and each step is timed against it. */
static double timing_origin = -1;

static void lap(const char *label)
{
  if (timing_origin < 0)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  dprintf(2, "flux: timing: helper %s %.1f ms\n", label, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 - timing_origin);
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
__attribute__((format(printf, 1, 2))) static void ctl_write(const char *fmt, ...)
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
  if (ctl < 0)
    return;
  /* Best-effort: Node may already be gone, and then nobody needs the record. */
  ssize_t r = write(ctl, buf, at);
  (void)r;
}

static void stop_net_helper(void);

/* Report (operation, errno, path) and stop: Node turns it into one sentence. */
/* In the command's process until its exec: a byte here tells init the command did not start. */
static int exec_report_fd = -1;

static _Noreturn void fail(const char *op, const char *path)
{
  int e = errno;
  ctl_write("E%s\t%d\t%s\n", op, e, path ? path : "");
  if (exec_report_fd >= 0)
    (void)!write(exec_report_fd, "x", 1);
  stop_net_helper();
#ifdef FLUX_FUZZ
  flux_fuzz_refused(); /* the plan fuzzer (native/fuzz) goes on with its next input */
#endif
  _exit(125);
}

/* Every allocation is checked: a helper short of memory says so and stops, never crashes. */
static void *xcalloc(size_t n, size_t size)
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

static void *xmalloc(size_t size)
{
  return xcalloc(1, size);
}

/* ---------- the plan ---------- */

struct mount_op {
  const char *kind;  /* proc sysfs tmpfs devpts mqueue bind symlink mask ro */
  const char *a, *b, *c;
};

struct plan {
  int ns_flags;
  int userns;
  /* rootfs */
  const char *root;          /* host path of the new root */
  const char *rootfs_kind;   /* overlay | fuse | bind */
  const char *upper, *work, *bind_src;
  int userxattr;
  int nlower;
  const char **lower;
  const char *fuse_bin;      /* non-NULL: fuse-overlayfs is the fallback (or the choice) */
  const char *fuse_uidmap, *fuse_gidmap; /* --userns=keep-id: fuse-overlayfs's uidmapping/gidmapping */
  int fuse_only;
  struct mount_op *mounts;
  int nmounts;
  int readonly_root;
  const char *hostname;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  int ngroups;
  gid_t *groups;
  uint64_t caps;
  int all_caps;
  int nnp;
  int tty;
  int tty_stdin;
  unsigned short rows, cols;
  char **env;
  char **argv;
  const char *path;          /* PATH used to find argv[0] inside the container */
  const char *cleanup;       /* run dir removed when the run ends */
  /* id maps written by the helper itself: newuidmap/newgidmap argv, or a single-id map */
  char **uidmap_argv, **gidmap_argv;
  long single_uid, single_gid;
  int single_map;
  int wait_go;               /* Node has work to do (network, cgroup) before the command starts */
  int defer_go;              /* ...which concerns the command only (network): wait just before it starts */
  const char *tap;           /* a persistent tap device to create for the network helper */
  char **net_argv;           /* the network helper (slirp4netns) we start ourselves; "PID" is our pid */
  const char *run_dir;       /* the run dir whose upper/, work/ and root/ we make while Node reads the image */
  int seccomp;               /* load the default syscall filter */
  int nrlimits;              /* --ulimit: resource, soft and hard limit for the command */
  struct rlimit_op { int res; struct rlimit lim; } *rlimits;
  long join_pid;             /* >0: join this process's user and network namespaces (--network container:NAME) */
};

/* Far more than any plan needs (the kernel takes a command line of 2 MiB at most). */
#define PLAN_MAX (64u << 20)

static char *plan_buf;
static size_t plan_len, plan_pos;

static const char *tok(void)
{
  if (plan_pos >= plan_len) {
    errno = EINVAL;
    fail("plan", "truncated");
  }
  const char *t = plan_buf + plan_pos;
  plan_pos += strlen(t) + 1;
  return t;
}

/*
 * Numbers of the plan are checked in full: only decimal digits, no overflow, within [min, max].
 * Anything else (a sign, a space, 2^64, a count past the end of the plan) stops the helper.
 */
static unsigned long long plan_number(const char *t, int base, unsigned long long max, const char *what)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(t, &end, base);
  int digits = *t != '\0';
  for (const char *c = t; *c; c++)
    digits &= base == 16 ? !!strchr("0123456789abcdefABCDEF", *c) : (*c >= '0' && *c <= '9');
  if (!digits || *end != '\0' || errno || v > max) {
    errno = errno == ERANGE || (digits && v > max) ? ERANGE : EINVAL;
    fail(what, t);
  }
  return v;
}

static unsigned long long num(unsigned long long max)
{
  return plan_number(tok(), 10, max, "plan number");
}

/* A flag of the plan: 0 or 1. */
static int flag(void)
{
  return (int)num(1);
}

/* An id (uid, gid): up to 2^32 - 2, as (uid_t)-1 means "no change" to the kernel. */
static unsigned id(void)
{
  return (unsigned)num(UINT32_MAX - 1);
}

/*
 * A count of tokens that follow: each takes at least one byte (its NUL), so a count larger
 * than what is left of the plan is a lie, refused before it sizes an allocation.
 */
static size_t count(void)
{
  unsigned long long n = num(INT_MAX - 2);
  /* A last token without its NUL ends one past plan_len (the buffer's own NUL ends it). */
  size_t left = plan_pos < plan_len ? plan_len - plan_pos : 0;
  if (n > left) {
    errno = EINVAL;
    fail("plan count", "larger than the plan");
  }
  return (size_t)n;
}

/* COUNT tokens as a NULL-terminated vector (EXTRA more NULL slots for the caller). */
static char **tokens(size_t n, size_t extra)
{
  char **v = xcalloc(n + extra + 1, sizeof *v);
  for (size_t k = 0; k < n; k++)
    v[k] = (char *)tok();
  return v;
}

/* Reads exactly len bytes; end of input before the first byte is 0 when eof_ok, else a failure. */
static int read_full(int fd, char *buf, size_t len, int eof_ok)
{
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r == 0 && got == 0 && eof_ok)
      return 0;
    if (r <= 0) {
      if (r == 0)
        errno = EPIPE;
      fail("read plan", "");
    }
    got += (size_t)r;
  }
  return 1;
}

/* Operations of the first part of the plan; every other one belongs to the second. */
static int namespace_op(const char *op)
{
  static const char *const ops[] = { "ns", "maps", "single-map", "wait", "defer-go", "tap", "net-helper", "run-dir", "preserve-fds", "join" };
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i]))
      return 1;
  return 0;
}

/*
 * The first part of the plan: the command line's own arguments after "run CTLFD", one token each.
 * Copied into one buffer of NUL-terminated tokens, the form the second part arrives in.
 */
static void plan_from_args(int argc, char **argv)
{
  size_t len = 0;
  for (int i = 0; i < argc; i++)
    len += strlen(argv[i]) + 1;
  plan_buf = xmalloc(len + 1);
  plan_len = 0;
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    memcpy(plan_buf + plan_len, argv[i], n);
    plan_len += n;
  }
  plan_pos = 0;
}

/*
 * The second part of the plan, from the control socket: "<length>\n" then <length> bytes of
 * NUL-terminated tokens, in a buffer of its own (p points into it). Returns 0 when Node closed
 * the socket instead.
 */
static int read_container_plan(void)
{
  char hdr[32];
  size_t i = 0;
  for (;;) {
    if (i == sizeof hdr - 1) {
      errno = EINVAL;
      fail("plan header", "");
    }
    if (!read_full(ctl, hdr + i, 1, i == 0))
      return 0;
    if (hdr[i] == '\n')
      break;
    i++;
  }
  hdr[i] = '\0';
  plan_len = (size_t)plan_number(hdr, 10, PLAN_MAX, "plan length");
  plan_pos = 0;
  plan_buf = xmalloc(plan_len + 1);
  read_full(ctl, plan_buf, plan_len, 0);
  plan_buf[plan_len] = '\0';
  return 1;
}

/*
 * Moves the fds to preserve out of the way, to PRESERVED_AT…, close-on-exec: the command gets
 * them as 3… only at its exec (preserve_for_command); nothing else of ours ever sees them.
 */
static void keep_preserved(int first, int n)
{
  for (int i = 0; i < n; i++) {
    if (fcntl(first + i, F_GETFD) < 0 || dup3(first + i, PRESERVED_AT + i, O_CLOEXEC) < 0)
      fail("preserve fd", "");
    if (first + i != ctl)
      close(first + i);
  }
  npreserved = n;
}

/* In the command's process, after every other fd became close-on-exec: the preserved ones as 3…. */
static void preserve_for_command(void)
{
  if (!npreserved)
    return;
  /* The control socket may sit where they go: it moves above them (it reports a failed exec). */
  int moved = fcntl(ctl, F_DUPFD_CLOEXEC, 3 + npreserved);
  if (moved < 0)
    fail("preserve fd", "ctl");
  ctl = moved;
  for (int i = 0; i < npreserved; i++)
    if (dup2(PRESERVED_AT + i, 3 + i) < 0)
      fail("preserve fd", "");
}

/* Parses the part of the plan in plan_buf into p. */
static void parse_plan(struct plan *p, int part)
{
  if (part == 1) {
    memset(p, 0, sizeof *p);
    p->mounts = xcalloc(256, sizeof *p->mounts);
  }
  while (plan_pos < plan_len) {
    const char *op = tok();
    if (namespace_op(op) != (part == 1)) {
      errno = EINVAL;
      fail(part == 1 ? "plan operation before the namespaces exist" : "plan operation after the namespaces exist", op);
    }
    if (!strcmp(op, "ns")) {
      const char *f = tok();
      p->ns_flags = CLONE_NEWNS;
      if (strstr(f, "user")) { p->ns_flags |= CLONE_NEWUSER; p->userns = 1; }
      if (strstr(f, "uts")) p->ns_flags |= CLONE_NEWUTS;
      if (strstr(f, "ipc")) p->ns_flags |= CLONE_NEWIPC;
      if (strstr(f, "cgroup")) p->ns_flags |= CLONE_NEWCGROUP;
      if (strstr(f, "net")) p->ns_flags |= CLONE_NEWNET;
    } else if (!strcmp(op, "overlay")) {
      p->rootfs_kind = "overlay";
      p->root = tok();
      p->upper = tok();
      p->work = tok();
      p->userxattr = flag();
      size_t n = count();
      p->nlower = (int)n;
      p->lower = (const char **)tokens(n, 0);
    } else if (!strcmp(op, "fuse")) {
      p->fuse_bin = tok();
      p->fuse_only = flag();
    } else if (!strcmp(op, "fuse-maps")) {
      /* N:N:N[,N:N:N…] each: only digits, colons and commas reach fuse-overlayfs's options */
      for (int w = 0; w < 2; w++) {
        const char *m = tok();
        if (!*m || strlen(m) > 1024 || strspn(m, "0123456789:,") != strlen(m)) {
          errno = EINVAL;
          fail("plan", "fuse id mapping");
        }
        if (w == 0)
          p->fuse_uidmap = m;
        else
          p->fuse_gidmap = m;
      }
    } else if (!strcmp(op, "bindroot")) {
      p->rootfs_kind = "bind";
      p->bind_src = tok();
      p->root = tok();
    } else if (!strcmp(op, "mount")) {
      if (p->nmounts == 256) {
        errno = E2BIG;
        fail("plan", "too many mounts");
      }
      struct mount_op *m = &p->mounts[p->nmounts++];
      m->kind = tok();
      m->a = tok();
      m->b = tok();
      m->c = tok();
    } else if (!strcmp(op, "readonly")) {
      p->readonly_root = 1;
    } else if (!strcmp(op, "hostname")) {
      p->hostname = tok();
    } else if (!strcmp(op, "cwd")) {
      p->cwd = tok();
    } else if (!strcmp(op, "user")) {
      p->uid = (uid_t)id();
      p->gid = (gid_t)id();
      size_t n = count();
      if (n > NGROUPS_MAX) {
        errno = E2BIG;
        fail("plan", "too many groups");
      }
      p->ngroups = (int)n;
      p->groups = xcalloc(n + 1, sizeof *p->groups);
      for (size_t k = 0; k < n; k++)
        p->groups[k] = (gid_t)id();
    } else if (!strcmp(op, "caps")) {
      const char *c = tok();
      if (!strcmp(c, "all"))
        p->all_caps = 1;
      else
        p->caps = plan_number(c, 16, UINT64_MAX, "plan capabilities");
    } else if (!strcmp(op, "nnp")) {
      p->nnp = 1;
    } else if (!strcmp(op, "rlimits")) {
      /* count, then per limit: resource, soft, hard (2^64 - 1 is unlimited) */
      size_t n = count();
      if (n > RLIM_NLIMITS) {
        errno = E2BIG;
        fail("plan", "too many limits");
      }
      p->nrlimits = (int)n;
      p->rlimits = xcalloc(n + 1, sizeof *p->rlimits);
      for (size_t k = 0; k < n; k++) {
        p->rlimits[k].res = (int)num(RLIM_NLIMITS - 1);
        p->rlimits[k].lim.rlim_cur = (rlim_t)num(UINT64_MAX);
        p->rlimits[k].lim.rlim_max = (rlim_t)num(UINT64_MAX);
      }
    } else if (!strcmp(op, "tty")) {
      p->tty = 1;
      p->tty_stdin = flag();
      p->rows = (unsigned short)num(USHRT_MAX);
      p->cols = (unsigned short)num(USHRT_MAX);
    } else if (!strcmp(op, "env")) {
      p->env = tokens(count(), 0);
    } else if (!strcmp(op, "argv")) {
      p->argv = tokens(count(), 0);
    } else if (!strcmp(op, "path")) {
      p->path = tok();
    } else if (!strcmp(op, "maps")) {
      for (int w = 0; w < 2; w++) {
        /* the tool and its target pid's placeholder (argv[1]) at least */
        size_t n = count();
        if (n < 2) {
          errno = EINVAL;
          fail("plan", "id map tool without arguments");
        }
        char **v = tokens(n, 1);
        if (w == 0)
          p->uidmap_argv = v;
        else
          p->gidmap_argv = v;
      }
    } else if (!strcmp(op, "single-map")) {
      p->single_map = 1;
      p->single_uid = (long)id();
      p->single_gid = (long)id();
    } else if (!strcmp(op, "seccomp")) {
      p->seccomp = 1;
    } else if (!strcmp(op, "wait")) {
      p->wait_go = 1;
    } else if (!strcmp(op, "defer-go")) {
      p->defer_go = 1;
    } else if (!strcmp(op, "tap")) {
      p->tap = tok();
    } else if (!strcmp(op, "run-dir")) {
      p->run_dir = tok();
    } else if (!strcmp(op, "preserve-fds")) {
      /* FIRST N: our fds FIRST… (Node's extra stdio) become the command's 3…3+N-1 */
      int first = (int)num(1024);
      int n = (int)num(PRESERVE_MAX);
      if (first < 3) {
        errno = EINVAL;
        fail("plan", "preserved fds below 3");
      }
      keep_preserved(first, n);
    } else if (!strcmp(op, "join")) {
      p->join_pid = (long)plan_number(tok(), 10, INT_MAX, "join target");
    } else if (!strcmp(op, "net-helper")) {
      size_t n = count();
      if (n < 1) {
        errno = EINVAL;
        fail("plan", "network helper without a command");
      }
      p->net_argv = tokens(n, 0);
    } else if (!strcmp(op, "cleanup")) {
      p->cleanup = tok();
    } else {
      errno = EINVAL;
      fail("plan operation", op);
    }
  }
  if (part == 2 && (!p->root || !p->argv || !p->argv[0])) {
    errno = EINVAL;
    fail("plan", "no rootfs or command");
  }
}

/* ---------- handshake ---------- */

/* Wait for Node's go ('G'); anything else means Node gave up. */
static void await_go(void)
{
  char c = 0;
  for (;;) {
    ssize_t r = read(ctl, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != 1 || c != 'G')
      _exit(125); /* Node aborted or died: it has already said why. */
    break;
  }
  char nl;
  ssize_t r = read(ctl, &nl, 1);
  (void)r;
}

/*
 * slirp4netns configures the namespace (tap0 up, its address, then the default route) before it
 * makes its sandbox and seccomp filter, and says it is ready only after those, some 3 ms later.
 * Once the route is there, packets the command sends wait in tap0's queue until slirp4netns
 * reads them, which it does only from inside its sandbox: the command can start. We subscribe
 * before slirp4netns starts, so the route cannot come unseen.
 */
static void watch_routes(void)
{
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_ROUTE };
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    fd = -1;
  }
  net_routes = fd; /* without it, init waits for slirp4netns's own word */
}

/* 1 once a default IPv4 route has been added in our network namespace. */
static int default_route_added(void)
{
  char buf[8192];
  for (;;) {
    ssize_t n = recv(net_routes, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 0;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
        continue;
      struct rtmsg *rt = NLMSG_DATA(h);
      if (rt->rtm_family == AF_INET && rt->rtm_dst_len == 0 && rt->rtm_table == RT_TABLE_MAIN)
        return 1;
    }
  }
}

/*
 * Init waits here for the network helper we started: its default route (watch_routes), or "1"
 * on its ready fd, or its end (then S, and Node quotes its stderr). Node may abort meanwhile (A,
 * or its end), e.g. after a timeout. Returns 1 if Node's go came early (it is then not awaited again).
 */
static int await_net_ready(void)
{
  int went = 0;
  for (;;) {
    struct pollfd fds[3] = { { net_ready, POLLIN, 0 }, { ctl, POLLIN, 0 }, { net_routes, POLLIN, 0 } };
    if (poll(fds, net_routes >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      fail("poll", "network helper");
    }
    if (fds[1].revents) {
      char c = 0;
      ssize_t r = read(ctl, &c, 1);
      if (r == 1 && c == 'G')
        went = 1;
      else if (r == 1 && c == '\n')
        ;
      else if (!(r < 0 && errno == EINTR))
        _exit(125); /* Node aborted or died: it has already said why. */
    }
    if (fds[0].revents) {
      char c = 0;
      ssize_t r = read(net_ready, &c, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 1 && c == '1')
        break;
      ctl_write("S\n");
      _exit(125);
    }
    if (net_routes >= 0 && fds[2].revents && default_route_added())
      break;
  }
  close(net_ready);
  net_ready = -1;
  if (net_routes >= 0)
    close(net_routes);
  net_routes = -1;
  ctl_write("N\n");
  return went;
}

/* Tell Node the namespaces exist and wait while it writes the maps and wires the network. */
static void handshake(void)
{
  ctl_write("R\n");
  await_go();
}

static void die_with_parent(void)
{
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    fail("prctl PDEATHSIG", "");
  /* The parent may have died before prctl: then nobody would kill us. */
  if (getppid() != parent)
    _exit(125);
}

/* ---------- CVE-2019-5736: never let the container reach our own binary ---------- */

/*
 * A container command exec'd by us can name /proc/self/exe (e.g. as a script interpreter) and
 * then hold an fd on the helper binary. Running from a sealed memfd copy makes that binary
 * an anonymous, unwritable file, so the host's copy can never be overwritten from inside.
 */
static void reexec_sealed(char **argv)
{
  /*
   * Only a binary we could write is at risk: rootless, the container's root is us, so a helper
   * owned by root and not writable by us needs no copy (and the run saves an exec).
   */
  if (geteuid() != 0 && access("/proc/self/exe", W_OK) != 0)
    return;
  char self[64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    if (!strncmp(self, "/memfd:flux-helper", 18))
      return;
  }
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0)
    fail("open", "/proc/self/exe");
  struct stat st;
  if (fstat(src, &st) < 0)
    fail("stat", "/proc/self/exe");
  int mfd = memfd_create("flux-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    fail("memfd_create", "");
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t w = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
    if (w <= 0)
      fail("copy helper to memfd", "");
  }
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
    fail("seal memfd", "");
  extern char **environ;
  fexecve(mfd, argv, environ);
  fail("fexecve", "memfd");
}

/* ---------- paths inside the new root ---------- */

static int root_fd = -1;

static int open_in_root(const char *rel, int flags)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  while (*rel == '/')
    rel++;
  if (*rel == '\0')
    rel = ".";
  return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

/*
 * An O_PATH fd on REL inside the root, created (directory or empty file) when missing. Every
 * lookup is confined to the root, so an image symlink such as /etc/hosts -> /host/x lands
 * inside the container; a dangling symlink in the way is replaced (it lives in the upper dir).
 */
static int target_in_root(const char *rel, int dir)
{
  int fd = open_in_root(rel, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", rel);
  char *slash = strrchr(parent, '/');
  const char *base = rel;
  if (slash) {
    *slash = '\0';
    base = rel + (slash - parent) + 1;
  } else {
    strcpy(parent, ".");
  }
  int pfd = target_in_root(parent[0] ? parent : ".", 1);
  if (pfd < 0)
    return -1;
  int r;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (dir)
      r = mkdirat(pfd, base, 0755);
    else {
      r = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (r >= 0)
        close(r), r = 0;
    }
    if (r == 0 || errno != EEXIST)
      break;
    unlinkat(pfd, base, 0); /* a dangling symlink */
  }
  close(pfd);
  if (r < 0 && errno != EEXIST)
    return -1;
  return open_in_root(rel, O_PATH);
}

/* ---------- mounts ---------- */

/* fsopen/fsconfig/fsmount a new filesystem and attach it on TARGET_FD. OPTS: "k=v,flag,…". */
static void new_fs(const char *type, const char *opts, unsigned attrs, int target_fd, const char *what)
{
  int fs = fsopen(type, FSOPEN_CLOEXEC);
  if (fs < 0)
    fail("fsopen", type);
  char buf[512];
  snprintf(buf, sizeof buf, "%s", opts ? opts : "");
  for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(o, '=');
    int r;
    if (eq) {
      *eq = '\0';
      r = fsconfig(fs, FSCONFIG_SET_STRING, o, eq + 1, 0);
    } else {
      r = fsconfig(fs, FSCONFIG_SET_FLAG, o, NULL, 0);
    }
    if (r < 0)
      fail(type, what);
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    fail(type, what);
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  if (mnt < 0)
    fail(type, what);
  if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(type, what);
  close(mnt);
  close(fs);
}

/* Bind SRC_FD (a whole tree when REC) onto TARGET_FD, read-only when RO. */
static void bind_fd(int src_dfd, const char *src, int rec, int ro, int target_fd, const char *what)
{
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0);
  if (!*src)
    flags |= AT_EMPTY_PATH;
  int t = open_tree(src_dfd, src, flags);
  if (t < 0)
    fail("bind", what);
  if (ro) {
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    if (mount_setattr(t, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
      fail("remount read-only", what);
  }
  if (move_mount(t, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail("bind", what);
  close(t);
}

static int has_opt(const char *opts, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = opts; (p = strstr(p, name)); p += n)
    if ((p == opts || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
      return 1;
  return 0;
}

/* The host's /dev/null, checked to be the real character device 1:3 (CVE-2025-31133). */
static int dev_null_fd(void)
{
  static int fd = -1;
  if (fd >= 0)
    return fd;
  fd = open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    fail("open", "/dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    errno = EPERM;
    fail("mask with /dev/null (not the null device)", "/dev/null");
  }
  return fd;
}

/* The working directory, resolved by init inside the new root (open_workdir). */
static int workdir_fd = -1;
/* The run's own files (see make_files_layer): the tmpfs holding them, and whether the root has them. */
static int files_layer = -1;
static int files_in_root;
/* The native overlay, made but not yet attached anywhere (see attach_root). */
static int root_mnt = -1;
static int keep_files_writable;

/*
 * Puts a new file holding CONTENT at REL in the root, in place of whatever the image has there
 * (a symlink to /proc/sys/kernel/core_pattern or to a host path, a hard link to one of its
 * binaries): written under a temporary name in the same directory and renamed over the entry,
 * so nothing is ever written through it. Only the directory is looked up, inside the root.
 */
static void replace_file(const char *rel, const char *content)
{
  char parent[PATH_MAX], tmp[NAME_MAX + 1];
  if (snprintf(parent, sizeof parent, "%s", rel) >= (int)sizeof parent)
    fail("file path", rel);
  char *slash = strrchr(parent, '/');
  const char *base = slash ? rel + (slash - parent) + 1 : rel;
  if (slash)
    *slash = '\0';
  if (!*base || snprintf(tmp, sizeof tmp, ".%s.flux-new", base) >= (int)sizeof tmp) {
    errno = EINVAL;
    fail("file path", rel);
  }
  int pfd = target_in_root(slash && *parent ? parent : ".", 1);
  if (pfd < 0)
    fail("mkdir", parent);
  unlinkat(pfd, tmp, 0); /* left by the image, or by an earlier try */
  int fd = openat(pfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len)
    fail("write", rel);
  close(fd);
  if (renameat(pfd, tmp, pfd, base) < 0)
    fail("replace", rel);
  if (keep_files_writable) {
    /* A read-only root keeps these writable, as docker's bind-mounted ones are. */
    fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      fail("open", rel);
    bind_fd(fd, "", 0, 0, fd, rel);
    close(fd);
  }
  close(pfd);
}

static void do_mount(const struct mount_op *m)
{
  const char *k = m->kind;
  if (!strcmp(k, "proc")) {
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    new_fs("proc", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, t, m->a);
    close(t);
  } else if (!strcmp(k, "sysfs")) {
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    /* A new sysfs needs a network namespace of our own; else the host's, read-only. */
    int fs = fsopen("sysfs", FSOPEN_CLOEXEC);
    if (fs >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
      int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      if (mnt < 0 || move_mount(mnt, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail("sysfs", m->a);
      close(mnt);
    } else {
      bind_fd(AT_FDCWD, "/sys", 1, 1, t, m->a);
    }
    if (fs >= 0)
      close(fs);
    close(t);
  } else if (!strcmp(k, "tmpfs") || !strcmp(k, "devpts") || !strcmp(k, "mqueue")) {
    /* a = target, b = fs options, c = mount flags (ro,nosuid,nodev,noexec) */
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    unsigned attrs = 0;
    if (has_opt(m->c, "ro")) attrs |= MOUNT_ATTR_RDONLY;
    if (has_opt(m->c, "nosuid")) attrs |= MOUNT_ATTR_NOSUID;
    if (has_opt(m->c, "nodev")) attrs |= MOUNT_ATTR_NODEV;
    if (has_opt(m->c, "noexec")) attrs |= MOUNT_ATTR_NOEXEC;
    if (!strcmp(k, "mqueue")) {
      /* mqueue needs an ipc namespace we own; without one the container simply has none. */
      int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
      if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        if (fs >= 0)
          close(fs);
        close(t);
        return;
      }
      close(fs);
    }
    new_fs(k, m->b, attrs, t, m->a);
    close(t);
  } else if (!strcmp(k, "bind")) {
    /* a = host source, b = target, c = flags (ro,rec,file,optional) */
    struct stat st;
    if (stat(m->a, &st) < 0) {
      if (has_opt(m->c, "optional"))
        return;
      fail("bind", m->a);
    }
    int t = target_in_root(m->b, S_ISDIR(st.st_mode));
    if (t < 0)
      fail("mkdir", m->b);
    bind_fd(AT_FDCWD, m->a, has_opt(m->c, "rec"), has_opt(m->c, "ro"), t, m->b);
    close(t);
  } else if (!strcmp(k, "content")) {
    /* a = file content, b = target (/etc/hosts and the like). */
    if (files_in_root) {
      /* Already in place, from the overlay's top layer; a read-only root keeps it writable. */
      if (!keep_files_writable)
        return;
      int fd = open_in_root(m->b, O_PATH | O_NOFOLLOW);
      if (fd < 0)
        fail("open", m->b);
      bind_fd(fd, "", 0, 0, fd, m->b);
      close(fd);
      return;
    }
    replace_file(m->b, m->a);
  } else if (!strcmp(k, "symlink")) {
    /* a = link text, b = path of the link */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", m->b);
    char *slash = strrchr(parent, '/');
    const char *base = m->b;
    if (slash) {
      *slash = '\0';
      base = m->b + (slash - parent) + 1;
    }
    int pfd = target_in_root(slash ? parent : ".", 1);
    if (pfd < 0)
      fail("mkdir", parent);
    if (symlinkat(m->a, pfd, base) < 0 && errno != EEXIST)
      fail("symlink", m->b);
    close(pfd);
  } else if (!strcmp(k, "mask")) {
    int fd = open_in_root(m->a, O_PATH | O_NOFOLLOW);
    if (fd < 0)
      return; /* nothing to hide */
    struct stat st;
    if (fstat(fd, &st) < 0)
      fail("stat", m->a);
    if (S_ISDIR(st.st_mode))
      new_fs("tmpfs", "size=0,mode=0555", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, fd, m->a);
    else
      bind_fd(dev_null_fd(), "", 0, 0, fd, m->a);
    close(fd);
  } else if (!strcmp(k, "ro")) {
    int fd = open_in_root(m->a, O_PATH | O_NOFOLLOW);
    if (fd < 0)
      return;
    bind_fd(fd, "", 1, 1, fd, m->a);
    close(fd);
  } else {
    errno = EINVAL;
    fail("plan mount", k);
  }
}

/* ---------- the run's own files (/etc/hosts, /etc/hostname, /etc/resolv.conf) ---------- */

/*
 * Written into a tmpfs that is never attached anywhere and stacked on the image as the overlay's
 * top layer: nothing to create in the upper dir on the host disk (the image seldom has these
 * files, and creating them would copy /etc up) and nothing to remove after the run; the image's
 * entries at those paths are hidden, never followed. Without a native overlay they replace those
 * entries in the root instead (replace_file).
 */

static void put_file(const char *rel, const char *content)
{
  char path[PATH_MAX];
  while (*rel == '/')
    rel++;
  if (snprintf(path, sizeof path, "%s", rel) >= (int)sizeof path || !*path)
    fail("file path", rel);
  for (char *c = path; (c = strchr(c, '/')); c++) {
    *c = '\0';
    if (mkdirat(files_layer, path, 0755) < 0 && errno != EEXIST)
      fail("mkdir", rel);
    *c = '/';
  }
  int fd = openat(files_layer, path, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len)
    fail("write", rel);
  close(fd);
}

/* The layer of every "content" mount of the plan; -1 when there are none or no tmpfs can be made. */
static int make_files_layer(const struct plan *p)
{
  int any = 0;
  for (int i = 0; i < p->nmounts; i++)
    any |= !strcmp(p->mounts[i].kind, "content");
  if (!any)
    return -1;
  int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    close(fs);
    return -1;
  }
  files_layer = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  close(fs);
  if (files_layer < 0)
    return -1;
  for (int i = 0; i < p->nmounts; i++)
    if (!strcmp(p->mounts[i].kind, "content"))
      put_file(p->mounts[i].b, p->mounts[i].a);
  return files_layer;
}

/* ---------- rootfs ---------- */

static int mount_overlay(const struct plan *p)
{
  int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  int ok = 1;
  char files[32] = "";
  if (make_files_layer(p) >= 0)
    snprintf(files, sizeof files, "/proc/self/fd/%d", files_layer);
  /* lowerdir+ (Linux 6.8) takes one layer per call: no option-length limit, 128 layers fit. */
  if (*files)
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", files, 0) == 0;
  for (int i = 0; ok && i < p->nlower; i++)
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p->lower[i], 0) == 0;
  if (!ok && errno == EINVAL) {
    /* Older kernel: one colon-separated string, relative to the layers' common parent. */
    close(fs);
    fs = fsopen("overlay", FSOPEN_CLOEXEC);
    size_t len = strlen(files) + 1;
    for (int i = 0; i < p->nlower; i++)
      len += strlen(p->lower[i]) + 1;
    char *s = xmalloc(len + 1);
    strcpy(s, files);
    for (int i = 0; i < p->nlower; i++) {
      if (*s)
        strcat(s, ":");
      strcat(s, p->lower[i]);
    }
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", s, 0) == 0;
    free(s);
  }
  ok = ok && fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", p->upper, 0) == 0;
  ok = ok && fsconfig(fs, FSCONFIG_SET_STRING, "workdir", p->work, 0) == 0;
  if (ok && p->userxattr)
    ok = fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0;
  /*
   * The upper dir is thrown away after the run: without "volatile", unmounting it syncs the
   * whole host file system beneath (syncfs), which under write load holds the exit of every run
   * for tens to hundreds of milliseconds. A kernel without the option (< 5.10) just syncs.
   */
  if (ok)
    fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
  /* Untrusted layers: never metacopy or redirect_dir (both are off unless asked for). */
  ok = ok && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
  /* nodev: a device node in a layer (the host disk's numbers) must not open (see make_nodev). */
  int mnt = ok ? fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV) : -1;
  int e = errno;
  close(fs);
  if (mnt < 0) {
    errno = e;
    return -1;
  }
  /* Attached by init, in the container's mount namespace only (see attach_root). */
  root_mnt = mnt;
  return 0;
}

/*
 * The native overlay is mounted in init's mount namespace only: when the command ends, the
 * helper need not unmount it (which would wait on init taking the container's other mounts
 * down) and removes the run dir while init's exit releases the overlay.
 */
static void attach_root(const struct plan *p)
{
  if (root_mnt < 0)
    return;
  if (move_mount(root_mnt, "", AT_FDCWD, p->root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    fail("mount overlay on", p->root);
  close(root_mnt);
  root_mnt = -1;
}

static pid_t fuse_pid = -1;

static int mount_fuse(const struct plan *p)
{
  struct stat before, now;
  if (stat(p->root, &before) < 0)
    fail("stat", p->root);
  size_t len = 64 + strlen(p->upper) + strlen(p->work);
  if (p->fuse_uidmap)
    len += 32 + strlen(p->fuse_uidmap) + strlen(p->fuse_gidmap);
  for (int i = 0; i < p->nlower; i++)
    len += strlen(p->lower[i]) + 1;
  char *opts = xmalloc(len);
  strcpy(opts, "lowerdir=");
  for (int i = 0; i < p->nlower; i++) {
    if (i)
      strcat(opts, ":");
    strcat(opts, p->lower[i]);
  }
  strcat(opts, ",upperdir=");
  strcat(opts, p->upper);
  strcat(opts, ",workdir=");
  strcat(opts, p->work);
  strcat(opts, ",allow_other");
  if (p->fuse_uidmap) {
    strcat(opts, ",uidmapping=");
    strcat(opts, p->fuse_uidmap);
    strcat(opts, ",gidmapping=");
    strcat(opts, p->fuse_gidmap);
  }
  fuse_pid = fork();
  if (fuse_pid < 0)
    fail("fork", "fuse-overlayfs");
  if (fuse_pid == 0) {
    /* Foreground, so it dies with us; it lives outside the container's pid namespace. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDWR);
    /* Its warnings (e.g. about mount flags it ignores) are not the user's business. */
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    execl(p->fuse_bin, "fuse-overlayfs", "-f", "-o", opts, p->root, (char *)NULL);
    _exit(127);
  }
  free(opts);
  /* fuse-overlayfs -f gives no readiness signal: the mount is there when the dev changes. */
  for (int i = 0; i < 20000; i++) {
    if (stat(p->root, &now) == 0 && now.st_dev != before.st_dev)
      return 0;
    int st;
    if (waitpid(fuse_pid, &st, WNOHANG) == fuse_pid) {
      fuse_pid = -1;
      errno = ENODEV;
      return -1;
    }
    struct timespec ts = { 0, 500000 };
    nanosleep(&ts, NULL);
  }
  errno = ETIMEDOUT;
  return -1;
}

/*
 * The image's device nodes never work, whatever the root kind: a layer may carry a block device
 * with the host disk's numbers, which real root could otherwise open. The root is nodev (the
 * container's /dev is a tmpfs of its own with the host's few safe devices bound in).
 */
static void make_nodev(const char *root)
{
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_NODEV };
  if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    fail("remount nodev", root);
  close(fd);
}

static void mount_rootfs(const struct plan *p)
{
  if (!strcmp(p->rootfs_kind, "bind")) {
    int t = open(p->root, O_PATH | O_CLOEXEC | O_DIRECTORY);
    if (t < 0)
      fail("open", p->root);
    bind_fd(AT_FDCWD, p->bind_src, 1, 0, t, p->root);
    close(t);
    make_nodev(p->root);
    ctl_write("Kcopy\n");
    return;
  }
  if (!p->fuse_only) {
    if (mount_overlay(p) == 0) {
      files_in_root = files_layer >= 0;
      ctl_write("Koverlay\n");
      return;
    }
    if (!p->fuse_bin)
      fail("mount overlay on", p->root);
  }
  if (mount_fuse(p) == 0) {
    make_nodev(p->root);
    ctl_write("Kfuse\n");
    return;
  }
  fail("mount fuse-overlayfs on", p->root);
}

/* ---------- capabilities ---------- */

static int last_cap(void)
{
  int c = 0;
  while (prctl(PR_CAPBSET_READ, c + 1) >= 0)
    c++;
  return c;
}

/* The capabilities the bounding set holds, as a mask. */
static uint64_t bounding_set(int last)
{
  uint64_t m = 0;
  for (int c = 0; c <= last && c < 64; c++)
    if (prctl(PR_CAPBSET_READ, c) == 1)
      m |= 1ULL << c;
  return m;
}

static void set_caps(const struct plan *p)
{
  int last = last_cap();
  uint64_t keep = p->all_caps ? ~0ULL : p->caps;
  for (int c = 0; c <= last; c++)
    if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c) < 0)
      fail("drop capability", "");
  if (p->uid != 0) {
    /* Non-root commands keep their caps only through ambient (as docker's --cap-add does not). */
    if (setresgid(p->gid, p->gid, p->gid) < 0)
      fail("setgid", "");
    if (setresuid(p->uid, p->uid, p->uid) < 0)
      fail("setuid", "");
    return;
  }
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  uint64_t all = last >= 63 ? ~0ULL : ((1ULL << (last + 1)) - 1);
  /*
   * Only what the bounding set still holds can be had: real root on a host (or in a container)
   * whose bounding set lacks e.g. CAP_SYS_RESOURCE would otherwise fail capset with EPERM when
   * asked for every capability (--privileged). In a new user namespace the set is full.
   */
  uint64_t set = keep & all & bounding_set(last);
  d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)set;
  d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(set >> 32);
  if (syscall(SYS_capset, &h, d) < 0)
    fail("capset", "");
}

/* ---------- seccomp ---------- */

/*
 * A small deny list in the spirit of docker's default profile: syscalls that reach the host
 * kernel's global state (keyrings, modules, kexec, bpf, perf, userfaultfd, handle-based opens,
 * clocks, swap, accounting), and new namespaces by any call (unshare, setns, clone, clone3).
 * Other architectures' entry points (x32, i386) are refused outright so the list cannot be
 * bypassed through them. Denied calls fail with EPERM.
 */
#if defined(__x86_64__)
#define FLUX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FLUX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static const int denied_syscalls[] = {
  SYS_keyctl, SYS_add_key, SYS_request_key, SYS_kexec_load,
#ifdef SYS_kexec_file_load
  SYS_kexec_file_load,
#endif
  SYS_open_by_handle_at, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf,
  SYS_perf_event_open, SYS_userfaultfd, SYS_acct, SYS_swapon, SYS_swapoff, SYS_settimeofday,
  SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_quotactl, SYS_lookup_dcookie,
  SYS_syslog, SYS_fanotify_init,
  /* Namespaces: a nested user namespace would hand the container a fresh full capability set
   * over kernel code (mounts, netfilter) that the default profile keeps out of reach. */
  SYS_unshare, SYS_setns,
  /* io_uring performs syscalls on the caller's behalf, outside this filter's view. */
#ifdef SYS_io_uring_setup
  SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
#endif
  /* The new mount API, like mount(2), is for the sandbox to use, not the container. */
#ifdef SYS_fsopen
  SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_move_mount, SYS_open_tree,
#endif
#ifdef SYS_mount_setattr
  SYS_mount_setattr,
#endif
#ifdef SYS_iopl
  SYS_iopl, SYS_ioperm,
#endif
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define CLONE_NAMESPACE_FLAGS \
  (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME)

static void load_seccomp(void)
{
#ifdef FLUX_AUDIT_ARCH
  enum { N = sizeof denied_syscalls / sizeof *denied_syscalls };
  struct sock_filter f[N + 16];
  int i = 0;
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FLUX_AUDIT_ARCH, 1, 0);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  /* x32 syscalls carry bit 30 */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
#endif
  /*
   * clone3 passes its flags in a struct the filter cannot read: it fails with ENOSYS, and libc
   * falls back to clone (fork and threads keep working), as with docker's default profile.
   */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  /*
   * clone with a namespace flag is refused like unshare. The flags are clone's first argument on
   * both architectures here (unlike s390's); the kernel reads only their low 32 bits, the first
   * word of args[0] on these little-endian machines. CLONE_NEWTIME shares a bit with the exit
   * signal's byte, but no valid signal sets it (they end at 64).
   */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NAMESPACE_FLAGS, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int k = 0; k < N; k++) {
    f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_syscalls[k], (unsigned char)(N - k), 0);
  }
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  struct sock_fprog prog = { .len = (unsigned short)i, .filter = f };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    fail("load seccomp filter", "");
#else
  /* No filter for this architecture: refuse rather than run with less protection than asked. */
  errno = ENOSYS;
  fail("load seccomp filter (no filter for this architecture; use --security-opt seccomp=unconfined)", "");
#endif
}

/* ---------- the command ---------- */

/* execvpe against the container's PATH: ENOENT only when no candidate exists at all. */
static void exec_command(const struct plan *p)
{
  const char *cmd = p->argv[0];
  int err = ENOENT;
  if (strchr(cmd, '/')) {
    execve(cmd, p->argv, p->env);
    err = errno;
  } else {
    const char *path = p->path && *p->path ? p->path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char buf[PATH_MAX];
    const char *s = path;
    int seen_eacces = 0;
    while (*s) {
      const char *e = strchr(s, ':');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      if (n == 0)
        snprintf(buf, sizeof buf, "%s", cmd);
      else
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, s, cmd);
      execve(buf, p->argv, p->env);
      if (errno == EACCES || errno == ENOEXEC || errno == EPERM)
        seen_eacces = errno;
      else if (errno != ENOENT && errno != ENOTDIR)
        err = errno;
      if (!e)
        break;
      s = e + 1;
    }
    if (seen_eacces && err == ENOENT)
      err = seen_eacces;
  }
  ctl_write("X%d\t%s\n", err, cmd);
  if (exec_report_fd >= 0)
    (void)!write(exec_report_fd, "x", 1);
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

static void command_child(const struct plan *p, int slave, const sigset_t *oldmask)
{
  if (setsid() < 0)
    fail("setsid", "");
  if (p->tty) {
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
      fail("set controlling terminal", "");
    for (int i = 0; i < 3; i++)
      if (dup2(slave, i) < 0)
        fail("dup2", "tty");
    if (slave > 2)
      close(slave);
  }
  /* Signal dispositions the init changed must not reach the command. */
  for (int s = 1; s < NSIG; s++)
    signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, oldmask, NULL);
  /* Into the working directory init resolved (open_workdir): as root first, as runc does. */
  int in_workdir = fchdir(workdir_fd) == 0;
  if (!in_workdir && errno != EACCES && errno != EPERM)
    fail("workdir", p->cwd);
  /* --ulimit, while still root in the namespace (Node refused a hard limit above flux's own). */
  for (int k = 0; k < p->nrlimits; k++)
    if (setrlimit(p->rlimits[k].res, &p->rlimits[k].lim) < 0)
      fail("setrlimit", "--ulimit");
  if (p->userns && p->ngroups >= 0 && setgroups((size_t)p->ngroups, p->groups) < 0 && errno != EPERM)
    fail("setgroups", "");
  if (!p->userns && setgroups((size_t)p->ngroups, p->groups) < 0)
    fail("setgroups", "");
  if (p->uid == 0 && setresgid(p->gid, p->gid, p->gid) < 0)
    fail("setgid", "");
  /* Loaded while we still hold CAP_SYS_ADMIN in the namespace: no no_new_privs needed for it. */
  if (p->seccomp)
    load_seccomp();
  set_caps(p);
  if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    fail("no_new_privs", "");
  /* Else as the command's user: a directory only that user may enter (a volume it owns). */
  if (!in_workdir && fchdir(workdir_fd) < 0)
    fail("workdir", p->cwd);
  /* Only 0, 1 and 2 cross into the command (CVE-2024-21626); ctl stays open until exec. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    fail("close_range", "");
  /* --preserve-fds: those the user named, and only those, go along as 3… */
  preserve_for_command();
  exec_command(p);
}

/* ---------- init: pid 1 of the container ---------- */

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static void noop(int s) { (void)s; }

static void add_forwarded(sigset_t *set)
{
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
    sigaddset(set, forwarded[i]);
}

/* The helper's signal mask before it held the forwarded signals back for init (see run). */
static sigset_t unblocked;

/*
 * With a terminal, the pty belongs to the command's user (as a login terminal does), who can then
 * reopen it by name, and /dev/console is that pty, as runc and podman make it.
 */
static void setup_console(int slave, const struct plan *p)
{
  if (fchown(slave, p->uid, (gid_t)-1) < 0)
    fail("chown", "the terminal");
  int target = open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (target < 0 && errno == EEXIST)
    return; /* the user mounted something there (-v): theirs wins */
  if (target < 0)
    fail("create", "/dev/console");
  bind_fd(slave, "", 0, 0, target, "/dev/console");
  close(target);
}

/* Waits for our child `pid` and gives its wait status (0 if it was not ours to wait for). */
static int wait_for(pid_t pid)
{
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return st;
}

static int status_code(int st)
{
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return 125;
}

static void copy_winsize(int from, int to)
{
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
    ioctl(to, TIOCSWINSZ, &ws);
}

static ssize_t write_all(int fd, const char *b, size_t n)
{
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, b + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = { fd, POLLOUT, 0 };
      poll(&pf, 1, 100);
      continue;
    }
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return (ssize_t)off;
}

/*
 * One turn of the loop that runs a command (run's init, exec): waits for the signalfd, the
 * terminal's master and stdin; copies the master to stdout and stdin to the master; passes
 * signals on to the command (SIGWINCH: the terminal's size, which the kernel then signals to the
 * pty's foreground group). Returns -1 when poll failed, 1 when signals came (the caller reaps),
 * else 0. The master is closed and set to -1 at EIO (every slave closed); in_open to 0 at the
 * end of stdin.
 */
static int relay_once(int sfd, int *master, int *in_open, pid_t child, char *buf, size_t len)
{
  struct pollfd fds[3];
  int n = 0, mi = -1, ii = -1;
  fds[n++] = (struct pollfd){ sfd, POLLIN, 0 };
  if (*master >= 0) {
    mi = n;
    fds[n++] = (struct pollfd){ *master, POLLIN, 0 };
  }
  if (*in_open) {
    ii = n;
    fds[n++] = (struct pollfd){ 0, POLLIN, 0 };
  }
  if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR)
    return -1;
  if (mi >= 0 && fds[mi].revents) {
    ssize_t r = read(*master, buf, len);
    if (r > 0)
      write_all(1, buf, (size_t)r);
    else if (r < 0 && errno != EAGAIN && errno != EINTR) {
      close(*master);
      *master = -1;
    }
  }
  if (ii >= 0 && fds[ii].revents) {
    ssize_t r = read(0, buf, len);
    if (r > 0 && *master >= 0)
      write_all(*master, buf, (size_t)r);
    else if (r <= 0 && errno != EINTR && errno != EAGAIN)
      *in_open = 0;
  }
  if (!fds[0].revents)
    return 0;
  struct signalfd_siginfo si;
  while (read(sfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD)
      continue;
    if (si.ssi_signo == SIGWINCH && *master >= 0)
      copy_winsize(1, *master);
    else
      kill(child, (int)si.ssi_signo);
  }
  return 1;
}

/* What the command wrote last, before its terminal goes away. */
static void drain_master(int master, char *buf, size_t len)
{
  ssize_t r;
  if (master >= 0)
    while ((r = read(master, buf, len)) > 0)
      write_all(1, buf, (size_t)r);
}

/* Write end of the pipe on which init tells the helper the command's status (see report_end). */
static int init_report = -1;

/*
 * The command has ended: end every process left in the container and reap them, then tell the
 * helper the status before exiting. Nothing of the container runs any more, so the helper
 * removes the run's state while our own exit takes the container's mounts down.
 */
static _Noreturn void report_end(int code)
{
  int st;
  if (kill(-1, SIGKILL) == 0 || errno == ESRCH) {
    while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
      ;
    if (errno == ECHILD) {
      unsigned char c = (unsigned char)code;
      while (write(init_report, &c, 1) < 0 && errno == EINTR)
        ;
    }
  }
  _exit(code);
}

/*
 * Init keeps only what it still uses: its stdio, the control socket, its report pipe and the
 * network helper's readiness. Everything else it inherited (the files layer, the host's
 * /dev/null, pipes of the helper's) is closed before the working directory is looked up.
 */
static void close_unneeded_fds(void)
{
  int keep[4 + PRESERVE_MAX] = { ctl, init_report, net_ready, net_routes };
  int N = 4;
  for (int i = 0; i < npreserved; i++)
    keep[N++] = PRESERVED_AT + i;
  for (int i = 1; i < N; i++)
    for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned from = 3;
  for (int i = 0; i < N; i++) {
    if (keep[i] < (int)from)
      continue;
    if ((unsigned)keep[i] > from && syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0) < 0)
      fail("close_range", "");
    from = (unsigned)keep[i] + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) < 0)
    fail("close_range", "");
  files_layer = -1;
}

/*
 * mkdir -p inside the root, a directory that exists already included; an O_PATH fd on it. Unlike
 * target_in_root it never replaces what the image has: a dangling symlink on the way is followed,
 * inside the root, and its target made, as docker makes a missing WorkingDir.
 */
static int make_dir_in_root(const char *rel, int depth)
{
  int fd = open_in_root(rel, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (depth > 40) {
    errno = ELOOP;
    return -1;
  }
  char parent[PATH_MAX], link[PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", rel) >= (int)sizeof parent) {
    errno = ENAMETOOLONG;
    return -1;
  }
  char *slash = strrchr(parent, '/');
  const char *base = slash ? rel + (slash - parent) + 1 : rel;
  if (slash)
    *slash = '\0';
  int pfd = make_dir_in_root(slash && *parent ? parent : ".", depth + 1);
  if (pfd < 0)
    return -1;
  /* Nothing is made in /proc or /sys, nor a link there followed (our own lookup adds fds to /proc/self/fd). */
  struct statfs sfs;
  if (fstatfs(pfd, &sfs) < 0 || sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC) {
    close(pfd);
    errno = ENOENT;
    return -1;
  }
  int made = mkdirat(pfd, base, 0755) == 0;
  if (!made && errno != EEXIST) {
    int e = errno; /* a read-only root, say */
    close(pfd);
    errno = e;
    return -1;
  }
  if (!made) {
    ssize_t n = readlinkat(pfd, base, link, sizeof link - 1);
    if (n > 0) {
      /* A relative target is relative to the link's directory. */
      link[n] = '\0';
      char target[PATH_MAX];
      if (snprintf(target, sizeof target, "%s/%s", link[0] == '/' || !slash ? "" : parent, link) >= (int)sizeof target) {
        close(pfd);
        errno = ENAMETOOLONG;
        return -1;
      }
      close(pfd);
      return make_dir_in_root(target, depth + 1);
    }
  }
  close(pfd);
  return open_in_root(rel, O_PATH | O_DIRECTORY);
}

/*
 * The working directory, looked up after pivot_root inside the new root without following magic
 * links: an image symlink stays inside the root, and /proc/self/fd/N, /proc/N/cwd or /proc/N/root
 * (where /dev/fd leads) are refused, so no path names a directory outside the container. A
 * missing directory is made, as before.
 */
static int open_workdir(const char *cwd)
{
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    fail("open", "/");
  int fd = make_dir_in_root(cwd, 0);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
    close(fd);
    fd = -1;
    errno = ENOTDIR;
  }
  if (fd < 0)
    fail("workdir", cwd);
  close(root_fd);
  root_fd = -1;
  return fd;
}

static _Noreturn void run_init(const struct plan *p)
{
  die_with_parent();
  /* Not dumpable: the container cannot open /proc/1/exe, /proc/1/fd or ptrace us. */
  prctl(PR_SET_DUMPABLE, 0);
  /*
   * A mount namespace of the container's own: pivot_root moves the root of every process of a
   * namespace, and the helper must keep seeing the host to clean up after the run.
   */
  if (unshare(CLONE_NEWNS) < 0)
    fail("unshare", "mount namespace");
  attach_root(p);
  /* fds from the helper's namespace name its mounts, not ours: open the root again. */
  close(root_fd);
  root_fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    fail("open", p->root);

  keep_files_writable = p->readonly_root;
  /*
   * flux's own files (/etc/hosts…) first: while nothing else is mounted in the root, a lookup
   * inside it can only reach the image's own files, never /proc, /sys or a volume. Nothing is
   * written into the root after this (mount points aside) until the read-only paths are in place.
   */
  for (int i = 0; i < p->nmounts; i++)
    if (!strcmp(p->mounts[i].kind, "content"))
      do_mount(&p->mounts[i]);
  for (int i = 0; i < p->nmounts; i++)
    if (strcmp(p->mounts[i].kind, "content"))
      do_mount(&p->mounts[i]);
  if (p->readonly_root) {
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    if (mount_setattr(root_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      fail("remount read-only", "/");
  }

  /* pivot_root, then drop the old root: no host path stays reachable. */
  if (fchdir(root_fd) < 0)
    fail("chdir", p->root);
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    fail("pivot_root", p->root);
  if (umount2(".", MNT_DETACH) < 0)
    fail("unmount old root", "");
  if (chdir("/") < 0)
    fail("chdir", "/");
  close(root_fd);
  root_fd = -1;
  lap("pivoted");
  /* Nothing of the host, nor flux's files layer, may be left open for the working directory to name. */
  close_unneeded_fds();
  workdir_fd = open_workdir(p->cwd ? p->cwd : "/");
  if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
    fail("sethostname", p->hostname);

  int master = -1, slave = -1;
  if (p->tty) {
    master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
      fail("open", "/dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
      fail("unlock pty", "");
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
      fail("open pty", "");
    struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
    if (ws.ws_row && ws.ws_col)
      ioctl(master, TIOCSWINSZ, &ws);
    else
      copy_winsize(1, master);
    setup_console(slave, p);
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  add_forwarded(&mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
    /*
     * pid 1 drops a signal whose handler is SIG_DFL, even when blocked for signalfd:
     * install a real (empty) handler so forwarded signals arrive.
     */
    struct sigaction sa = { .sa_handler = noop };
    sigaction(forwarded[i], &sa, NULL);
  }
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    fail("signalfd", "");

  /* The network came up while the root was being assembled: the command needs it from here. */
  int went = 0;
  if (net_ready >= 0)
    went = await_net_ready();
  if (p->defer_go && !went)
    await_go();
  lap("go");

  /*
   * A close-on-exec pipe tells us when the command has started: its end closes with the exec
   * (nothing read), or the command's process writes a byte when it fails first (having said why).
   * Then Node hears P: `flux run -d` returns once the command runs.
   */
  int execd[2] = { -1, -1 };
  if (pipe2(execd, O_CLOEXEC) < 0)
    execd[0] = execd[1] = -1;
  pid_t child = fork();
  if (child < 0)
    fail("fork", "");
  if (child == 0) {
    if (execd[0] >= 0)
      close(execd[0]);
    exec_report_fd = execd[1];
    command_child(p, slave, &unblocked);
  }
  if (slave >= 0)
    close(slave);
  if (execd[1] >= 0)
    close(execd[1]);
  if (execd[0] >= 0) {
    char c;
    ssize_t r;
    while ((r = read(execd[0], &c, 1)) < 0 && errno == EINTR)
      ;
    close(execd[0]);
    if (r == 0)
      ctl_write("P\n");
  }
  close(ctl);
  ctl = -1;

  int in_open = p->tty && p->tty_stdin;
  if (master >= 0)
    fcntl(master, F_SETFL, O_NONBLOCK);
  int code = -1;
  char buf[16384];
  for (;;) {
    int signalled = relay_once(sfd, &master, &in_open, child, buf, sizeof buf);
    if (signalled < 0)
      break;
    if (signalled) {
      int st;
      pid_t w;
      /* Reap every child: orphans of the command are re-parented to us. */
      while ((w = waitpid(-1, &st, WNOHANG)) > 0)
        if (w == child)
          code = status_code(st);
    }
    if (code >= 0) {
      lap("command exited");
      /* Drain what the command wrote last before the terminal goes away. */
      drain_master(master, buf, sizeof buf);
      report_end(code);
    }
  }
  _exit(125);
}

/* ---------- cleanup ---------- */

/*
 * rm -rf inside the user namespace: the run dir holds files of the image's (sub-)uids. Most of
 * a run dir is empty directories (upper, work/work, root): removing first and opening only what
 * is not empty saves a directory walk each (and overlay's work/work is mode 000, which rmdir
 * does not mind: it needs write access to the parent only).
 */
static void remove_tree_once(int dfd, const char *name, int retry)
{
  if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
    return;
  if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || (errno != ENOTEMPTY && errno != EEXIST && errno != EACCES))
    return;
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      remove_tree_once(fd, e->d_name, 1);
  closedir(d);
  /* A directory we could not write into keeps its entries: open it up, retry once. */
  if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno == ENOTEMPTY && retry && fchmodat(dfd, name, 0700, 0) == 0)
    remove_tree_once(dfd, name, 0);
}

static void remove_tree(int dfd, const char *name)
{
  remove_tree_once(dfd, name, 1);
}

/*
 * A run that wrote nothing leaves only what we and overlayfs made (with "volatile" overlayfs
 * marks its work dir incompat/volatile/dirty). Removed by name, deepest first, that is one
 * system call an entry: each costs about 0.1 ms on ext4, and the walk of remove_tree nearly
 * doubles that. Anything else there (the command's files in upper/) is left to remove_tree.
 */
static void remove_run_dir(const char *dir)
{
  static const char *const made[] = {
    "work/work/incompat/volatile/dirty", "work/work/incompat/volatile", "work/work/incompat",
    "work/work", "work/index", "work", "upper", "root", "layers",
  };
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd >= 0) {
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
      if (unlinkat(dfd, made[i], AT_REMOVEDIR) < 0 && errno == ENOTDIR)
        unlinkat(dfd, made[i], 0);
    close(dfd);
    if (rmdir(dir) == 0 || errno == ENOENT)
      return;
  }
  remove_tree(AT_FDCWD, dir);
}

/* ---------- id maps, written by the helper itself ---------- */

struct mapper {
  pid_t pid;
  int go;    /* write end: closing it lets the child exec */
  int err;   /* read end of the child's stderr */
};

/*
 * newuidmap/newgidmap must run in the parent user namespace, so they are forked before unshare
 * and wait on a pipe; both then run in parallel on our pid. Cheaper than a round trip to Node.
 */
static struct mapper start_mapper(char **argv, pid_t target)
{
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
    fail("pipe", "");
  struct mapper m = { fork(), go[1], err[0] };
  if (m.pid < 0)
    fail("fork", argv[0]);
  if (m.pid == 0) {
    char c;
    close(go[1]);
    close(err[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(err[1], 2);
    if (read(go[0], &c, 1) != 1)
      _exit(125);
    /* argv[1] is the target pid placeholder */
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)target);
    argv[1] = pid;
    execv(argv[0], argv);
    dprintf(2, "%s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(go[0]);
  close(err[1]);
  return m;
}

static void finish_mapper(struct mapper *m, const char *tool)
{
  int st = wait_for(m->pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    close(m->err);
    return;
  }
  char buf[1024];
  ssize_t n = read(m->err, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  for (char *c = buf; *c; c++)
    if (*c == '\n' || *c == '\t')
      *c = ' ';
  ctl_write("M%s\t%s\n", tool, buf);
  _exit(125);
}

static void write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    fail("write", path);
  close(fd);
}

/* Writes a single-id map, or lets newuidmap and newgidmap go (finish_maps waits for them). */
static void start_maps(const struct plan *p, struct mapper *um, struct mapper *gm)
{
  if (p->single_map) {
    char buf[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(buf, sizeof buf, "0 %ld 1\n", p->single_uid);
    write_file("/proc/self/uid_map", buf);
    snprintf(buf, sizeof buf, "0 %ld 1\n", p->single_gid);
    write_file("/proc/self/gid_map", buf);
    return;
  }
  if (write(um->go, "g", 1) != 1 || write(gm->go, "g", 1) != 1)
    fail("start newuidmap", "");
  close(um->go);
  close(gm->go);
}

static void finish_maps(const struct plan *p, struct mapper *um, struct mapper *gm)
{
  if (p->single_map)
    return;
  finish_mapper(um, "newuidmap");
  finish_mapper(gm, "newgidmap");
}

/* ---------- the network helper, started by us ---------- */

static pid_t net_pid = -1;
static pid_t net_parent = -1;   /* the process that started it (init and the command inherit these statics) */
static int net_go = -1;         /* closing it without a byte cancels the start */
static int net_exit = -1;       /* our end of its exit fd: closing it makes slirp4netns exit */

/*
 * slirp4netns is forked before unshare, so it runs in the host's namespaces, and released once
 * the namespaces and the tap device exist: it attaches to our pid at once, without a round trip
 * to Node. Its readiness (its --ready-fd 4) comes to us: init starts the command once it is
 * there, and tells Node (N, or S if it went away first). Node reads its stderr (our fd 4)
 * directly. Its exit fd (its fd 3) is a pipe only we hold the other end of, so it stops when we
 * close it, or when we die.
 */
static void start_net_helper(char **argv, pid_t target)
{
  /*
   * Node reads this pipe only when it wants the text (a failure): non-blocking, a full pipe
   * drops slirp4netns's later messages instead of stopping its network.
   */
  int fl = fcntl(4, F_GETFL);
  if (fl < 0 || fcntl(4, F_SETFL, fl | O_NONBLOCK) < 0)
    fail("network helper", "no error pipe from Node");
  int go[2], ex[2], rd[2];
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0 || pipe2(rd, O_CLOEXEC) < 0)
    fail("pipe", "");
  net_pid = fork();
  if (net_pid < 0)
    fail("fork", argv[0]);
  if (net_pid == 0) {
    char c, pid[16];
    close(go[1]);
    close(ex[1]);
    close(rd[0]);
    if (read(go[0], &c, 1) != 1)
      _exit(125);
    snprintf(pid, sizeof pid, "%d", (int)target);
    for (char **a = argv; *a; a++)
      if (!strcmp(*a, "PID"))
        *a = pid;
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(4, 2) < 0 || dup2(ex[0], 3) < 0 || dup2(rd[1], 4) < 0)
      _exit(125);
    /* 0-4 stay (dup2 clears close-on-exec); nothing else goes along. */
    syscall(SYS_close_range, 5, ~0U, 0);
    execv(argv[0], argv);
    dprintf(2, "%s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(go[0]);
  close(ex[0]);
  close(rd[1]);
  /* Node sees the end of its stderr once slirp4netns is gone. */
  close(4);
  net_ready = rd[0];
  net_parent = getpid();
  net_go = go[1];
  net_exit = ex[1];
}

static void release_net_helper(void)
{
  if (net_go < 0)
    return;
  ssize_t w = write(net_go, "g", 1);
  (void)w;
  close(net_go);
  net_go = -1;
}

/*
 * Stops and reaps it: nothing of the run outlives the helper. It has nothing to save (flux
 * removes its API socket), so it is killed rather than asked through its exit fd: that is
 * immediate, where asking takes about 2 ms and a slirp4netns that hangs would need a timeout.
 */
static void stop_net_helper(void)
{
  if (net_pid <= 0 || getpid() != net_parent)
    return;
  if (net_go >= 0)
    close(net_go);
  net_go = -1;
  if (net_exit >= 0)
    close(net_exit);
  net_exit = -1;
  kill(net_pid, SIGKILL);
  wait_for(net_pid);
  net_pid = -1;
}

/* ---------- the run dir ---------- */

/* Node makes the run dir too (whoever is first), and names the run's layers in it. */
static void make_dir(const char *dir, const char *name, mode_t mode)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s%s%s", dir, *name ? "/" : "", name) >= (int)sizeof path)
    fail("run dir", dir);
  if (mkdir(path, mode) < 0 && errno != EEXIST)
    fail("mkdir", path);
}

/*
 * The layers file is made here, empty (it names no layers yet), so that Node only writes into
 * it: on this side the new inode costs nothing Node waits for. Never truncated here: Node may
 * have made and written it first.
 */
static void make_run_dir(const char *dir)
{
  make_dir(dir, "", 0700);
  make_dir(dir, "upper", 0755);
  make_dir(dir, "work", 0700);
  make_dir(dir, "root", 0755);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/layers", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("create", path);
  close(fd);
}

/*
 * The run dir is made while other work runs: each entry costs 0.1 ms or more on ext4. With
 * newuidmap and newgidmap to wait for, we make it ourselves meanwhile (a child of ours would
 * only compete with them for the CPU); otherwise a child makes it while we create the
 * namespaces. Either way the entries are made by the user's own id (unmapped or not, it is the
 * id the disk records), so they have the owner they would have from inside (root there).
 */
static pid_t start_run_dir(const char *dir)
{
  pid_t pid = fork();
  if (pid < 0)
    fail("fork", "run dir");
  if (pid == 0) {
    make_run_dir(dir);
    _exit(0);
  }
  return pid;
}

static void finish_run_dir(pid_t pid)
{
  int st = wait_for(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    _exit(125); /* it has said why (an E record) */
}

/* ---------- modes ---------- */

static pid_t init_pid = -1;

static void forward(int s)
{
  if (init_pid > 0)
    kill(init_pid, s);
}

/* The container was to be killed before init existed: it is, as soon as it does. */
static volatile sig_atomic_t kill_asked;

/*
 * SIGALRM: kill the container now. SIGKILL to pid 1 of a pid namespace kills every process in
 * it, whatever signals they ignore, so a command that passes nothing on cannot keep it alive.
 */
static void kill_container(int s)
{
  (void)s;
  kill_asked = 1;
  if (init_pid > 0)
    kill(init_pid, SIGKILL);
}

/* A new network namespace starts with lo down; containers expect 127.0.0.1 to work. */
static void loopback_up(void)
{
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
    ctl_write("W bring up the loopback interface: %s\n", strerror(errno));
  if (s >= 0)
    close(s);
}

/*
 * slirp4netns attaches to a tap device of this name when one exists. Made persistent, the device
 * is not torn down when slirp4netns closes it (that waits for RCU grace periods, tens of ms on the
 * run's exit path), but with the network namespace, by the kernel in the background. Best effort:
 * without it slirp4netns creates its own device.
 */
static void make_tap(const char *name)
{
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) == 0)
    ioctl(fd, TUNSETPERSIST, 1);
  close(fd);
}

/*
 * --network container:NAME: the user namespace of a process of that container (its ids, and
 * the capabilities over its network), then its network namespace. The other namespaces are our
 * own, made next. Joined, not created: no id maps to write (the container's are ours too).
 */
static void join_namespaces(pid_t target)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/user", (int)target);
  int user = open(path, O_RDONLY | O_CLOEXEC);
  if (user < 0)
    fail("open", path);
  snprintf(path, sizeof path, "/proc/%d/ns/net", (int)target);
  int net = open(path, O_RDONLY | O_CLOEXEC);
  if (net < 0)
    fail("open", path);
  struct stat theirs, ours;
  /* Real root runs containers without a user namespace: there is none to join then. */
  int same = fstat(user, &theirs) == 0 && stat("/proc/self/ns/user", &ours) == 0 && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev;
  if (!same && setns(user, CLONE_NEWUSER) < 0)
    fail("setns", "user");
  if (setns(net, CLONE_NEWNET) < 0)
    fail("setns", "net");
  close(user);
  close(net);
}

static int run(int argc, char **argv)
{
  /* A detached container's monitor outlives flux (monitor.c); until then ctl's end stops it. */
  if (!monitoring)
    die_with_parent();
  struct sigaction killer = { .sa_handler = kill_container, .sa_flags = SA_RESTART };
  sigaction(SIGALRM, &killer, NULL);
  struct plan p;
  plan_from_args(argc, argv);
  parse_plan(&p, 1);

  struct mapper um = { -1, -1, -1 }, gm = { -1, -1, -1 };
  int self_maps = p.userns && (p.uidmap_argv || p.single_map);
  if (self_maps && !p.single_map) {
    um = start_mapper(p.uidmap_argv, getpid());
    gm = start_mapper(p.gidmap_argv, getpid());
  }
  if (p.net_argv && (p.ns_flags & CLONE_NEWNET))
    start_net_helper(p.net_argv, getpid());
  /*
   * Node waits on the namespaces for the maps (when it writes them), a cgroup or the network.
   * Only the network may be wired while the root is assembled; the go is then awaited by init
   * right before it starts the command.
   */
  p.defer_go = p.wait_go && p.defer_go && !(p.userns && !self_maps);
  /* The cgroup namespace comes after Node has put us into the run's cgroup (limits), if any. */
  int late_cgroup = p.wait_go && !p.defer_go && (p.ns_flags & CLONE_NEWCGROUP);
  int maps_to_wait = self_maps && !p.single_map;
  pid_t dir_maker = p.run_dir && !maps_to_wait ? start_run_dir(p.run_dir) : -1;
  int ns_flags = p.ns_flags & ~(late_cgroup ? CLONE_NEWCGROUP : 0);
  /*
   * The user namespace first, so newuidmap and newgidmap start on it at once: the other
   * namespaces (a network namespace costs most) are made while they run. We hold every
   * capability in the new user namespace from its creation, mapped or not.
   */
  if (self_maps) {
    if (unshare(CLONE_NEWUSER) < 0)
      fail("unshare", "user namespace");
    start_maps(&p, &um, &gm);
    ns_flags &= ~CLONE_NEWUSER;
  }
  if (p.join_pid > 0) {
    join_namespaces((pid_t)p.join_pid);
    ns_flags &= ~(CLONE_NEWUSER | CLONE_NEWNET);
  }
  if (unshare(ns_flags) < 0)
    fail("unshare", p.userns ? "user namespace" : "namespaces");
  lap("unshared");
  /* The tap needs only the namespaces (we hold every capability in ours): made while the ids map. */
  if (p.tap && (p.ns_flags & CLONE_NEWNET))
    make_tap(p.tap);
  if (maps_to_wait && p.run_dir)
    make_run_dir(p.run_dir);
  if (self_maps)
    finish_maps(&p, &um, &gm);
  lap("mapped");
  /*
   * slirp4netns joins the namespaces: it fails now and then while the ids are not mapped yet.
   * With work of Node's to wait for (-p), the command waits for its full readiness instead.
   */
  if (p.net_argv && !p.defer_go)
    watch_routes();
  release_net_helper();
  if (p.defer_go)
    ctl_write("R\n");
  if (dir_maker > 0)
    finish_run_dir(dir_maker);
  lap("run dir made");
  if (!read_container_plan()) {
    stop_net_helper();
    _exit(125);
  }
  parse_plan(&p, 2);
  lap("container plan read");
  if (!p.defer_go && ((p.userns && !self_maps) || p.wait_go))
    handshake();
  if (late_cgroup && unshare(CLONE_NEWCGROUP) < 0)
    fail("unshare", "cgroup namespace");
  if (p.userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    fail("become root in the user namespace", "");
  if (p.ns_flags & CLONE_NEWNET)
    loopback_up();
  /* Nothing we mount may propagate back to the host's mount table. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail("make mounts private", "/");

  mount_rootfs(&p);
  lap("root mounted");
  root_fd = open(p.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    fail("open", p.root);

  if (unshare(CLONE_NEWPID) < 0)
    fail("unshare", "pid namespace");
  /*
   * A signal for the command may come while init still builds the container, before it reads
   * signals on its signalfd: held back (blocked) from here, it waits for init instead of being
   * lost. Init inherits the blocked set; we let ours through once init exists.
   */
  sigset_t held;
  sigemptyset(&held);
  add_forwarded(&held);
  sigprocmask(SIG_BLOCK, &held, &unblocked);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
    struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };
    sigaction(forwarded[i], &sa, NULL);
  }
  int ends[2] = { -1, -1 };
  if (pipe2(ends, O_CLOEXEC) < 0)
    ends[0] = ends[1] = -1;
  if (monitoring)
    monitor_pipes();
  init_pid = fork();
  if (init_pid < 0)
    fail("fork", "init");
  if (init_pid == 0) {
    monitor_child_stdio();
    init_report = ends[1];
    signal(SIGALRM, SIG_DFL);
    run_init(&p);
  }
  if (kill_asked)
    kill(init_pid, SIGKILL);
  sigprocmask(SIG_SETMASK, &unblocked, NULL);
  close(root_fd);
  if (root_mnt >= 0)
    close(root_mnt);
  if (ends[1] >= 0)
    close(ends[1]);
  if (net_routes >= 0)
    close(net_routes);
  net_routes = -1;

  /* Init's word that the container is empty (report_end), or else its exit. */
  int code = -1;
  unsigned char status;
  ssize_t got = 0;
  if (monitoring && ends[0] >= 0)
    got = monitor_relay(ends[0], &status, init_pid);
  while (!monitoring && ends[0] >= 0 && (got = read(ends[0], &status, 1)) < 0 && errno == EINTR)
    ;
  if (ends[0] >= 0 && got == 1) {
    code = status;
    lap("container empty");
  } else {
    code = status_code(wait_for(init_pid));
    init_pid = -1;
    lap("init exited");
  }
  code = monitor_code(code);
  if (ends[0] >= 0)
    close(ends[0]);
  /*
   * A network helper that went away on its own before we stop it (it failed after configuring
   * the network, or crashed): the command ran without a network. Node says so, quoting it.
   */
  if (net_pid > 0 && waitpid(net_pid, NULL, WNOHANG) == net_pid) {
    net_pid = -1;
    ctl_write("S\n");
  }
  /* Node may go on with its own part of the ending while we clean up. */
  ctl_write("C%d\n", code);

  /* Nobody is left to use the network helper: it goes meanwhile (stop_net_helper below reaps it). */
  if (net_pid > 0)
    kill(net_pid, SIGKILL);
  /*
   * Take the rootfs down before removing the run dir beneath it: fuse-overlayfs or a copy (the
   * native overlay is attached in init's mount namespace only, and goes with it).
   */
  if (umount2(p.root, MNT_DETACH) < 0 && errno != EINVAL)
    ctl_write("W unmount %s: %s\n", p.root, strerror(errno));
  lap("unmounted");
  if (fuse_pid > 0) {
    kill(fuse_pid, SIGTERM);
    waitpid(fuse_pid, NULL, 0);
  }
  if (p.cleanup)
    remove_run_dir(p.cleanup);
  lap("cleaned up");
  stop_net_helper();
  lap("network helper gone");
  /* Init was only taking the container's mounts down: nothing of the run outlives flux. */
  if (init_pid > 0) {
    wait_for(init_pid);
    init_pid = -1;
    lap("init exited");
  }
  /*
   * Everything is cleaned up: Node need not wait for our exit to finish before it goes on. Our
   * stdout and stderr go first, so output Node reads through pipes ends now, not at our exit.
   */
  int null = monitoring ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
  ctl_write("D%d\n", code);
  return monitoring ? monitor_finish(code, ctl) : code;
}

/* ---------- exec: a process joining a running container ---------- */

/*
 * `flux exec`: joins the namespaces of a process of a running container (one that runs the
 * image's programs: init is not dumpable, so its /proc entries are closed to us), takes its
 * root, and starts the command as run does (command_child: user, groups, seccomp, capabilities,
 * no_new_privs, only fds 0-2). The user namespace comes first: it gives the capabilities the
 * others need. A namespace the container shares with us (--network host) is left as it is.
 * The process stays our child, in the container's pid namespace; we forward signals to it and
 * exit with its status.
 */
static int exec_in(int argc, char **argv)
{
  static const struct { const char *name; int type; } kinds[] = {
    { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS }, { "pid", CLONE_NEWPID }, { "uts", CLONE_NEWUTS },
    { "ipc", CLONE_NEWIPC }, { "net", CLONE_NEWNET }, { "cgroup", CLONE_NEWCGROUP },
  };
  enum { NKINDS = sizeof kinds / sizeof *kinds };
  die_with_parent();
  prctl(PR_SET_DUMPABLE, 0);
  if (argc < 1) {
    errno = EINVAL;
    fail("exec", "no target process");
  }
  pid_t target = (pid_t)plan_number(argv[0], 10, INT_MAX, "exec target");
  plan_from_args(argc - 1, argv + 1);
  struct plan p;
  memset(&p, 0, sizeof p);
  p.mounts = xcalloc(256, sizeof *p.mounts);
  p.root = "/";
  parse_plan(&p, 2);
  int fds[NKINDS];
  char path[64];
  for (int i = 0; i < NKINDS; i++) {
    struct stat theirs, ours;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, kinds[i].name);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0 || fstat(fds[i], &theirs) < 0)
      fail("open", path);
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i].name);
    if (stat(path, &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  p.userns = fds[0] >= 0;
  snprintf(path, sizeof path, "/proc/%d/root", (int)target);
  int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    fail("open", path);
  for (int i = 0; i < NKINDS; i++)
    if (fds[i] >= 0) {
      if (setns(fds[i], kinds[i].type) < 0)
        fail("setns", kinds[i].name);
      close(fds[i]);
    }
  if (fchdir(root) < 0 || chroot(".") < 0)
    fail("enter the container's root", "");
  close(root);
  workdir_fd = open_workdir(p.cwd ? p.cwd : "/");
  /* -t: a terminal of the container's own devpts (as run makes one), relayed to ours. */
  int master = -1, slave = -1;
  if (p.tty) {
    master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
      fail("open", "/dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
      fail("unlock pty", "");
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
      fail("open pty", "");
    struct winsize ws = { .ws_row = p.rows, .ws_col = p.cols };
    if (ws.ws_row && ws.ws_col)
      ioctl(master, TIOCSWINSZ, &ws);
    else
      copy_winsize(1, master);
    if (fchown(slave, p.uid, (gid_t)-1) < 0)
      fail("chown", "the terminal");
  }
  sigset_t mask, old;
  sigemptyset(&mask);
  add_forwarded(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, &old);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    fail("signalfd", "");
  pid_t child = fork();
  if (child < 0)
    fail("fork", "");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    command_child(&p, slave, &old);
  }
  if (slave >= 0)
    close(slave);
  int in_open = p.tty && p.tty_stdin;
  if (master >= 0)
    fcntl(master, F_SETFL, O_NONBLOCK);
  char buf[16384];
  for (;;) {
    int signalled = relay_once(sfd, &master, &in_open, child, buf, sizeof buf);
    if (signalled < 0)
      return 125;
    int st;
    if (signalled && waitpid(child, &st, WNOHANG) == child) {
      drain_master(master, buf, sizeof buf);
      return status_code(st);
    }
  }
}

static int userns(char **argv)
{
  die_with_parent();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    fail("unshare", "user namespace");
  handshake();
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    fail("become root in the user namespace", "");
  /* Drop the host's supplementary groups (they would show as nogroup); denied with a single-id map. */
  setgroups(0, NULL);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail("make mounts private", "/");
  execvp(argv[0], argv);
  int e = errno;
  ctl_write("X%d\t%s\n", e, argv[0]);
  _exit(e == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
  const char *origin = getenv("FLUX_TIMING_ORIGIN");
  if (origin)
    timing_origin = strtod(origin, NULL);
  lap("started");
  if (argc >= 3) {
    char *end;
    long fd = strtol(argv[2], &end, 10);
    ctl = *argv[2] && !*end && fd >= 3 && fd <= INT_MAX ? (int)fd : -1;
    if (argc >= 3 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "exec") || !strcmp(argv[1], "monitor")))
      reexec_sealed(argv); /* before ctl becomes close-on-exec */
    if (ctl < 3 || fcntl(ctl, F_SETFD, FD_CLOEXEC) < 0) {
      fprintf(stderr, "flux-helper: bad control fd\n");
      return 125;
    }
  }
  if (argc >= 3 && !strcmp(argv[1], "run"))
    return run(argc - 3, argv + 3);
  if (argc >= 3 && !strcmp(argv[1], "monitor")) {
    int used = monitor_args(argc - 3, argv + 3);
    if (used < 0) {
      fprintf(stderr, "flux-helper: bad monitor arguments\n");
      return 125;
    }
    return run(argc - 3 - used, argv + 3 + used);
  }
  if (argc >= 5 && !strcmp(argv[1], "userns") && !strcmp(argv[3], "--"))
    return userns(argv + 4);
  if (argc >= 4 && !strcmp(argv[1], "exec"))
    return exec_in(argc - 3, argv + 3);
  fprintf(stderr, "usage: flux-helper run CTLFD PLAN... | flux-helper monitor CTLFD DIR EVENTS ID NAME LOGMAX TIMEOUT STOPSIG N END... PLAN... | flux-helper exec CTLFD PID PLAN... | flux-helper userns CTLFD -- ARGV...\n"
                  "flux-helper is started by flux; it is not meant to be run by hand.\n");
  return 125;
}

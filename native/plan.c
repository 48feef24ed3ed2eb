/* The plan parser: both parts of the plan, every number checked, allocations bounded by the plan. */
#include "flux-helper.h"

/* Far more than any plan needs (the kernel takes a command line of 2 MiB at most). */
#define PLAN_MAX (64u << 20)

static char *plan_buf;
static size_t plan_len, plan_pos;

/* The plan fuzzer (native/fuzz) hands the parser a buffer of its own, or none. */
void plan_use(char *buf, size_t len)
{
  plan_buf = buf;
  plan_len = len;
  plan_pos = 0;
}

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
unsigned long long plan_number(const char *t, int base, unsigned long long max, const char *what)
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
void plan_from_args(int argc, char **argv)
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
int read_container_plan(void)
{
  char hdr[32];
  size_t i = 0;
  for (;;) {
    if (i == sizeof hdr - 1) {
      errno = EINVAL;
      fail("plan header", "");
    }
    if (!read_full(state.ctl, hdr + i, 1, i == 0))
      return 0;
    if (hdr[i] == '\n')
      break;
    i++;
  }
  hdr[i] = '\0';
  plan_len = (size_t)plan_number(hdr, 10, PLAN_MAX, "plan length");
  plan_pos = 0;
  plan_buf = xmalloc(plan_len + 1);
  read_full(state.ctl, plan_buf, plan_len, 0);
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
    if (first + i != state.ctl)
      close(first + i);
  }
  state.npreserved = n;
}

/* Parses the part of the plan in plan_buf into p. */
void parse_plan(struct plan *p, int part)
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

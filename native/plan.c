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

/* ---------- the operations ---------- */

static void op_ns(struct plan *p)
{
  const char *f = tok();
  p->ns_flags = CLONE_NEWNS;
  if (strstr(f, "user")) { p->ns_flags |= CLONE_NEWUSER; p->userns = 1; }
  if (strstr(f, "uts")) p->ns_flags |= CLONE_NEWUTS;
  if (strstr(f, "ipc")) p->ns_flags |= CLONE_NEWIPC;
  if (strstr(f, "cgroup")) p->ns_flags |= CLONE_NEWCGROUP;
  if (strstr(f, "net")) p->ns_flags |= CLONE_NEWNET;
}

static void op_maps(struct plan *p)
{
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
}

static void op_single_map(struct plan *p)
{
  p->single_map = 1;
  p->single_uid = (long)id();
  p->single_gid = (long)id();
}

static void op_wait(struct plan *p)
{
  p->wait_go = 1;
}

static void op_defer_go(struct plan *p)
{
  p->defer_go = 1;
}

static void op_tap(struct plan *p)
{
  p->tap = tok();
}

static void op_net_helper(struct plan *p)
{
  size_t n = count();
  if (n < 1) {
    errno = EINVAL;
    fail("plan", "network helper without a command");
  }
  p->net_argv = tokens(n, 0);
}

static void op_run_dir(struct plan *p)
{
  p->run_dir = tok();
}

static void op_preserve_fds(struct plan *p)
{
  /* FIRST N: our fds FIRST… (Node's extra stdio) become the command's 3…3+N-1 */
  int first = (int)num(1024);
  int n = (int)num(PRESERVE_MAX);
  if (first < 3) {
    errno = EINVAL;
    fail("plan", "preserved fds below 3");
  }
  keep_preserved(first, n);
}

static void op_join(struct plan *p)
{
  p->join_pid = (long)plan_number(tok(), 10, INT_MAX, "join target");
}

static void op_overlay(struct plan *p)
{
  p->rootfs_kind = "overlay";
  p->root = tok();
  p->upper = tok();
  p->work = tok();
  p->userxattr = flag();
  size_t n = count();
  p->nlower = (int)n;
  p->lower = (const char **)tokens(n, 0);
}

static void op_fuse(struct plan *p)
{
  p->fuse_bin = tok();
  p->fuse_only = flag();
}

static void op_fuse_maps(struct plan *p)
{
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
}

static void op_bindroot(struct plan *p)
{
  p->rootfs_kind = "bind";
  p->bind_src = tok();
  p->root = tok();
}

static void op_mount(struct plan *p)
{
  if (p->nmounts == 256) {
    errno = E2BIG;
    fail("plan", "too many mounts");
  }
  struct mount_op *m = &p->mounts[p->nmounts++];
  m->kind = tok();
  m->a = tok();
  m->b = tok();
  m->c = tok();
}

static void op_readonly(struct plan *p)
{
  p->readonly_root = 1;
}

static void op_hostname(struct plan *p)
{
  p->hostname = tok();
}

static void op_cwd(struct plan *p)
{
  p->cwd = tok();
}

static void op_user(struct plan *p)
{
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
}

static void op_caps(struct plan *p)
{
  const char *c = tok();
  if (!strcmp(c, "all"))
    p->all_caps = 1;
  else
    p->caps = plan_number(c, 16, UINT64_MAX, "plan capabilities");
}

static void op_nnp(struct plan *p)
{
  p->nnp = 1;
}

static void op_rlimits(struct plan *p)
{
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
}

static void op_tty(struct plan *p)
{
  p->tty = 1;
  p->tty_stdin = flag();
  p->rows = (unsigned short)num(USHRT_MAX);
  p->cols = (unsigned short)num(USHRT_MAX);
}

static void op_env(struct plan *p)
{
  p->env = tokens(count(), 0);
}

static void op_argv(struct plan *p)
{
  p->argv = tokens(count(), 0);
}

static void op_path(struct plan *p)
{
  p->path = tok();
}

static void op_seccomp(struct plan *p)
{
  p->seccomp = 1;
}

static void op_cleanup(struct plan *p)
{
  p->cleanup = tok();
}

/*
 * Every operation of the plan, the one table the parser dispatches through (flux-helper
 * --list-ops prints it). PART 1 comes as the helper's arguments, before the namespaces exist;
 * PART 2 on the control socket, after. src/sandbox/plan.ts writes the same operations
 * (test/unit/helper-op-table.test.ts holds the two together).
 */
const struct plan_op PLAN_OPS[] = {
  { "ns", 1, "user,uts,ipc,cgroup,net", op_ns },
  { "maps", 1, "N NEWUIDMAP-ARGV… N NEWGIDMAP-ARGV…", op_maps },
  { "single-map", 1, "UID GID", op_single_map },
  { "wait", 1, "", op_wait },
  { "defer-go", 1, "", op_defer_go },
  { "tap", 1, "NAME", op_tap },
  { "net-helper", 1, "N ARGV…", op_net_helper },
  { "run-dir", 1, "DIR", op_run_dir },
  { "preserve-fds", 1, "FIRST N", op_preserve_fds },
  { "join", 1, "PID", op_join },
  { "overlay", 2, "ROOT UPPER WORK USERXATTR N LOWER…", op_overlay },
  { "fuse", 2, "BIN ONLY", op_fuse },
  { "fuse-maps", 2, "UIDMAPPING GIDMAPPING", op_fuse_maps },
  { "bindroot", 2, "SRC ROOT", op_bindroot },
  { "mount", 2, "KIND A B C", op_mount },
  { "readonly", 2, "", op_readonly },
  { "hostname", 2, "NAME", op_hostname },
  { "cwd", 2, "DIR", op_cwd },
  { "user", 2, "UID GID N GID…", op_user },
  { "caps", 2, "all|HEXMASK", op_caps },
  { "nnp", 2, "", op_nnp },
  { "rlimits", 2, "N RESOURCE SOFT HARD…", op_rlimits },
  { "tty", 2, "STDIN ROWS COLS", op_tty },
  { "env", 2, "N VAR=VALUE…", op_env },
  { "argv", 2, "N ARG…", op_argv },
  { "path", 2, "PATH", op_path },
  { "seccomp", 2, "", op_seccomp },
  { "cleanup", 2, "DIR", op_cleanup },
};
const size_t NPLAN_OPS = sizeof PLAN_OPS / sizeof *PLAN_OPS;

static const struct plan_op *find_plan_op(const char *name)
{
  for (size_t i = 0; i < NPLAN_OPS; i++)
    if (!strcmp(name, PLAN_OPS[i].name))
      return &PLAN_OPS[i];
  return NULL;
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
    const struct plan_op *o = find_plan_op(op);
    /* An operation the table lacks belongs to no part: refused as out of place in the first. */
    if ((o && o->part == 1) != (part == 1)) {
      errno = EINVAL;
      fail(part == 1 ? "plan operation before the namespaces exist" : "plan operation after the namespaces exist", op);
    }
    if (!o) {
      errno = EINVAL;
      fail("plan operation", op);
    }
    o->parse(p);
  }
  if (part == 2 && (!p->root || !p->argv || !p->argv[0])) {
    errno = EINVAL;
    fail("plan", "no rootfs or command");
  }
}

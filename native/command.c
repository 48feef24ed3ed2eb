/* The command's process, from its fork (by init, or by exec mode) to its exec. */
#include "flux-helper.h"

/* In the command's process, after every other fd became close-on-exec: the preserved ones as 3…. */
static void preserve_for_command(void)
{
  if (!state.npreserved)
    return;
  /* The control socket may sit where they go: it moves above them (it reports a failed exec). */
  int moved = fcntl(state.ctl, F_DUPFD_CLOEXEC, 3 + state.npreserved);
  if (moved < 0)
    fail("preserve fd", "ctl");
  state.ctl = moved;
  for (int i = 0; i < state.npreserved; i++)
    if (dup2(PRESERVED_AT + i, 3 + i) < 0)
      fail("preserve fd", "");
}

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
  if (state.exec_report_fd >= 0)
    (void)!write(state.exec_report_fd, "x", 1);
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

void command_child(const struct plan *p, int slave, const sigset_t *oldmask)
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
  int in_workdir = fchdir(state.workdir_fd) == 0;
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
  if (!in_workdir && fchdir(state.workdir_fd) < 0)
    fail("workdir", p->cwd);
  /* Only 0, 1 and 2 cross into the command (CVE-2024-21626); ctl stays open until exec. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    fail("close_range", "");
  /* --preserve-fds: those the user named, and only those, go along as 3… */
  preserve_for_command();
  exec_command(p);
}

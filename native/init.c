/* Init: pid 1 of the container. It assembles the root, pivots, starts the command and reaps. */
#include "flux-helper.h"

static void noop(int s) { (void)s; }

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
      while (write(state.init_report, &c, 1) < 0 && errno == EINTR)
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
  int keep[4 + PRESERVE_MAX] = { state.ctl, state.init_report, state.net_ready, state.net_routes };
  int N = 4;
  for (int i = 0; i < state.npreserved; i++)
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
  state.files_layer = -1;
}

/*
 * /proc/1/cmdline is readable by every process of the container, whatever its user, and shows
 * the helper's arguments: the run's plan, with the host paths of the layers, the volumes, the
 * store and the runtime directory, and the id maps. Once the command's process is forked init
 * needs none of them (the plan's strings point into them, and the child has its own copy), so
 * they are wiped, leaving "flux-init", before the command may start.
 */
static void hide_args(void)
{
  static const char name[] = "flux-init";
  if (!state.args || state.args_len == 0)
    return;
  memset(state.args, 0, state.args_len);
  if (state.args_len >= sizeof name)
    memcpy(state.args, name, sizeof name);
}

_Noreturn void run_init(const struct plan *p)
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
  close(state.root_fd);
  state.root_fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (state.root_fd < 0)
    fail("open", p->root);

  state.keep_files_writable = p->readonly_root;
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
    if (mount_setattr(state.root_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      fail("remount read-only", "/");
  }

  /* pivot_root, then drop the old root: no host path stays reachable. */
  if (fchdir(state.root_fd) < 0)
    fail("chdir", p->root);
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    fail("pivot_root", p->root);
  if (umount2(".", MNT_DETACH) < 0)
    fail("unmount old root", "");
  if (chdir("/") < 0)
    fail("chdir", "/");
  close(state.root_fd);
  state.root_fd = -1;
  lap("pivoted");
  /* Nothing of the host, nor flux's files layer, may be left open for the working directory to name. */
  close_unneeded_fds();
  state.workdir_fd = open_workdir(p->cwd ? p->cwd : "/", 1);
  if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
    fail("sethostname", p->hostname);

  int master = -1, slave = -1;
  if (p->tty) {
    master = open_pty(p, &slave);
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
  if (state.net_ready >= 0)
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
  /* The command starts only once init's arguments are wiped (hide_args): it closes `wiped`. */
  int wiped[2];
  if (pipe2(wiped, O_CLOEXEC) < 0)
    fail("pipe", "");
  pid_t child = fork();
  if (child < 0)
    fail("fork", "");
  if (child == 0) {
    if (execd[0] >= 0)
      close(execd[0]);
    close(wiped[1]);
    char c;
    while (read(wiped[0], &c, 1) < 0 && errno == EINTR)
      ;
    close(wiped[0]);
    state.exec_report_fd = execd[1];
    command_child(p, slave, &state.unblocked);
  }
  /* From here on init needs no string of the plan: the child has its own copy of them. */
  close(wiped[0]);
  hide_args();
  close(wiped[1]);
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
  close(state.ctl);
  state.ctl = -1;

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

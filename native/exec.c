/* Exec mode (`flux-helper exec CTLFD PID PLAN...`): a process joining a running container. */
#include "flux-helper.h"

/*
 * `flux exec`: joins the namespaces of a process of a running container (one that runs the
 * image's programs: init is not dumpable, so its /proc entries are closed to us), takes its
 * root, and starts the command as run does (command_child: user, groups, seccomp, capabilities,
 * no_new_privs, only fds 0-2). The user namespace comes first: it gives the capabilities the
 * others need. A namespace the container shares with us (--network host) is left as it is.
 * The process stays our child, in the container's pid namespace; we forward signals to it and
 * exit with its status.
 */
int exec_in(int argc, char **argv)
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
  /* Nothing is made in a running container: a missing directory is an error, as with docker exec. */
  state.workdir_fd = open_workdir(p.cwd ? p.cwd : "/", 0);
  /* -t: a terminal of the container's own devpts (as run makes one), relayed to ours. */
  int master = -1, slave = -1;
  if (p.tty) {
    master = open_pty(&p, &slave);
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

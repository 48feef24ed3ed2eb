/*
 * Run mode (`flux-helper run CTLFD PLAN...`): namespaces and id maps from the first part of the
 * plan, the root file system from the second, then init; the ending and the cleanup after it.
 */
#include "flux-helper.h"

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

int run(int argc, char **argv)
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
  state.root_fd = open(p.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (state.root_fd < 0)
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
  sigprocmask(SIG_BLOCK, &held, &state.unblocked);
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
    state.init_report = ends[1];
    signal(SIGALRM, SIG_DFL);
    run_init(&p);
  }
  if (kill_asked)
    kill(init_pid, SIGKILL);
  sigprocmask(SIG_SETMASK, &state.unblocked, NULL);
  close(state.root_fd);
  if (state.root_mnt >= 0)
    close(state.root_mnt);
  if (ends[1] >= 0)
    close(ends[1]);
  if (state.net_routes >= 0)
    close(state.net_routes);
  state.net_routes = -1;

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
  if (state.net_pid > 0 && waitpid(state.net_pid, NULL, WNOHANG) == state.net_pid) {
    state.net_pid = -1;
    ctl_write("S\n");
  }
  /* Node may go on with its own part of the ending while we clean up. */
  ctl_write("C%d\n", code);

  /* Nobody is left to use the network helper: it goes meanwhile (stop_net_helper below reaps it). */
  if (state.net_pid > 0)
    kill(state.net_pid, SIGKILL);
  /*
   * Take the rootfs down before removing the run dir beneath it: fuse-overlayfs or a copy (the
   * native overlay is attached in init's mount namespace only, and goes with it).
   */
  if (umount2(p.root, MNT_DETACH) < 0 && errno != EINVAL)
    ctl_write("W unmount %s: %s\n", p.root, strerror(errno));
  lap("unmounted");
  if (state.fuse_pid > 0) {
    kill(state.fuse_pid, SIGTERM);
    waitpid(state.fuse_pid, NULL, 0);
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
  return monitoring ? monitor_finish(code, state.ctl) : code;
}

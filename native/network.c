/*
 * The network: the network helper (slirp4netns) we start and its readiness, the loopback
 * interface and the tap device of a new network namespace, and joining another container's.
 */
#include "flux-helper.h"

/*
 * slirp4netns configures the namespace (tap0 up, its address, then the default route) before it
 * makes its sandbox and seccomp filter, and says it is ready only after those, some 3 ms later.
 * Once the route is there, packets the command sends wait in tap0's queue until slirp4netns
 * reads them, which it does only from inside its sandbox: the command can start. We subscribe
 * before slirp4netns starts, so the route cannot come unseen.
 */
void watch_routes(void)
{
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_ROUTE };
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    fd = -1;
  }
  state.net_routes = fd; /* without it, init waits for slirp4netns's own word */
}

/* 1 once a default IPv4 route has been added in our network namespace. */
static int default_route_added(void)
{
  char buf[8192];
  for (;;) {
    ssize_t n = recv(state.net_routes, buf, sizeof buf, 0);
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
int await_net_ready(void)
{
  int went = 0;
  for (;;) {
    struct pollfd fds[3] = { { state.net_ready, POLLIN, 0 }, { state.ctl, POLLIN, 0 }, { state.net_routes, POLLIN, 0 } };
    if (poll(fds, state.net_routes >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      fail("poll", "network helper");
    }
    if (fds[1].revents) {
      char c = 0;
      ssize_t r = read(state.ctl, &c, 1);
      if (r == 1 && c == 'G')
        went = 1;
      else if (r == 1 && c == '\n')
        ;
      else if (!(r < 0 && errno == EINTR))
        _exit(125); /* Node aborted or died: it has already said why. */
    }
    if (fds[0].revents) {
      char c = 0;
      ssize_t r = read(state.net_ready, &c, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r == 1 && c == '1')
        break;
      ctl_write("S\n");
      _exit(125);
    }
    if (state.net_routes >= 0 && fds[2].revents && default_route_added())
      break;
  }
  close(state.net_ready);
  state.net_ready = -1;
  if (state.net_routes >= 0)
    close(state.net_routes);
  state.net_routes = -1;
  ctl_write("N\n");
  return went;
}

/* ---------- the network helper, started by us ---------- */

/* The process that started it (init and the command inherit these statics): only it stops it. */
static pid_t net_parent = -1;
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
void start_net_helper(char **argv, pid_t target)
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
  state.net_pid = fork();
  if (state.net_pid < 0)
    fail("fork", argv[0]);
  if (state.net_pid == 0) {
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
  state.net_ready = rd[0];
  net_parent = getpid();
  net_go = go[1];
  net_exit = ex[1];
}

void release_net_helper(void)
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
void stop_net_helper(void)
{
  if (state.net_pid <= 0 || getpid() != net_parent)
    return;
  if (net_go >= 0)
    close(net_go);
  net_go = -1;
  if (net_exit >= 0)
    close(net_exit);
  net_exit = -1;
  kill(state.net_pid, SIGKILL);
  wait_for(state.net_pid);
  state.net_pid = -1;
}

/* A new network namespace starts with lo down; containers expect 127.0.0.1 to work. */
void loopback_up(void)
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
void make_tap(const char *name)
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
void join_namespaces(pid_t target)
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

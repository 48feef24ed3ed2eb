/* The loop that runs a command: signals passed on, the terminal copied both ways. */
#include "flux-helper.h"

/* The signals passed on to the command (by the helper to init, by init or exec to the command). */
const int forwarded[NFORWARDED] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

void add_forwarded(sigset_t *set)
{
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
    sigaddset(set, forwarded[i]);
}

void copy_winsize(int from, int to)
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
int relay_once(int sfd, int *master, int *in_open, pid_t child, char *buf, size_t len)
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
void drain_master(int master, char *buf, size_t len)
{
  ssize_t r;
  if (master >= 0)
    while ((r = read(master, buf, len)) > 0)
      write_all(1, buf, (size_t)r);
}

/*
 * A terminal of the container's own devpts (mounted in its root, so after pivot_root or chroot):
 * returns the master, the slave in *slave, sized as the plan says or as our own terminal is.
 * Used by run's init and by exec alike.
 */
int open_pty(const struct plan *p, int *slave)
{
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    fail("open", "/dev/pts/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
    fail("unlock pty", "");
  *slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (*slave < 0)
    fail("open pty", "");
  struct winsize ws = { .ws_row = p->rows, .ws_col = p->cols };
  if (ws.ws_row && ws.ws_col)
    ioctl(master, TIOCSWINSZ, &ws);
  else
    copy_winsize(1, master);
  return master;
}

/* Id maps written by the helper itself: newuidmap and newgidmap started before unshare, or a single-id map. */
#include "flux-helper.h"

/*
 * newuidmap/newgidmap must run in the parent user namespace, so they are forked before unshare
 * and wait on a pipe; both then run in parallel on our pid. Cheaper than a round trip to Node.
 */
struct mapper start_mapper(char **argv, pid_t target)
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
void start_maps(const struct plan *p, struct mapper *um, struct mapper *gm)
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

void finish_maps(const struct plan *p, struct mapper *um, struct mapper *gm)
{
  if (p->single_map)
    return;
  finish_mapper(um, "newuidmap");
  finish_mapper(gm, "newgidmap");
}

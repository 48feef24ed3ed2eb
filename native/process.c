/* The helper's own process: it dies with its parent, runs from a sealed copy, reads wait statuses. */
#include "flux-helper.h"

void die_with_parent(void)
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
void reexec_sealed(char **argv)
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

/* Waits for our child `pid` and gives its wait status (0 if it was not ours to wait for). */
int wait_for(pid_t pid)
{
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return st;
}

int status_code(int st)
{
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return 125;
}

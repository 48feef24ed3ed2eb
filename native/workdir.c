/* The working directory, looked up (and made) inside the root after pivot_root. */
#include "flux-helper.h"

/*
 * mkdir -p inside the root, a directory that exists already included; an O_PATH fd on it. Unlike
 * target_in_root it never replaces what the image has: a dangling symlink on the way is followed,
 * inside the root, and its target made, as docker makes a missing WorkingDir.
 */
static int make_dir_in_root(const char *rel, int depth)
{
  int fd = open_in_root(rel, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (depth > 40) {
    errno = ELOOP;
    return -1;
  }
  char parent[PATH_MAX], link[PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", rel) >= (int)sizeof parent) {
    errno = ENAMETOOLONG;
    return -1;
  }
  char *slash = strrchr(parent, '/');
  const char *base = slash ? rel + (slash - parent) + 1 : rel;
  if (slash)
    *slash = '\0';
  int pfd = make_dir_in_root(slash && *parent ? parent : ".", depth + 1);
  if (pfd < 0)
    return -1;
  /* Nothing is made in /proc or /sys, nor a link there followed (our own lookup adds fds to /proc/self/fd). */
  struct statfs sfs;
  if (fstatfs(pfd, &sfs) < 0 || sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC) {
    close(pfd);
    errno = ENOENT;
    return -1;
  }
  int made = mkdirat(pfd, base, 0755) == 0;
  if (!made && errno != EEXIST) {
    int e = errno; /* a read-only root, say */
    close(pfd);
    errno = e;
    return -1;
  }
  if (!made) {
    ssize_t n = readlinkat(pfd, base, link, sizeof link - 1);
    if (n > 0) {
      /* A relative target is relative to the link's directory. */
      link[n] = '\0';
      char target[PATH_MAX];
      if (snprintf(target, sizeof target, "%s/%s", link[0] == '/' || !slash ? "" : parent, link) >= (int)sizeof target) {
        close(pfd);
        errno = ENAMETOOLONG;
        return -1;
      }
      close(pfd);
      return make_dir_in_root(target, depth + 1);
    }
  }
  close(pfd);
  return open_in_root(rel, O_PATH | O_DIRECTORY);
}

/*
 * The working directory, looked up after pivot_root inside the new root without following magic
 * links: an image symlink stays inside the root, and /proc/self/fd/N, /proc/N/cwd or /proc/N/root
 * (where /dev/fd leads) are refused, so no path names a directory outside the container. With
 * MAKE (a run: docker run makes a missing WorkingDir or -w) a missing directory is made; without
 * (an exec into a running container, as docker and podman exec) it is an error.
 */
int open_workdir(const char *cwd, int make)
{
  state.root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (state.root_fd < 0)
    fail("open", "/");
  int fd = make ? make_dir_in_root(cwd, 0) : open_in_root(cwd, O_PATH | O_DIRECTORY);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
    close(fd);
    fd = -1;
    errno = ENOTDIR;
  }
  if (fd < 0)
    fail("workdir", cwd);
  close(state.root_fd);
  state.root_fd = -1;
  return fd;
}

/* Paths looked up inside the new root, and the mounts of the plan (proc, sysfs, tmpfs, binds, masks…). */
#include "flux-helper.h"

/* REL inside the root (leading slashes dropped, "" the root itself), resolved as RESOLVE says. */
static int open_resolved(const char *rel, int flags, uint64_t resolve)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = resolve,
  };
  while (*rel == '/')
    rel++;
  if (*rel == '\0')
    rel = ".";
  return (int)syscall(SYS_openat2, state.root_fd, rel, &how, sizeof how);
}

int open_in_root(const char *rel, int flags)
{
  return open_resolved(rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/*
 * Whether REL lies in /proc, /sys or /dev, where flux mounts the kernel's filesystems and then
 * masks and makes read-only paths of them.
 */
static int kernel_tree(const char *rel)
{
  while (*rel == '/')
    rel++;
  static const char *const tops[] = { "proc", "sys", "dev" };
  for (size_t i = 0; i < sizeof tops / sizeof *tops; i++) {
    size_t n = strlen(tops[i]);
    if (!strncmp(rel, tops[i], n) && (rel[n] == '\0' || rel[n] == '/'))
      return 1;
  }
  return 0;
}

/*
 * open_in_root, but a path in /proc, /sys or /dev is never reached through a symlink: an image's
 * `proc -> /elsewhere` would have put the container's proc where the symlink led, and every mask
 * and read-only path, looked up at /proc afterwards, would have found nothing there to cover
 * (as real root: a writable /proc/sys/kernel/core_pattern of the host). Such a path is refused,
 * naming it as the image's symlink.
 */
static int open_for_mount(const char *rel, int flags)
{
  if (!kernel_tree(rel))
    return open_in_root(rel, flags);
  int fd = open_resolved(rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ELOOP)
    fail("image symlink", rel);
  return fd;
}

/*
 * An O_PATH fd on REL inside the root, created (directory or empty file) when missing. Every
 * lookup is confined to the root, so an image symlink such as /etc/hosts -> /host/x lands
 * inside the container; a dangling symlink in the way is replaced (it lives in the upper dir).
 * In /proc, /sys and /dev no symlink is followed at all (open_for_mount).
 */
static int target_in_root(const char *rel, int dir)
{
  int fd = open_for_mount(rel, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", rel);
  char *slash = strrchr(parent, '/');
  const char *base = rel;
  if (slash) {
    *slash = '\0';
    base = rel + (slash - parent) + 1;
  } else {
    strcpy(parent, ".");
  }
  int pfd = target_in_root(parent[0] ? parent : ".", 1);
  if (pfd < 0)
    return -1;
  int r;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (dir)
      r = mkdirat(pfd, base, 0755);
    else {
      r = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (r >= 0)
        close(r), r = 0;
    }
    if (r == 0 || errno != EEXIST)
      break;
    unlinkat(pfd, base, 0); /* a dangling symlink */
  }
  close(pfd);
  if (r < 0 && errno != EEXIST)
    return -1;
  return open_for_mount(rel, O_PATH);
}

/* ---------- mounts ---------- */

/* fsopen/fsconfig/fsmount a new filesystem and attach it on TARGET_FD. OPTS: "k=v,flag,…". */
static void new_fs(const char *type, const char *opts, unsigned attrs, int target_fd, const char *what)
{
  int fs = fsopen(type, FSOPEN_CLOEXEC);
  if (fs < 0)
    fail("fsopen", type);
  char buf[512];
  snprintf(buf, sizeof buf, "%s", opts ? opts : "");
  for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(o, '=');
    int r;
    if (eq) {
      *eq = '\0';
      r = fsconfig(fs, FSCONFIG_SET_STRING, o, eq + 1, 0);
    } else {
      r = fsconfig(fs, FSCONFIG_SET_FLAG, o, NULL, 0);
    }
    if (r < 0)
      fail(type, what);
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    fail(type, what);
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  if (mnt < 0)
    fail(type, what);
  if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(type, what);
  close(mnt);
  close(fs);
}

/* Bind SRC_FD (a whole tree when REC) onto TARGET_FD, read-only when RO. */
void bind_fd(int src_dfd, const char *src, int rec, int ro, int target_fd, const char *what)
{
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0);
  if (!*src)
    flags |= AT_EMPTY_PATH;
  int t = open_tree(src_dfd, src, flags);
  if (t < 0)
    fail("bind", what);
  if (ro) {
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    if (mount_setattr(t, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
      fail("remount read-only", what);
  }
  if (move_mount(t, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail("bind", what);
  close(t);
}

static int has_opt(const char *opts, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = opts; (p = strstr(p, name)); p += n)
    if ((p == opts || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
      return 1;
  return 0;
}

/* The host's /dev/null, checked to be the real character device 1:3 (CVE-2025-31133). */
static int dev_null_fd(void)
{
  static int fd = -1;
  if (fd >= 0)
    return fd;
  fd = open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    fail("open", "/dev/null");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
    errno = EPERM;
    fail("mask with /dev/null (not the null device)", "/dev/null");
  }
  return fd;
}

/*
 * Puts a new file holding CONTENT at REL in the root, in place of whatever the image has there
 * (a symlink to /proc/sys/kernel/core_pattern or to a host path, a hard link to one of its
 * binaries): written under a temporary name in the same directory and renamed over the entry,
 * so nothing is ever written through it. Only the directory is looked up, inside the root.
 */
static void replace_file(const char *rel, const char *content)
{
  char parent[PATH_MAX], tmp[NAME_MAX + 1];
  if (snprintf(parent, sizeof parent, "%s", rel) >= (int)sizeof parent)
    fail("file path", rel);
  char *slash = strrchr(parent, '/');
  const char *base = slash ? rel + (slash - parent) + 1 : rel;
  if (slash)
    *slash = '\0';
  if (!*base || snprintf(tmp, sizeof tmp, ".%s.flux-new", base) >= (int)sizeof tmp) {
    errno = EINVAL;
    fail("file path", rel);
  }
  int pfd = target_in_root(slash && *parent ? parent : ".", 1);
  if (pfd < 0)
    fail("mkdir", parent);
  unlinkat(pfd, tmp, 0); /* left by the image, or by an earlier try */
  int fd = openat(pfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len)
    fail("write", rel);
  close(fd);
  if (renameat(pfd, tmp, pfd, base) < 0)
    fail("replace", rel);
  if (state.keep_files_writable) {
    /* A read-only root keeps these writable, as docker's bind-mounted ones are. */
    fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      fail("open", rel);
    bind_fd(fd, "", 0, 0, fd, rel);
    close(fd);
  }
  close(pfd);
}

void do_mount(const struct mount_op *m)
{
  const char *k = m->kind;
  if (!strcmp(k, "proc")) {
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    new_fs("proc", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, t, m->a);
    close(t);
  } else if (!strcmp(k, "sysfs")) {
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    /* A new sysfs needs a network namespace of our own; else the host's, read-only. */
    int fs = fsopen("sysfs", FSOPEN_CLOEXEC);
    if (fs >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
      int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
      if (mnt < 0 || move_mount(mnt, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        fail("sysfs", m->a);
      close(mnt);
    } else {
      bind_fd(AT_FDCWD, "/sys", 1, 1, t, m->a);
    }
    if (fs >= 0)
      close(fs);
    close(t);
  } else if (!strcmp(k, "tmpfs") || !strcmp(k, "devpts") || !strcmp(k, "mqueue")) {
    /* a = target, b = fs options, c = mount flags (ro,nosuid,nodev,noexec) */
    int t = target_in_root(m->a, 1);
    if (t < 0)
      fail("mkdir", m->a);
    unsigned attrs = 0;
    if (has_opt(m->c, "ro")) attrs |= MOUNT_ATTR_RDONLY;
    if (has_opt(m->c, "nosuid")) attrs |= MOUNT_ATTR_NOSUID;
    if (has_opt(m->c, "nodev")) attrs |= MOUNT_ATTR_NODEV;
    if (has_opt(m->c, "noexec")) attrs |= MOUNT_ATTR_NOEXEC;
    if (!strcmp(k, "mqueue")) {
      /* mqueue needs an ipc namespace we own; without one the container simply has none. */
      int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
      if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        if (fs >= 0)
          close(fs);
        close(t);
        return;
      }
      close(fs);
    }
    new_fs(k, m->b, attrs, t, m->a);
    close(t);
  } else if (!strcmp(k, "bind")) {
    /* a = host source, b = target, c = flags (ro,rec,file,optional) */
    struct stat st;
    if (stat(m->a, &st) < 0) {
      if (has_opt(m->c, "optional"))
        return;
      fail("bind", m->a);
    }
    int t = target_in_root(m->b, S_ISDIR(st.st_mode));
    if (t < 0)
      fail("mkdir", m->b);
    bind_fd(AT_FDCWD, m->a, has_opt(m->c, "rec"), has_opt(m->c, "ro"), t, m->b);
    close(t);
  } else if (!strcmp(k, "content")) {
    /* a = file content, b = target (/etc/hosts and the like). */
    if (state.files_in_root) {
      /* Already in place, from the overlay's top layer; a read-only root keeps it writable. */
      if (!state.keep_files_writable)
        return;
      int fd = open_in_root(m->b, O_PATH | O_NOFOLLOW);
      if (fd < 0)
        fail("open", m->b);
      bind_fd(fd, "", 0, 0, fd, m->b);
      close(fd);
      return;
    }
    replace_file(m->b, m->a);
  } else if (!strcmp(k, "symlink")) {
    /* a = link text, b = path of the link */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", m->b);
    char *slash = strrchr(parent, '/');
    const char *base = m->b;
    if (slash) {
      *slash = '\0';
      base = m->b + (slash - parent) + 1;
    }
    int pfd = target_in_root(slash ? parent : ".", 1);
    if (pfd < 0)
      fail("mkdir", parent);
    if (symlinkat(m->a, pfd, base) < 0 && errno != EEXIST)
      fail("symlink", m->b);
    close(pfd);
  } else if (!strcmp(k, "mask")) {
    int fd = open_for_mount(m->a, O_PATH | O_NOFOLLOW);
    if (fd < 0)
      return; /* nothing to hide: this kernel has no such file */
    struct stat st;
    if (fstat(fd, &st) < 0)
      fail("stat", m->a);
    if (S_ISDIR(st.st_mode))
      new_fs("tmpfs", "size=0,mode=0555", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, fd, m->a);
    else
      bind_fd(dev_null_fd(), "", 0, 0, fd, m->a);
    close(fd);
  } else if (!strcmp(k, "ro")) {
    int fd = open_for_mount(m->a, O_PATH | O_NOFOLLOW);
    if (fd < 0)
      return;
    bind_fd(fd, "", 1, 1, fd, m->a);
    close(fd);
  } else {
    errno = EINVAL;
    fail("plan mount", k);
  }
}

/* The root file system: the native overlay, fuse-overlayfs, or a bind of a copy; the run's own files. */
#include "flux-helper.h"

/* ---------- the run's own files (/etc/hosts, /etc/hostname, /etc/resolv.conf) ---------- */

/*
 * Written into a tmpfs that is never attached anywhere and stacked on the image as the overlay's
 * top layer: nothing to create in the upper dir on the host disk (the image seldom has these
 * files, and creating them would copy /etc up) and nothing to remove after the run; the image's
 * entries at those paths are hidden, never followed. Without a native overlay they replace those
 * entries in the root instead (replace_file).
 */

static void put_file(const char *rel, const char *content)
{
  char path[PATH_MAX];
  while (*rel == '/')
    rel++;
  if (snprintf(path, sizeof path, "%s", rel) >= (int)sizeof path || !*path)
    fail("file path", rel);
  for (char *c = path; (c = strchr(c, '/')); c++) {
    *c = '\0';
    if (mkdirat(state.files_layer, path, 0755) < 0 && errno != EEXIST)
      fail("mkdir", rel);
    *c = '/';
  }
  int fd = openat(state.files_layer, path, O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len)
    fail("write", rel);
  close(fd);
}

/* The layer of every "content" mount of the plan; -1 when there are none or no tmpfs can be made. */
static int make_files_layer(const struct plan *p)
{
  int any = 0;
  for (int i = 0; i < p->nmounts; i++)
    any |= !strcmp(p->mounts[i].kind, "content");
  if (!any)
    return -1;
  int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    close(fs);
    return -1;
  }
  state.files_layer = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  close(fs);
  if (state.files_layer < 0)
    return -1;
  for (int i = 0; i < p->nmounts; i++)
    if (!strcmp(p->mounts[i].kind, "content"))
      put_file(p->mounts[i].b, p->mounts[i].a);
  return state.files_layer;
}

/* ---------- rootfs ---------- */

static int mount_overlay(const struct plan *p)
{
  int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -1;
  int ok = 1;
  char files[32] = "";
  if (make_files_layer(p) >= 0)
    snprintf(files, sizeof files, "/proc/self/fd/%d", state.files_layer);
  /* lowerdir+ (Linux 6.8) takes one layer per call: no option-length limit, 128 layers fit. */
  if (*files)
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", files, 0) == 0;
  for (int i = 0; ok && i < p->nlower; i++)
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p->lower[i], 0) == 0;
  if (!ok && errno == EINVAL) {
    /* Older kernel: one colon-separated string, relative to the layers' common parent. */
    close(fs);
    fs = fsopen("overlay", FSOPEN_CLOEXEC);
    size_t len = strlen(files) + 1;
    for (int i = 0; i < p->nlower; i++)
      len += strlen(p->lower[i]) + 1;
    char *s = xmalloc(len + 1);
    strcpy(s, files);
    for (int i = 0; i < p->nlower; i++) {
      if (*s)
        strcat(s, ":");
      strcat(s, p->lower[i]);
    }
    ok = fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", s, 0) == 0;
    free(s);
  }
  ok = ok && fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", p->upper, 0) == 0;
  ok = ok && fsconfig(fs, FSCONFIG_SET_STRING, "workdir", p->work, 0) == 0;
  if (ok && p->userxattr)
    ok = fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) == 0;
  /*
   * The upper dir is thrown away after the run: without "volatile", unmounting it syncs the
   * whole host file system beneath (syncfs), which under write load holds the exit of every run
   * for tens to hundreds of milliseconds. A kernel without the option (< 5.10) just syncs.
   */
  if (ok)
    fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
  /* Untrusted layers: never metacopy or redirect_dir (both are off unless asked for). */
  ok = ok && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0;
  /* nodev: a device node in a layer (the host disk's numbers) must not open (see make_nodev). */
  int mnt = ok ? fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV) : -1;
  int e = errno;
  close(fs);
  if (mnt < 0) {
    errno = e;
    return -1;
  }
  /* Attached by init, in the container's mount namespace only (see attach_root). */
  state.root_mnt = mnt;
  return 0;
}

/*
 * The native overlay is mounted in init's mount namespace only: when the command ends, the
 * helper need not unmount it (which would wait on init taking the container's other mounts
 * down) and removes the run dir while init's exit releases the overlay.
 */
void attach_root(const struct plan *p)
{
  if (state.root_mnt < 0)
    return;
  if (move_mount(state.root_mnt, "", AT_FDCWD, p->root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    fail("mount overlay on", p->root);
  close(state.root_mnt);
  state.root_mnt = -1;
}

static int mount_fuse(const struct plan *p)
{
  struct stat before, now;
  if (stat(p->root, &before) < 0)
    fail("stat", p->root);
  size_t len = 64 + strlen(p->upper) + strlen(p->work);
  if (p->fuse_uidmap)
    len += 32 + strlen(p->fuse_uidmap) + strlen(p->fuse_gidmap);
  for (int i = 0; i < p->nlower; i++)
    len += strlen(p->lower[i]) + 1;
  char *opts = xmalloc(len);
  strcpy(opts, "lowerdir=");
  for (int i = 0; i < p->nlower; i++) {
    if (i)
      strcat(opts, ":");
    strcat(opts, p->lower[i]);
  }
  strcat(opts, ",upperdir=");
  strcat(opts, p->upper);
  strcat(opts, ",workdir=");
  strcat(opts, p->work);
  strcat(opts, ",allow_other");
  if (p->fuse_uidmap) {
    strcat(opts, ",uidmapping=");
    strcat(opts, p->fuse_uidmap);
    strcat(opts, ",gidmapping=");
    strcat(opts, p->fuse_gidmap);
  }
  state.fuse_pid = fork();
  if (state.fuse_pid < 0)
    fail("fork", "fuse-overlayfs");
  if (state.fuse_pid == 0) {
    /* Foreground, so it dies with us; it lives outside the container's pid namespace. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDWR);
    /* Its warnings (e.g. about mount flags it ignores) are not the user's business. */
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    execl(p->fuse_bin, "fuse-overlayfs", "-f", "-o", opts, p->root, (char *)NULL);
    _exit(127);
  }
  free(opts);
  /* fuse-overlayfs -f gives no readiness signal: the mount is there when the dev changes. */
  for (int i = 0; i < 20000; i++) {
    if (stat(p->root, &now) == 0 && now.st_dev != before.st_dev)
      return 0;
    int st;
    if (waitpid(state.fuse_pid, &st, WNOHANG) == state.fuse_pid) {
      state.fuse_pid = -1;
      errno = ENODEV;
      return -1;
    }
    struct timespec ts = { 0, 500000 };
    nanosleep(&ts, NULL);
  }
  errno = ETIMEDOUT;
  return -1;
}

/*
 * The image's device nodes never work, whatever the root kind: a layer may carry a block device
 * with the host disk's numbers, which real root could otherwise open. The root is nodev (the
 * container's /dev is a tmpfs of its own with the host's few safe devices bound in).
 */
static void make_nodev(const char *root)
{
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_NODEV };
  if (fd < 0 || mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    fail("remount nodev", root);
  close(fd);
}

void mount_rootfs(const struct plan *p)
{
  if (!strcmp(p->rootfs_kind, "bind")) {
    int t = open(p->root, O_PATH | O_CLOEXEC | O_DIRECTORY);
    if (t < 0)
      fail("open", p->root);
    bind_fd(AT_FDCWD, p->bind_src, 1, 0, t, p->root);
    close(t);
    make_nodev(p->root);
    ctl_write("Kcopy\n");
    return;
  }
  if (!p->fuse_only) {
    if (mount_overlay(p) == 0) {
      state.files_in_root = state.files_layer >= 0;
      ctl_write("Koverlay\n");
      return;
    }
    if (!p->fuse_bin)
      fail("mount overlay on", p->root);
  }
  if (mount_fuse(p) == 0) {
    make_nodev(p->root);
    ctl_write("Kfuse\n");
    return;
  }
  fail("mount fuse-overlayfs on", p->root);
}

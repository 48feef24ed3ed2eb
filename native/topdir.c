/*
 * topdir DIR...: gives each DIR ext4's TOPDIR attribute (chattr +T), so that the Orlov allocator
 * puts each new subdirectory of DIR in a block group of its own with free inodes, instead of in
 * DIR's group. flux gives it to the store's tmp/, where every layer is unpacked into a fresh
 * directory, and to runs/, where each run makes its upper dir: on an ext4 without a journal the
 * inode allocator skips inodes freed in the last seconds (a store, a layer or the last run's
 * files just removed), scanning past them for every file it creates, and a fresh group has none
 * of those (docs/performance.md, "File creation on ext4 without a journal").
 *
 * Best effort: the attribute only speeds file creation up, so a filesystem without it (tmpfs,
 * xfs, btrfs, overlay: ENOTTY, EOPNOTSUPP, EINVAL) or a refusal leaves DIR as it was, silently.
 */
#include "flux-helper.h"
#include <linux/fs.h>

static void topdir_one(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  /* The kernel reads and writes an int, whatever the ioctl's number says (as chattr does). */
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  close(fd);
}

int topdir(int argc, char **argv)
{
  for (int i = 0; i < argc; i++)
    topdir_one(argv[i]);
  return 0;
}

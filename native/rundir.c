/* The run dir: made while Node reads the image, removed after the run. */
#include "flux-helper.h"

/* ---------- cleanup ---------- */

/*
 * rm -rf inside the user namespace: the run dir holds files of the image's (sub-)uids. Most of
 * a run dir is empty directories (upper, work/work, root): removing first and opening only what
 * is not empty saves a directory walk each (and overlay's work/work is mode 000, which rmdir
 * does not mind: it needs write access to the parent only).
 */
static void remove_tree_once(int dfd, const char *name, int retry)
{
  if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
    return;
  if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || (errno != ENOTEMPTY && errno != EEXIST && errno != EACCES))
    return;
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      remove_tree_once(fd, e->d_name, 1);
  closedir(d);
  /* A directory we could not write into keeps its entries: open it up, retry once. */
  if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno == ENOTEMPTY && retry && fchmodat(dfd, name, 0700, 0) == 0)
    remove_tree_once(dfd, name, 0);
}

static void remove_tree(int dfd, const char *name)
{
  remove_tree_once(dfd, name, 1);
}

/*
 * A run that wrote nothing leaves only what we and overlayfs made (with "volatile" overlayfs
 * marks its work dir incompat/volatile/dirty). Removed by name, deepest first, that is one
 * system call an entry: each costs about 0.1 ms on ext4, and the walk of remove_tree nearly
 * doubles that. Anything else there (the command's files in upper/) is left to remove_tree.
 */
void remove_run_dir(const char *dir)
{
  static const char *const made[] = {
    "work/work/incompat/volatile/dirty", "work/work/incompat/volatile", "work/work/incompat",
    "work/work", "work/index", "work", "upper", "root", "layers",
  };
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd >= 0) {
    for (size_t i = 0; i < sizeof made / sizeof *made; i++)
      if (unlinkat(dfd, made[i], AT_REMOVEDIR) < 0 && errno == ENOTDIR)
        unlinkat(dfd, made[i], 0);
    close(dfd);
    if (rmdir(dir) == 0 || errno == ENOENT)
      return;
  }
  remove_tree(AT_FDCWD, dir);
}

/* ---------- the run dir ---------- */

/* Node makes the run dir too (whoever is first), and names the run's layers in it. */
static void make_dir(const char *dir, const char *name, mode_t mode)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s%s%s", dir, *name ? "/" : "", name) >= (int)sizeof path)
    fail("run dir", dir);
  if (mkdir(path, mode) < 0 && errno != EEXIST)
    fail("mkdir", path);
}

/*
 * The layers file is made here, empty (it names no layers yet), so that Node only writes into
 * it: on this side the new inode costs nothing Node waits for. Never truncated here: Node may
 * have made and written it first.
 */
void make_run_dir(const char *dir)
{
  make_dir(dir, "", 0700);
  make_dir(dir, "upper", 0755);
  make_dir(dir, "work", 0700);
  make_dir(dir, "root", 0755);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/layers", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("create", path);
  close(fd);
}

/*
 * The run dir is made while other work runs: each entry costs 0.1 ms or more on ext4. With
 * newuidmap and newgidmap to wait for, we make it ourselves meanwhile (a child of ours would
 * only compete with them for the CPU); otherwise a child makes it while we create the
 * namespaces. Either way the entries are made by the user's own id (unmapped or not, it is the
 * id the disk records), so they have the owner they would have from inside (root there).
 */
pid_t start_run_dir(const char *dir)
{
  pid_t pid = fork();
  if (pid < 0)
    fail("fork", "run dir");
  if (pid == 0) {
    make_run_dir(dir);
    _exit(0);
  }
  return pid;
}

void finish_run_dir(pid_t pid)
{
  int st = wait_for(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    _exit(125); /* it has said why (an E record) */
}

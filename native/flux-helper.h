/*
 * flux-helper: the small privileged-in-a-namespace half of flux.
 *
 * Node builds the sandbox as data (a plan) and this program only executes it, the way
 * bubblewrap separates its command line from its setup operations. It does only what a
 * multi-threaded Node process cannot do safely: unshare namespaces, mount, pivot_root,
 * drop capabilities and exec.
 *
 * Three modes:
 *   flux-helper userns CTLFD -- ARGV...   new user+mount namespace, wait for the id maps, exec ARGV as root there
 *   flux-helper run CTLFD PLAN...         run a container: PLAN names the namespaces, the rest comes on CTLFD
 *   flux-helper exec CTLFD PID PLAN...    run a command in the running container of process PID; PLAN is
 *                                         the process part of a container plan (cwd user caps nnp seccomp
 *                                         path env argv), all on the command line
 *   flux-helper topdir DIR...             give each DIR ext4's TOPDIR attribute (topdir.c), best effort
 *
 * The plan comes in two parts. The first names the namespaces and id maps and comes as the
 * command line's arguments, so the helper starts on it at once: it creates the namespaces and
 * maps the ids (the slow part, two setuid helpers) while Node is still reading the image and
 * preparing the rest. The second describes the container (root, mounts, user, command) and
 * comes on CTLFD. End of input instead of it means Node gave up before the container was
 * ready (and says why itself): the helper leaves quietly.
 *
 * CTLFD is a socket shared with Node. Helper -> Node: one record per line, a letter and its
 * fields, the table FLUX_RECORDS below (flux-helper --list-records prints it). Strings in a record
 * (a path, a command: image data) are escaped, \n \t \r \\ and \xHH, so none can end a record or
 * split its fields (put_escaped).
 * Node -> helper: "G\n" (go) or "A\n" (abort).
 *
 * Process tree of a run (rootless):
 *   node ─ helper (new user/mnt/uts/ipc/cgroup[/net] ns; makes the rootfs; supervises; cleans up)
 *            └─ init (pid 1 of a new pid ns; attaches the rootfs, mounts /proc, /dev…, pivots;
 *                     reaps, forwards signals; ends what the command left running)
 *                 └─ command
 * Every level dies with its parent (PR_SET_PDEATHSIG), so kill -9 of flux leaves no process.
 * SIGALRM to the helper ends the container at once: init, and with it every process of the
 * container, gets SIGKILL, and the helper cleans up as after any run (`docker stop`'s last step).
 */
#ifndef FLUX_HELPER_H
#define FLUX_HELPER_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <linux/openat2.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "monitor.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* --preserve-fds: the fds passed on to the command as 3, 4, …, kept meanwhile from PRESERVED_AT up. */
#define PRESERVE_MAX 64
#define PRESERVED_AT 200

#ifdef FLUX_FUZZ
/* The plan fuzzer (native/fuzz): a refusal returns to it, and it frees what a plan allocated. */
_Noreturn void flux_fuzz_refused(void);
void flux_fuzz_allocated(void *m);
#endif

/* ---------- the records to Node ---------- */

/*
 * Every record the helper writes on CTLFD: its letter, its fields (tab-separated), what it means.
 * Node's parseRecord (src/native/helper.ts) reads the same letters; test/unit/helper-op-table.test.ts
 * holds the two together, and every ctl_write of the helper to this table.
 */
#define FLUX_RECORDS(X) \
  X('R', "", "namespaces exist: write the id maps (and wire the network), then say G") \
  X('M', "<tool>\\t<stderr>", "newuidmap or newgidmap failed, with what it said; the helper exits 125") \
  X('K', "<kind>", "which root file system was mounted (overlay, fuse, copy)") \
  X('E', "<op>\\t<errno>\\t<path>", "a setup step failed; the helper exits 125") \
  X('X', "<errno>\\t<cmd>", "the command could not be executed; exit 127 or 126") \
  X('N', "", "the network helper we started is ready; the command starts now") \
  X('S', "", "the network helper we started went away: before it was ready (then exit 125), or while the command ran (Node warns)") \
  X('P', "", "the command has started (its exec succeeded)") \
  X('W', " <text>", "a warning for Node to print (lo not up, the root not unmounted); the run goes on") \
  X('C', "<status>", "the command ended and nothing runs in the container any more; the helper cleans up meanwhile") \
  X('D', "<status>", "the run is over and cleaned up; the helper only exits after this")

struct record {
  char letter;
  const char *fields;
  const char *meaning;
};

extern const struct record RECORDS[];
extern const size_t NRECORDS;

/* ---------- the plan ---------- */

struct mount_op {
  const char *kind;  /* proc sysfs tmpfs devpts mqueue bind symlink mask ro */
  const char *a, *b, *c;
};

struct plan {
  int ns_flags;
  int userns;
  /* rootfs */
  const char *root;          /* host path of the new root */
  const char *rootfs_kind;   /* overlay | fuse | bind */
  const char *upper, *work, *bind_src;
  int userxattr;
  int nlower;
  const char **lower;
  const char *fuse_bin;      /* non-NULL: fuse-overlayfs is the fallback (or the choice) */
  const char *fuse_uidmap, *fuse_gidmap; /* --userns=keep-id: fuse-overlayfs's uidmapping/gidmapping */
  int fuse_only;
  struct mount_op *mounts;
  int nmounts;
  int readonly_root;
  const char *hostname;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  int ngroups;
  gid_t *groups;
  uint64_t caps;
  int all_caps;
  int nnp;
  int tty;
  int tty_stdin;
  unsigned short rows, cols;
  char **env;
  char **argv;
  const char *path;          /* PATH used to find argv[0] inside the container */
  const char *cleanup;       /* run dir removed when the run ends */
  /* id maps written by the helper itself: newuidmap/newgidmap argv, or a single-id map */
  char **uidmap_argv, **gidmap_argv;
  long single_uid, single_gid;
  int single_map;
  int wait_go;               /* Node has work to do (network, cgroup) before the command starts */
  int defer_go;              /* ...which concerns the command only (network): wait just before it starts */
  const char *tap;           /* a persistent tap device to create for the network helper */
  char **net_argv;           /* the network helper (slirp4netns) we start ourselves; "PID" is our pid */
  const char *run_dir;       /* the run dir whose upper/, work/ and root/ we make while Node reads the image */
  int seccomp;               /* load the default syscall filter */
  int nrlimits;              /* --ulimit: resource, soft and hard limit for the command */
  struct rlimit_op { int res; struct rlimit lim; } *rlimits;
  long join_pid;             /* >0: join this process's user and network namespaces (--network container:NAME) */
};

/* An operation of the plan: its name, the part it comes in (1 or 2), its arguments, its parser. */
struct plan_op {
  const char *name;
  int part;
  const char *args;
  void (*parse)(struct plan *p);
};

extern const struct plan_op PLAN_OPS[];
extern const size_t NPLAN_OPS;

/* ---------- the state the files share ---------- */

/*
 * Everything more than one file of the helper reads or writes, in one place (state.c defines it).
 * A forked child (init, the command) has its own copy from the fork on. State that only one file
 * uses stays static there.
 */
struct helper_state {
  int ctl;                   /* the control socket shared with Node (-1: none, or closed) */
  int npreserved;            /* --preserve-fds: how many wait at PRESERVED_AT… */
  double timing_origin;      /* FLUX_TIMING=1: the epoch ms of Node's start, -1 without */
  int exec_report_fd;        /* in the command's process until its exec: a byte here tells init it did not start */
  int net_ready;             /* the network helper's ready fd: "1" once it is ready, EOF if it died */
  int net_routes;            /* route changes of the new network namespace (watch_routes), or -1 */
  pid_t net_pid;             /* the network helper we started */
  int root_fd;               /* the new root, where paths are looked up (open_in_root) */
  int workdir_fd;            /* the working directory, resolved by init inside the new root (open_workdir) */
  int files_layer;           /* the tmpfs holding the run's own files (see make_files_layer) */
  int files_in_root;         /* …and whether the root has them */
  int root_mnt;              /* the native overlay, made but not yet attached anywhere (see attach_root) */
  int keep_files_writable;   /* a read-only root keeps the run's own files writable */
  pid_t fuse_pid;            /* fuse-overlayfs, when it is the root */
  sigset_t unblocked;        /* the helper's signal mask before it held the forwarded signals back for init (see run) */
  int init_report;           /* write end of the pipe on which init tells the helper the command's status (report_end) */
  char *args;                /* the helper's command-line strings, contiguous (what /proc/PID/cmdline shows)… */
  size_t args_len;           /* …and their length with each string's NUL (see hide_args) */
};

extern struct helper_state state;

struct mapper {
  pid_t pid;
  int go;    /* write end: closing it lets the child exec */
  int err;   /* read end of the child's stderr */
};

enum { NFORWARDED = 7 };


/* control.c: the control socket: records to Node (escaped), its go or abort, refusals, allocation */
void lap(const char *label);
__attribute__((format(printf, 1, 2))) void ctl_write(const char *fmt, ...);
_Noreturn void fail(const char *op, const char *path);
void *xcalloc(size_t n, size_t size);
void *xmalloc(size_t size);
void await_go(void);
void handshake(void);

/* process.c: our own process: dying with the parent, the sealed copy of our binary, wait statuses */
void die_with_parent(void);
void reexec_sealed(char **argv);
int wait_for(pid_t pid);
int status_code(int st);

/* plan.c: the plan parser */
unsigned long long plan_number(const char *t, int base, unsigned long long max, const char *what);
void plan_from_args(int argc, char **argv);
int read_container_plan(void);
void parse_plan(struct plan *p, int part);
void plan_use(char *buf, size_t len);

/* mounts.c: paths inside the new root and the mounts of the plan */
int open_in_root(const char *rel, int flags);
void bind_fd(int src_dfd, const char *src, int rec, int ro, int target_fd, const char *what);
void do_mount(const struct mount_op *m);

/* rootfs.c: the root file system: native overlay, fuse-overlayfs or a bind of a copy, and the run's own files */
void attach_root(const struct plan *p);
void mount_rootfs(const struct plan *p);

/* caps.c: capabilities */
void set_caps(const struct plan *p);

/* seccomp.c: the default syscall filter */
void load_seccomp(void);

/* command.c: the command's process, from init's (or exec's) fork to its exec */
void command_child(const struct plan *p, int slave, const sigset_t *oldmask);

/* relay.c: the command loop: signals forwarded, the terminal relayed */
extern const int forwarded[NFORWARDED];
void add_forwarded(sigset_t *set);
void copy_winsize(int from, int to);
int open_pty(const struct plan *p, int *slave);
int relay_once(int sfd, int *master, int *in_open, pid_t child, char *buf, size_t len);
void drain_master(int master, char *buf, size_t len);

/* workdir.c: the working directory, looked up inside the root */
int open_workdir(const char *cwd, int make);

/* init.c: init: pid 1 of the container */
_Noreturn void run_init(const struct plan *p);

/* idmap.c: id maps written by the helper itself (newuidmap, newgidmap, a single-id map) */
struct mapper start_mapper(char **argv, pid_t target);
void start_maps(const struct plan *p, struct mapper *um, struct mapper *gm);
void finish_maps(const struct plan *p, struct mapper *um, struct mapper *gm);

/* network.c: the network: the network helper we start, its readiness, lo, the tap device, joining a container */
void watch_routes(void);
int await_net_ready(void);
void start_net_helper(char **argv, pid_t target);
void release_net_helper(void);
void stop_net_helper(void);
void loopback_up(void);
void make_tap(const char *name);
void join_namespaces(pid_t target);

/* rundir.c: the run dir: made while Node reads the image, removed after the run */
void remove_run_dir(const char *dir);
void make_run_dir(const char *dir);
pid_t start_run_dir(const char *dir);
void finish_run_dir(pid_t pid);

/* run.c: run mode: namespaces, root file system, init, the ending and cleanup */
int run(int argc, char **argv);

/* exec.c: exec mode: a process joining a running container */
int exec_in(int argc, char **argv);

/* topdir.c: `flux-helper topdir DIR...`, ext4's TOPDIR attribute on the store's tmp/ and runs/ */
int topdir(int argc, char **argv);

#endif

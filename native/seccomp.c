/* The default syscall filter. */
#include "flux-helper.h"

/*
 * A small deny list in the spirit of docker's default profile: syscalls that reach the host
 * kernel's global state (keyrings, modules, kexec, bpf, perf, userfaultfd, handle-based opens,
 * clocks, swap, accounting), and new namespaces by any call (unshare, setns, clone, clone3).
 * Other architectures' entry points (x32, i386) are refused outright so the list cannot be
 * bypassed through them. Denied calls fail with EPERM.
 */
#if defined(__x86_64__)
#define FLUX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FLUX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static const int denied_syscalls[] = {
  SYS_keyctl, SYS_add_key, SYS_request_key, SYS_kexec_load,
#ifdef SYS_kexec_file_load
  SYS_kexec_file_load,
#endif
  SYS_open_by_handle_at, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_bpf,
  SYS_perf_event_open, SYS_userfaultfd, SYS_acct, SYS_swapon, SYS_swapoff, SYS_settimeofday,
  SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_quotactl, SYS_lookup_dcookie,
  SYS_syslog, SYS_fanotify_init,
  /* Namespaces: a nested user namespace would hand the container a fresh full capability set
   * over kernel code (mounts, netfilter) that the default profile keeps out of reach. */
  SYS_unshare, SYS_setns,
  /* io_uring performs syscalls on the caller's behalf, outside this filter's view. */
#ifdef SYS_io_uring_setup
  SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
#endif
  /* The new mount API, like mount(2), is for the sandbox to use, not the container. */
#ifdef SYS_fsopen
  SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_move_mount, SYS_open_tree,
#endif
#ifdef SYS_mount_setattr
  SYS_mount_setattr,
#endif
#ifdef SYS_iopl
  SYS_iopl, SYS_ioperm,
#endif
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define CLONE_NAMESPACE_FLAGS \
  (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME)

void load_seccomp(void)
{
#ifdef FLUX_AUDIT_ARCH
  enum { N = sizeof denied_syscalls / sizeof *denied_syscalls };
  struct sock_filter f[N + 16];
  int i = 0;
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FLUX_AUDIT_ARCH, 1, 0);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  /* x32 syscalls carry bit 30 */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
#endif
  /*
   * clone3 passes its flags in a struct the filter cannot read: it fails with ENOSYS, and libc
   * falls back to clone (fork and threads keep working), as with docker's default profile.
   */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  /*
   * clone with a namespace flag is refused like unshare. The flags are clone's first argument on
   * both architectures here (unlike s390's); the kernel reads only their low 32 bits, the first
   * word of args[0] on these little-endian machines. CLONE_NEWTIME shares a bit with the exit
   * signal's byte, but no valid signal sets it (they end at 64).
   */
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
  f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NAMESPACE_FLAGS, 0, 1);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int k = 0; k < N; k++) {
    f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_syscalls[k], (unsigned char)(N - k), 0);
  }
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  struct sock_fprog prog = { .len = (unsigned short)i, .filter = f };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    fail("load seccomp filter", "");
#else
  /* No filter for this architecture: refuse rather than run with less protection than asked. */
  errno = ENOSYS;
  fail("load seccomp filter (no filter for this architecture; use --security-opt seccomp=unconfined)", "");
#endif
}

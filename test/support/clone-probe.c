/*
 * Tries what a hostile static program in a container would: a user namespace through clone and
 * clone3, then the ordinary uses of the same calls (fork, a thread). One line per attempt:
 * "<what> ok" or "<what> <errno name>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static const char *name(int e)
{
  return e == EPERM ? "EPERM" : e == ENOSYS ? "ENOSYS" : e == EINVAL ? "EINVAL" : strerrorname_np(e);
}

/* The parent's side of a raw clone: the child (pid 0) leaves at once. */
static void report(const char *what, long pid)
{
  if (pid == 0)
    syscall(SYS_exit, 0);
  if (pid < 0) {
    printf("%s %s\n", what, name(errno));
    return;
  }
  waitpid((pid_t)pid, NULL, __WALL);
  printf("%s ok\n", what);
}

static void *thread(void *arg)
{
  return arg;
}

int main(void)
{
  setvbuf(stdout, NULL, _IONBF, 0);
  /* x86_64 and aarch64: flags, stack, parent_tid, child_tid, tls */
  report("clone-newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
  report("clone-newns", syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
  struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  report("clone3-newuser", syscall(SYS_clone3, &args, sizeof args));
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  report("fork", pid);
  pthread_t t;
  int e = pthread_create(&t, NULL, thread, NULL);
  if (e == 0)
    e = pthread_join(t, NULL);
  if (e)
    printf("thread %s\n", name(e));
  else
    printf("thread ok\n");
  return 0;
}

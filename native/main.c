/* The entry point: the control fd, then one of the three modes (flux-helper.h describes them). */
#include "flux-helper.h"

static int userns(char **argv)
{
  die_with_parent();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    fail("unshare", "user namespace");
  handshake();
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
    fail("become root in the user namespace", "");
  /* Drop the host's supplementary groups (they would show as nogroup); denied with a single-id map. */
  setgroups(0, NULL);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    fail("make mounts private", "/");
  execvp(argv[0], argv);
  int e = errno;
  ctl_write("X%d\t%s\n", e, argv[0]);
  _exit(e == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
  const char *origin = getenv("FLUX_TIMING_ORIGIN");
  if (origin)
    state.timing_origin = strtod(origin, NULL);
  lap("started");
  /* The tables the helper works by, for the test that holds them against Node's side. */
  if (argc == 2 && !strcmp(argv[1], "--list-ops")) {
    for (size_t i = 0; i < NPLAN_OPS; i++)
      printf("%s\t%d\t%s\n", PLAN_OPS[i].name, PLAN_OPS[i].part, PLAN_OPS[i].args);
    return 0;
  }
  if (argc == 2 && !strcmp(argv[1], "--list-records")) {
    for (size_t i = 0; i < NRECORDS; i++)
      printf("%c\t%s\t%s\n", RECORDS[i].letter, RECORDS[i].fields, RECORDS[i].meaning);
    return 0;
  }
  /* No control fd: it sets an attribute and exits. */
  if (argc >= 3 && !strcmp(argv[1], "topdir"))
    return topdir(argc - 2, argv + 2);
  if (argc >= 3) {
    char *end;
    long fd = strtol(argv[2], &end, 10);
    state.ctl = *argv[2] && !*end && fd >= 3 && fd <= INT_MAX ? (int)fd : -1;
    if (argc >= 3 && (!strcmp(argv[1], "run") || !strcmp(argv[1], "exec") || !strcmp(argv[1], "monitor")))
      reexec_sealed(argv); /* before ctl becomes close-on-exec */
    if (state.ctl < 3 || fcntl(state.ctl, F_SETFD, FD_CLOEXEC) < 0) {
      fprintf(stderr, "flux-helper: bad control fd\n");
      return 125;
    }
  }
  if (argc >= 3 && !strcmp(argv[1], "run"))
    return run(argc - 3, argv + 3);
  if (argc >= 3 && !strcmp(argv[1], "monitor")) {
    int used = monitor_args(argc - 3, argv + 3);
    if (used < 0) {
      fprintf(stderr, "flux-helper: bad monitor arguments\n");
      return 125;
    }
    return run(argc - 3 - used, argv + 3 + used);
  }
  if (argc >= 5 && !strcmp(argv[1], "userns") && !strcmp(argv[3], "--"))
    return userns(argv + 4);
  if (argc >= 4 && !strcmp(argv[1], "exec"))
    return exec_in(argc - 3, argv + 3);
  fprintf(stderr, "usage: flux-helper run CTLFD PLAN... | flux-helper monitor CTLFD DIR EVENTS ID NAME LOGMAX TIMEOUT STOPSIG N END... PLAN...\n"
                  "       flux-helper exec CTLFD PID PLAN... | flux-helper userns CTLFD -- ARGV...\n"
                  "       flux-helper topdir DIR... | flux-helper --list-ops | --list-records\n"
                  "flux-helper is started by flux; it is not meant to be run by hand.\n");
  return 125;
}

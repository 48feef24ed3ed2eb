/* The entry point: the control fd, then one of the three modes (flux-helper.h describes them). */
#include "flux-helper.h"

/* userns maps not as flux writes them: refused before anything is started. */
static _Noreturn void bad_maps(void)
{
  fprintf(stderr, "flux-helper: bad userns maps\n");
  _exit(125);
}

/*
 * `userns CTLFD [maps N UIDARGV... N GIDARGV...] -- ARGV`: with maps, newuidmap and newgidmap are
 * run by the helper itself (forked before unshare, as for a run), so ARGV is exec'd as soon as
 * the ids are mapped, whether or not Node's event loop is free to hear the ready record (a
 * pull's is busy loading its code then). Without, Node writes the maps during the handshake.
 */
static char **tool_argv(char ***args, char **end)
{
  char *stop;
  long n = *args < end ? strtol(**args, &stop, 10) : -1;
  if (n < 2 || *stop || *args + 1 + n > end)
    bad_maps();
  char **v = *args + 1;
  *args += 1 + n;
  /* NULL-terminated copy: argv[1] is replaced by the target pid in start_mapper. */
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out)
    fail("calloc", "");
  memcpy(out, v, (size_t)n * sizeof *out);
  return out;
}

static int userns(char **argv)
{
  die_with_parent();
  struct mapper um = { -1, -1, -1 }, gm = { -1, -1, -1 };
  int self_maps = !strcmp(argv[0], "maps");
  if (self_maps) {
    char **end = argv;
    while (*end && strcmp(*end, "--"))
      end++;
    if (!*end)
      bad_maps();
    char **a = argv + 1;
    char **uid = tool_argv(&a, end);
    char **gid = tool_argv(&a, end);
    if (a != end)
      bad_maps();
    um = start_mapper(uid, getpid());
    gm = start_mapper(gid, getpid());
    argv = end;
  }
  argv++; /* past "--" */
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    fail("unshare", "user namespace");
  if (self_maps) {
    static const struct plan full; /* start_maps and finish_maps only ask whether the map is single */
    start_maps(&full, &um, &gm);
    finish_maps(&full, &um, &gm);
  } else {
    handshake();
  }
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
  /* The kernel lays the argument strings out one after the other: init wipes them (hide_args). */
  if (argc > 0) {
    state.args = argv[0];
    state.args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
  }
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
  if (argc >= 5 && !strcmp(argv[1], "userns") && (!strcmp(argv[3], "--") || !strcmp(argv[3], "maps")))
    return userns(argv + 3);
  if (argc >= 4 && !strcmp(argv[1], "exec"))
    return exec_in(argc - 3, argv + 3);
  fprintf(stderr, "usage: flux-helper run CTLFD PLAN... | flux-helper monitor CTLFD DIR EVENTS ID NAME LOGMAX TIMEOUT STOPSIG N END... PLAN...\n"
                  "       flux-helper exec CTLFD PID PLAN... | flux-helper userns CTLFD [maps N UIDARGV... N GIDARGV...] -- ARGV...\n"
                  "       flux-helper topdir DIR... | flux-helper --list-ops | --list-records\n"
                  "flux-helper is started by flux; it is not meant to be run by hand.\n");
  return 125;
}

/*
 * libFuzzer harness for the helper's plan parser: `make -C native fuzz` builds it, docs/fuzzing.md
 * says how to run it. The first byte of an input picks the part of the plan:
 *   odd   the first part, the tokens of the command line (as plan_from_args leaves them)
 *   even  the second part, the bytes Node writes on the control socket ("<length>\n" then tokens)
 * A refusal (fail) jumps back here instead of exiting; whatever the plan allocated is freed.
 */
#include <setjmp.h>
#include <stdint.h>

/* Linked with every file of the helper but main.c (native/Makefile), all built with -DFLUX_FUZZ. */
#include "../flux-helper.h"

static jmp_buf refused;
static void **allocated;
static size_t nallocated, capallocated;

_Noreturn void flux_fuzz_refused(void)
{
  longjmp(refused, 1);
}

void flux_fuzz_allocated(void *m)
{
  if (nallocated == capallocated) {
    capallocated = capallocated ? 2 * capallocated : 64;
    allocated = realloc(allocated, capallocated * sizeof *allocated);
    if (!allocated)
      abort();
  }
  allocated[nallocated++] = m;
}

static void free_plan(void)
{
  for (size_t i = 0; i < nallocated; i++)
    free(allocated[i]);
  nallocated = 0;
  plan_use(NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 65536)
    return 0;
  int part = data[0] & 1 ? 1 : 2;
  data++;
  size--;
  static struct plan p;
  static int fds[2] = { -1, -1 };
  if (setjmp(refused)) {
    if (fds[0] >= 0)
      close(fds[0]);
    fds[0] = -1;
    state.ctl = -1;
    free_plan();
    return 0;
  }
  if (part == 1) {
    char *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0'; /* as plan_from_args ends its last token */
    plan_use(buf, size);
    parse_plan(&p, 1);
  } else {
    /* An empty first part sets the plan up, then the second comes through a pipe, as from Node. */
    plan_use(NULL, 0);
    parse_plan(&p, 1);
    if (pipe(fds) < 0)
      abort();
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    if (size && write(fds[1], data, size) != (ssize_t)size)
      abort();
    close(fds[1]);
    state.ctl = fds[0];
    if (read_container_plan())
      parse_plan(&p, 2);
    close(fds[0]);
    fds[0] = -1;
    state.ctl = -1;
  }
  free_plan();
  return 0;
}

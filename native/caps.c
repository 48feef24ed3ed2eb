/* The command's capabilities: the bounding set, then the sets of its user. */
#include "flux-helper.h"

static int last_cap(void)
{
  int c = 0;
  while (prctl(PR_CAPBSET_READ, c + 1) >= 0)
    c++;
  return c;
}

/* The capabilities the bounding set holds, as a mask. */
static uint64_t bounding_set(int last)
{
  uint64_t m = 0;
  for (int c = 0; c <= last && c < 64; c++)
    if (prctl(PR_CAPBSET_READ, c) == 1)
      m |= 1ULL << c;
  return m;
}

/*
 * Empties the inheritable set (and with it the ambient one), keeping the others. An inheritable
 * capability passes through execve to any program whose file carries the same capability
 * inheritable, whoever runs it: a non-root user of the container (after su, gosu or setpriv)
 * would regain it from a file-capability binary of the image. podman, docker and runc keep the
 * set empty for that reason.
 */
static void clear_inheritable(void)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0)
    fail("capget", "");
  d[0].inheritable = d[1].inheritable = 0;
  if (syscall(SYS_capset, &h, d) < 0)
    fail("capset", "");
}

void set_caps(const struct plan *p)
{
  int last = last_cap();
  uint64_t keep = p->all_caps ? ~0ULL : p->caps;
  for (int c = 0; c <= last; c++)
    if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c) < 0)
      fail("drop capability", "");
  clear_inheritable();
  if (p->uid != 0) {
    /* Non-root commands keep their caps only through ambient (as docker's --cap-add does not). */
    if (setresgid(p->gid, p->gid, p->gid) < 0)
      fail("setgid", "");
    if (setresuid(p->uid, p->uid, p->uid) < 0)
      fail("setuid", "");
    return;
  }
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  uint64_t all = last >= 63 ? ~0ULL : ((1ULL << (last + 1)) - 1);
  /*
   * Only what the bounding set still holds can be had: real root on a host (or in a container)
   * whose bounding set lacks e.g. CAP_SYS_RESOURCE would otherwise fail capset with EPERM when
   * asked for every capability (--privileged). In a new user namespace the set is full.
   */
  uint64_t set = keep & all & bounding_set(last);
  d[0].effective = d[0].permitted = (uint32_t)set;
  d[1].effective = d[1].permitted = (uint32_t)(set >> 32);
  if (syscall(SYS_capset, &h, d) < 0)
    fail("capset", "");
}

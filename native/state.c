#include "flux-helper.h"

/* The one definition of the state the helper's files share: no fd, no process yet. */
struct helper_state state = {
  .ctl = -1,
  .timing_origin = -1,
  .exec_report_fd = -1,
  .net_ready = -1,
  .net_routes = -1,
  .net_pid = -1,
  .root_fd = -1,
  .workdir_fd = -1,
  .files_layer = -1,
  .root_mnt = -1,
  .fuse_pid = -1,
  .init_report = -1,
};

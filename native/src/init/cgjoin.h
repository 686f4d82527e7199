// Joining the container's cgroups from inside (cgroup v1): runtime-core opens the `tasks` file of each
// of the container's hierarchies and passes the fds with `continue`; the init writes "0" (itself) to
// each, before it unshares its cgroup namespace.
//
// Why not the parent writing the pid to cgroup.procs, as runc does: moving a whole thread group takes
// the kernel's global cgroup_threadgroup_rwsem for writing, and the first writer after a quiet spell
// waits for an RCU grace period (8-35 ms on this machine, most of a `podrun run`). A task that moves
// only its own thread ("0" to `tasks`) skips that lock; the init is single-threaded, so its thread is
// the whole process. The kernel checks the credentials of the file's opener (root, in runtime-core),
// so this works from a new user namespace too.
#pragma once
#include <vector>

#include "common/error.h"

namespace podkit::init {

// Writes "0" to each fd (a cgroup v1 `tasks` file) and closes it; the first failure is returned.
bool JoinCgroups(const std::vector<int>& tasksFds, Error* e);

}  // namespace podkit::init

// Path resolution confined to a root directory: every symlink and ".." is resolved as if the root
// were "/", so a path inside a container rootfs (or an image layer) can never reach outside it.
// openat2(RESOLVE_IN_ROOT) when the kernel has it; otherwise an equivalent walk that opens one
// component at a time with O_NOFOLLOW.
#pragma once
#include <sys/types.h>

#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace podkit {

enum class Resolver { kAuto, kWalk };

// Opens `path` inside the directory `rootfd` with `flags` (O_CLOEXEC is added). Fails with ELOOP on
// too many links, ENOENT when a component is missing.
UniqueFd OpenInRoot(int rootfd, const std::string& path, int flags, Error* err, Resolver how = Resolver::kAuto);

// Makes every missing directory of `path` inside `rootfd` (mode `mode`) and returns an O_PATH fd of it.
UniqueFd MkdirAllInRoot(int rootfd, const std::string& path, mode_t mode, Error* err, Resolver how = Resolver::kAuto);

// Returns an O_PATH fd for `path` inside root, creating it when missing: a directory when `dir`, else
// an empty regular file (parents are created as directories).
UniqueFd CreateInRoot(int rootfd, const std::string& path, bool dir, Error* err, Resolver how = Resolver::kAuto);

// "/proc/self/fd/<fd>": the path the mount syscalls use to act on an fd opened in the root.
std::string FdPath(int fd);

}  // namespace podkit

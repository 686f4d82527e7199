// Mount attributes through the new mount API: the recursive attributes of runtime-spec 1.1 (rro,
// rnosuid, ...) with mount_setattr(AT_RECURSIVE), and detached copies of bind sources (open_tree),
// idmapped with MOUNT_ATTR_IDMAP, that the container process attaches with move_mount.
#pragma once
#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "common/json.h"

namespace podkit::init {

// Applies a plan mount's `recAttr` ({set, clr}: MOUNT_ATTR_* bits) to the mount at `fd` and every
// mount beneath it. No-op when the mount has none.
bool ApplyRecursiveAttrs(int fd, const json::Value& m, const std::string& what, Error* e);

// A detached copy of the mount tree at `source` (just its top mount unless `recursive`), made a
// slave so nothing mounted in it later propagates back to the host. With `usernsFd` >= 0 it is
// idmapped through that user namespace (all of its mounts when `idmapRecursive`). Made on the host,
// by its root: MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the filesystem's own user namespace.
UniqueFd DetachedTree(const std::string& source, bool recursive, int usernsFd, bool idmapRecursive, Error* e);

// Attaches a detached tree at `target` (an fd of the mount point).
bool AttachTree(int tree, int target, const std::string& what, Error* e);

}  // namespace podkit::init

#include "init/mountattr.h"

#include <fcntl.h>
#include <sys/mount.h>

#include <cerrno>

namespace podkit::init {

bool ApplyRecursiveAttrs(int fd, const json::Value& m, const std::string& what, Error* e) {
  const json::Value* ra = m.Get("recAttr");
  if (ra == nullptr || !ra->IsObject()) return true;
  struct mount_attr attr {};
  attr.attr_set = static_cast<uint64_t>(ra->GetInt("set"));
  attr.attr_clr = static_cast<uint64_t>(ra->GetInt("clr"));
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) return e->Sys("mount_setattr", "recursive attributes of " + what);
  return true;
}

UniqueFd DetachedTree(const std::string& source, bool recursive, int usernsFd, bool idmapRecursive, Error* e) {
  UniqueFd tree(static_cast<int>(open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0))));
  if (!tree.ok()) {
    e->Sys("open_tree", "cloning the bind source " + source);
    return UniqueFd();
  }
  struct mount_attr slave {};
  slave.propagation = MS_SLAVE;
  if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &slave, sizeof slave) < 0) {
    e->Sys("mount_setattr", "making the copy of " + source + " a slave");
    return UniqueFd();
  }
  if (usernsFd >= 0) {
    struct mount_attr idmap {};
    idmap.attr_set = MOUNT_ATTR_IDMAP;
    idmap.userns_fd = static_cast<uint64_t>(usernsFd);
    if (mount_setattr(tree.get(), "", AT_EMPTY_PATH | (idmapRecursive ? AT_RECURSIVE : 0), &idmap, sizeof idmap) < 0) {
      e->Sys("mount_setattr", "idmapping the bind of " + source + (errno == EINVAL ? " (does its filesystem support idmapped mounts?)" : ""));
      return UniqueFd();
    }
  }
  return tree;
}

bool AttachTree(int tree, int target, const std::string& what, Error* e) {
  if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) return e->Sys("move_mount", "attaching " + what);
  return true;
}

}  // namespace podkit::init

// User namespaces for podkit-init: the maps of a namespace, one made for an idmapped mount, becoming
// root of the container's namespace once the parent wrote its maps.
#pragma once
#include <string>

#include "common/error.h"
#include "common/fd.h"
#include "common/json.h"

namespace podkit::init {

// The text of a uid_map/gid_map for an array of OCI LinuxIDMapping objects ("containerID hostID size"
// per line), as the kernel takes it in one write.
std::string IdMapText(const json::Value* mappings);

// A user namespace with the given maps, for MOUNT_ATTR_IDMAP. A child is cloned into a new user
// namespace, we (host root) write its maps, open /proc/<child>/ns/user and let the child exit: the fd
// keeps the namespace. Runs before any namespace is joined, while /proc is the host's.
UniqueFd MakeUserns(const json::Value* uidMappings, const json::Value* gidMappings, Error* e);

// Checks that the maps of the user namespace we are in equal the config's (a user namespace joined by
// path together with uidMappings/gidMappings, as containerd passes both). `procSelf` is an O_PATH fd
// of /proc/self opened on the host: uid_map read by a process of the same namespace shows the ids
// relative to the parent namespace, the config's format.
bool CheckIdMaps(int procSelf, const json::Value* uidMappings, const json::Value* gidMappings, Error* e);

// Becomes uid and gid 0 of the user namespace we are in (after the parent wrote the maps, or after
// joining one): without this the process would run as the overflow id 65534. `setgroups` false when
// /proc/<pid>/setgroups is "deny" (setgroups(2) is refused then). Keeps the process dumpable, so its
// /proc/self stays reachable by the namespace's root.
bool BecomeRoot(bool setgroups, Error* e);

}  // namespace podkit::init

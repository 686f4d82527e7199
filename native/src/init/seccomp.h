// Seccomp filters for podkit-init: compiled from the plan's OCI `linux.seccomp` with libseccomp.
#pragma once
#include "common/error.h"
#include "common/json.h"

namespace podkit::init {

// Builds the filter described by `s` (the OCI seccomp object, validated by runtime-core) and loads it
// into this process. Syscall names libseccomp does not know are skipped (as runc does). The caller
// must have set no_new_privs or hold CAP_SYS_ADMIN, as the kernel requires.
bool LoadSeccomp(const json::Value& s, Error* e);

}  // namespace podkit::init

// Seccomp filters for podkit-init: compiled from the plan's OCI `linux.seccomp` with libseccomp.
#pragma once
#include "common/error.h"
#include "common/json.h"

namespace podkit::init {

// Builds the filter described by `s` (the OCI seccomp object, validated by runtime-core) and loads it
// into this process. Syscall names libseccomp does not know are skipped (as runc does). The caller
// must have set no_new_privs or hold CAP_SYS_ADMIN, as the kernel requires.
// With an SCMP_ACT_NOTIFY rule the kernel returns a user-notification listener: *listener gets it
// (close-on-exec), else -1.
bool LoadSeccomp(const json::Value& s, int* listener, Error* e);

// Hands a listener to the runtime over the plan channel `sock` ({"type":"seccompListener"} + the fd,
// SCM_RIGHTS), closes our copy, and waits for {"type":"seccompDone"}: by then the runtime has sent it
// to the profile's listenerPath, so an agent answers the notifications of everything that follows.
// sendmsg is the one syscall used before the agent has the fd; runtime-core refuses NOTIFY for it.
bool HandOverListener(int sock, int listener, Error* e);

}  // namespace podkit::init

// The time namespace and personality(2), the per-container clocks and execution domain.
#pragma once
#include "common/error.h"
#include "common/json.h"

namespace podkit::init {

// Creates a time namespace for our future children (unshare(CLONE_NEWTIME): the caller itself stays
// in its own) and writes the plan's offsets ({"monotonic": {secs, nanosecs}, "boottime": ...}) through
// `offsetsFd`, /proc/self/timens_offsets opened on the host. The kernel takes offsets only until a
// first process enters the namespace, so this runs before the container process is cloned.
bool NewTimeNamespace(int offsetsFd, const json::Value* offsets, Error* e);

// personality(2) with the plan's value (domain | flags).
bool SetPersonality(const json::Value& persona, Error* e);

}  // namespace podkit::init

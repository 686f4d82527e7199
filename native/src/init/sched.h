// Process attributes of the OCI `process` object that are scheduling matters: `scheduler`
// (sched_setattr), `ioPriority` (ioprio_set) and `execCPUAffinity` (sched_setaffinity). The plan
// carries them as numbers (runtime-core validated and translated the names).
#pragma once
#include "common/error.h"
#include "common/json.h"

namespace podkit::init {

// plan.process.scheduler {policy, nice, priority, flags, runtime, deadline, period} on this process.
bool ApplyScheduler(const json::Value& s, Error* e);

// plan.process.ioPriority {class, priority} on this process (IOPRIO_WHO_PROCESS).
bool ApplyIoPriority(const json::Value& p, Error* e);

// An array of CPU numbers as this process's affinity; `which` ("initial", "final") names it in errors.
bool ApplyAffinity(const json::Value& cpus, const char* which, Error* e);

}  // namespace podkit::init

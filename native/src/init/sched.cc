#include "init/sched.h"

#include <linux/ioprio.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace podkit::init {
namespace {
// The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER1); glibc 2.36 has no declaration, and
// <linux/sched/types.h> clashes with <sched.h>.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);
}  // namespace

bool ApplyScheduler(const json::Value& s, Error* e) {
  SchedAttr a {};
  a.size = sizeof(a);
  a.sched_policy = static_cast<uint32_t>(s.GetInt("policy"));
  a.sched_flags = static_cast<uint64_t>(s.GetInt("flags"));
  a.sched_nice = static_cast<int32_t>(s.GetInt("nice"));
  a.sched_priority = static_cast<uint32_t>(s.GetInt("priority"));
  if (const json::Value* v = s.Get("runtime")) a.sched_runtime = v->Uint();
  if (const json::Value* v = s.Get("deadline")) a.sched_deadline = v->Uint();
  if (const json::Value* v = s.Get("period")) a.sched_period = v->Uint();
  if (syscall(SYS_sched_setattr, 0, &a, 0) == 0) return true;
  int err = errno;
  std::string what = "policy " + std::to_string(a.sched_policy) + ", priority " + std::to_string(a.sched_priority) + ", nice " + std::to_string(a.sched_nice);
  // With CONFIG_RT_GROUP_SCHED a realtime task needs a realtime budget in its cpu cgroup.
  if (err == EPERM && (a.sched_policy == SCHED_FIFO || a.sched_policy == SCHED_RR) && access("/sys/fs/cgroup/cpu/cpu.rt_runtime_us", F_OK) == 0) {
    what += " (this kernel has realtime group scheduling: the container's cpu cgroup needs cpu.rt_runtime_us > 0, "
            "set by linux.resources.cpu.realtimeRuntime)";
  }
  errno = err;
  return e->Sys("sched_setattr", what);
}

bool ApplyIoPriority(const json::Value& p, Error* e) {
  int cls = static_cast<int>(p.GetInt("class"));
  int level = static_cast<int>(p.GetInt("priority"));
  if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(cls, level)) == 0) return true;
  return e->Sys("ioprio_set", "class " + std::to_string(cls) + ", priority " + std::to_string(level));
}

bool ApplyAffinity(const json::Value& cpus, const char* which, Error* e) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string list;
  for (const json::Value& c : cpus.Arr()) {
    int64_t n = c.Int();
    if (n < 0 || n >= CPU_SETSIZE) return e->Set("sched_setaffinity", std::string(which) + " CPU " + std::to_string(n) + " is out of range", EINVAL);
    CPU_SET(static_cast<int>(n), &set);
    if (!list.empty()) list += ',';
    list += std::to_string(n);
  }
  if (sched_setaffinity(0, sizeof(set), &set) == 0) return true;
  return e->Sys("sched_setaffinity", std::string("execCPUAffinity.") + which + " CPUs " + list);
}

}  // namespace podkit::init

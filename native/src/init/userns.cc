#include "init/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

namespace podkit::init {
namespace {

bool WriteAll(const std::string& path, const std::string& text, Error* e) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.ok()) return e->Sys("open", path);
  // The kernel takes a map in a single write.
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return e->Sys("write", path + " = " + text);
  return true;
}

// Sorted (containerID, hostID, size) triples of a map text.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  unsigned long a = 0, b = 0, c = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string::npos) j = text.size();
    std::string line = text.substr(i, j - i);
    if (sscanf(line.c_str(), "%lu %lu %lu", &a, &b, &c) == 3) out.push_back(std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c));
    i = j + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ReadAt(int dir, const char* name, std::string* out, Error* e) {
  UniqueFd fd(openat(dir, name, O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return e->Sys("openat", std::string("/proc/self/") + name);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  if (n < 0) return e->Sys("read", std::string("/proc/self/") + name);
  return true;
}

}  // namespace

std::string IdMapText(const json::Value* mappings) {
  std::string out;
  if (mappings == nullptr || !mappings->IsArray()) return out;
  for (const json::Value& m : mappings->Arr()) {
    out += std::to_string(m.GetInt("containerID")) + " " + std::to_string(m.GetInt("hostID")) + " " + std::to_string(m.GetInt("size")) + "\n";
  }
  return out;
}

UniqueFd MakeUserns(const json::Value* uidMappings, const json::Value* gidMappings, Error* e) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    e->Sys("pipe2", "for an idmapped mount's user namespace");
    return UniqueFd();
  }
  UniqueFd rd(p[0]), wr(p[1]);
  struct clone_args ca {};
  ca.flags = CLONE_NEWUSER;
  ca.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &ca, sizeof(ca));
  if (pid < 0) {
    e->Sys("clone3", "a user namespace for an idmapped mount");
    return UniqueFd();
  }
  if (pid == 0) {
    // Holds the namespace until the parent has opened it: EOF on the pipe.
    wr.Reset();
    char c;
    while (read(rd.get(), &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  rd.Reset();
  std::string base = "/proc/" + std::to_string(pid);
  UniqueFd ns;
  bool ok = WriteAll(base + "/uid_map", IdMapText(uidMappings), e) && WriteAll(base + "/gid_map", IdMapText(gidMappings), e);
  if (ok) {
    ns.Reset(open((base + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns.ok()) e->Sys("open", base + "/ns/user");
  }
  wr.Reset();
  while (waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
  }
  return ns;
}

bool CheckIdMaps(int procSelf, const json::Value* uidMappings, const json::Value* gidMappings, Error* e) {
  const struct {
    const char* file;
    const json::Value* want;
    const char* field;
  } maps[] = {{"uid_map", uidMappings, "/linux/uidMappings"}, {"gid_map", gidMappings, "/linux/gidMappings"}};
  for (const auto& m : maps) {
    if (m.want == nullptr) continue;
    std::string have;
    if (!ReadAt(procSelf, m.file, &have, e)) return false;
    if (Lines(have) != Lines(IdMapText(m.want))) {
      std::string flat = have;
      std::replace(flat.begin(), flat.end(), '\n', ';');
      return e->Set("setns", std::string(m.field) + " do not match the maps of the user namespace joined by path (it has: " + flat + ")", EINVAL);
    }
  }
  return true;
}

bool BecomeRoot(bool setgroups, Error* e) {
  if (setgroups && ::setgroups(0, nullptr) < 0) return e->Sys("setgroups", "dropping the host's supplementary groups in the user namespace");
  if (setresgid(0, 0, 0) < 0) return e->Sys("setresgid", "becoming gid 0 of the user namespace (is gid 0 mapped in /linux/gidMappings?)");
  if (setresuid(0, 0, 0) < 0) return e->Sys("setresuid", "becoming uid 0 of the user namespace (is uid 0 mapped in /linux/uidMappings?)");
  // The uid change made us non-dumpable: /proc/self would belong to the host's root.
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) return e->Sys("prctl", "PR_SET_DUMPABLE");
  return true;
}

}  // namespace podkit::init

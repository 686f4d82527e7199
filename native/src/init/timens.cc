#include "init/timens.h"

#include <sched.h>
#include <sys/personality.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace podkit::init {

bool NewTimeNamespace(int offsetsFd, const json::Value* offsets, Error* e) {
  if (unshare(CLONE_NEWTIME) < 0) return e->Sys("unshare", "time namespace");
  if (offsets == nullptr || !offsets->IsObject() || offsets->Obj().empty()) return true;
  std::string text;
  for (const auto& [clock, o] : offsets->Obj()) {
    text += clock + " " + std::to_string(o.GetInt("secs")) + " " + std::to_string(o.GetInt("nanosecs")) + "\n";
  }
  // All clocks in one write: the kernel applies them together.
  if (write(offsetsFd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return e->Sys("write", "/proc/self/timens_offsets: " + text);
  return true;
}

bool SetPersonality(const json::Value& persona, Error* e) {
  unsigned long v = static_cast<unsigned long>(persona.Int());
  if (personality(v) < 0) return e->Sys("personality", "personality 0x" + [v] {
    char buf[32];
    snprintf(buf, sizeof buf, "%lx", v);
    return std::string(buf);
  }());
  return true;
}

}  // namespace podkit::init

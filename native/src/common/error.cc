#include "common/error.h"

#include <cerrno>
#include <cstring>

#include "common/json.h"

namespace podkit {

bool Error::Set(const char* call, const std::string& msg, int errnum) {
  syscall = call;
  message = msg;
  err = errnum;
  return false;
}

bool Error::Sys(const char* call, const std::string& msg) { return Set(call, msg, errno); }

std::string ErrnoName(int err) {
  if (err == 0) return "";
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
  std::string out = "E";
  out += std::to_string(err);
  return out;
}

std::string Error::ErrnoName() const { return podkit::ErrnoName(err); }

std::string Error::ToJson() const {
  json::ObjectWriter w;
  w.Str("type", "error").Str("phase", phase).Str("syscall", syscall).Str("errno", ErrnoName()).Str("message", message);
  return w.Done();
}

}  // namespace podkit

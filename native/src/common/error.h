// One error convention for all native code (crun's error.h in C++): a function that can fail returns
// bool and fills an Error with the syscall, errno and a message; callers add the phase. The error
// travels to TypeScript as {phase, syscall, errno, message} and becomes an errdefs class there.
#pragma once
#include <string>

namespace podkit {

struct Error {
  std::string phase;
  std::string syscall;
  int err = 0;  // errno value; 0 when the failure is not a syscall's
  std::string message;

  // Fills syscall/errno/message from the current errno; always returns false, for `return Fail(...)`.
  bool Set(const char* call, const std::string& msg, int errnum);
  bool Sys(const char* call, const std::string& msg);  // uses errno
  // The errno name ("EPERM"), or "" when err is 0.
  std::string ErrnoName() const;
  // {"type":"error","phase":..,"syscall":..,"errno":..,"message":..}
  std::string ToJson() const;
};

// The symbolic name of an errno value ("ENOENT"); "E<number>" when unknown.
std::string ErrnoName(int err);

}  // namespace podkit

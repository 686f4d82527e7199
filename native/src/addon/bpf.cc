// bpf(2) for the cgroup v2 device controller: load a BPF_PROG_TYPE_CGROUP_DEVICE program (the
// instructions are generated in TypeScript, cgroups/devicefilter.ts), attach it to a cgroup, list
// and detach the programs attached there. bpf() on these commands never waits for I/O (the verifier
// of a device filter of a few hundred instructions runs in microseconds), so the calls are
// synchronous, like the cgroupfs writes of the backend that uses them.
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"
#include "common/fd.h"

namespace podkit::addon {
namespace {

int Bpf(int cmd, union bpf_attr* attr) { return static_cast<int>(syscall(SYS_bpf, cmd, attr, sizeof(*attr))); }

[[noreturn]] void ThrowErrno(Napi::Env env, const char* call, const std::string& msg, int err = errno) {
  Error e;
  e.Set(call, msg, err);
  throw ToJsError(env, e);
}

UniqueFd OpenCgroup(Napi::Env env, const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) ThrowErrno(env, "open", "cgroup " + path);
  return fd;
}

// bpfProgLoad({insns: Buffer, license?}) -> {fd, log}: loads a cgroup device program. On a verifier
// rejection the error's message carries the verifier log.
Napi::Value ProgLoad(const Napi::CallbackInfo& info) {
  const char* fn = "bpfProgLoad";
  Napi::Env env = info.Env();
  Napi::Object o = ArgObject(info, 0, fn);
  Napi::Value v = o.Get("insns");
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string(fn) + ": option 'insns' must be a Buffer");
  auto insns = v.As<Napi::Buffer<uint8_t>>();
  if (insns.Length() == 0 || insns.Length() % sizeof(struct bpf_insn) != 0) {
    throw Napi::TypeError::New(env, std::string(fn) + ": option 'insns' must hold whole 8-byte instructions");
  }
  std::string license = OptString(o, "license", fn, false, "Apache-2.0");
  std::vector<char> log(64 * 1024, '\0');

  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(insns.Data());
  attr.insn_cnt = static_cast<uint32_t>(insns.Length() / sizeof(struct bpf_insn));
  attr.license = reinterpret_cast<uint64_t>(license.c_str());
  attr.log_buf = reinterpret_cast<uint64_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  int fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0) {
    int err = errno;
    std::string text(log.data());
    ThrowErrno(env, "bpf", "BPF_PROG_LOAD (cgroup device program, " + std::to_string(attr.insn_cnt) + " insns)" + (text.empty() ? "" : "; verifier: " + text), err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("log", std::string(log.data()));
  return out;
}

// BPF_PROG_ATTACH (with `flags`) or BPF_PROG_DETACH of the device program `progFd` on `cgroup`: the
// two commands take the same attributes.
Napi::Value AttachOrDetach(const Napi::CallbackInfo& info, const char* fn, int cmd) {
  bool attach = cmd == BPF_PROG_ATTACH;
  Napi::Object o = ArgObject(info, 0, fn);
  std::string cgroup = OptString(o, "cgroup", fn);
  int prog = static_cast<int>(OptInt(o, "progFd", fn));
  auto flags = attach ? static_cast<uint32_t>(OptInt(o, "flags", fn, false, BPF_F_ALLOW_MULTI)) : 0U;
  UniqueFd cg = OpenCgroup(info.Env(), cgroup);
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cg.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = flags;
  if (Bpf(cmd, &attr) < 0) ThrowErrno(info.Env(), "bpf", attach ? "BPF_PROG_ATTACH to " + cgroup : "BPF_PROG_DETACH from " + cgroup);
  return info.Env().Undefined();
}

// bpfProgAttach({cgroup, progFd, flags?}): BPF_PROG_ATTACH with attach type BPF_CGROUP_DEVICE.
Napi::Value ProgAttach(const Napi::CallbackInfo& info) { return AttachOrDetach(info, "bpfProgAttach", BPF_PROG_ATTACH); }

// bpfProgDetach({cgroup, progFd}): BPF_PROG_DETACH of one attached program.
Napi::Value ProgDetach(const Napi::CallbackInfo& info) { return AttachOrDetach(info, "bpfProgDetach", BPF_PROG_DETACH); }

// bpfProgQuery({cgroup}) -> number[]: the ids of the device programs attached to the cgroup itself.
Napi::Value ProgQuery(const Napi::CallbackInfo& info) {
  const char* fn = "bpfProgQuery";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string cgroup = OptString(o, "cgroup", fn);
  UniqueFd cg = OpenCgroup(info.Env(), cgroup);
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  for (;;) {
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = static_cast<uint32_t>(cg.get());
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uint64_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (Bpf(BPF_PROG_QUERY, &attr) == 0) break;
    // ENOSPC: more programs than room; prog_cnt holds how many there are.
    if (errno != ENOSPC || attr.query.prog_cnt <= ids.size()) ThrowErrno(info.Env(), "bpf", "BPF_PROG_QUERY of " + cgroup);
    ids.resize(attr.query.prog_cnt);
  }
  Napi::Array out = Napi::Array::New(info.Env(), attr.query.prog_cnt);
  for (uint32_t i = 0; i < attr.query.prog_cnt; i++) out.Set(i, Napi::Number::New(info.Env(), ids[i]));
  return out;
}

// bpfProgGetFdById(id) -> fd: a new fd of a loaded program (to detach it by fd).
Napi::Value ProgGetFdById(const Napi::CallbackInfo& info) {
  int id = ArgInt(info, 0, "bpfProgGetFdById");
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_id = static_cast<uint32_t>(id);
  int fd = Bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) ThrowErrno(info.Env(), "bpf", "BPF_PROG_GET_FD_BY_ID " + std::to_string(id));
  return Napi::Number::New(info.Env(), fd);
}

void InitBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("bpfProgLoad", Napi::Function::New(env, ProgLoad, "bpfProgLoad"));
  exports.Set("bpfProgAttach", Napi::Function::New(env, ProgAttach, "bpfProgAttach"));
  exports.Set("bpfProgDetach", Napi::Function::New(env, ProgDetach, "bpfProgDetach"));
  exports.Set("bpfProgQuery", Napi::Function::New(env, ProgQuery, "bpfProgQuery"));
  exports.Set("bpfProgGetFdById", Napi::Function::New(env, ProgGetFdById, "bpfProgGetFdById"));
}

}  // namespace

PODKIT_MODULE(bpf, InitBpf);

}  // namespace podkit::addon

#include "init/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/channel.h"
#include "common/fd.h"

namespace podkit::init {
namespace {

struct Ctx {
  scmp_filter_ctx ctx = nullptr;
  ~Ctx() {
    if (ctx != nullptr) seccomp_release(ctx);
  }
};

// An OCI action name (+ errnoRet) as a libseccomp action; false for an unknown name.
bool Action(const std::string& name, const json::Value* errnoRet, uint32_t* out) {
  uint32_t ret = errnoRet != nullptr && errnoRet->IsNumber() ? static_cast<uint32_t>(errnoRet->Uint()) : EPERM;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") *out = SCMP_ACT_KILL_THREAD;
  else if (name == "SCMP_ACT_KILL_PROCESS") *out = SCMP_ACT_KILL_PROCESS;
  else if (name == "SCMP_ACT_TRAP") *out = SCMP_ACT_TRAP;
  else if (name == "SCMP_ACT_ERRNO") *out = SCMP_ACT_ERRNO(ret);
  else if (name == "SCMP_ACT_TRACE") *out = SCMP_ACT_TRACE(ret);
  else if (name == "SCMP_ACT_ALLOW") *out = SCMP_ACT_ALLOW;
  else if (name == "SCMP_ACT_LOG") *out = SCMP_ACT_LOG;
  else if (name == "SCMP_ACT_NOTIFY") *out = SCMP_ACT_NOTIFY;
  else return false;
  return true;
}

bool Operator(const std::string& name, scmp_compare* out) {
  if (name == "SCMP_CMP_NE") *out = SCMP_CMP_NE;
  else if (name == "SCMP_CMP_LT") *out = SCMP_CMP_LT;
  else if (name == "SCMP_CMP_LE") *out = SCMP_CMP_LE;
  else if (name == "SCMP_CMP_EQ") *out = SCMP_CMP_EQ;
  else if (name == "SCMP_CMP_GE") *out = SCMP_CMP_GE;
  else if (name == "SCMP_CMP_GT") *out = SCMP_CMP_GT;
  else if (name == "SCMP_CMP_MASKED_EQ") *out = SCMP_CMP_MASKED_EQ;
  else return false;
  return true;
}

bool Fail(Error* e, const char* call, int rc, const std::string& msg) {
  errno = rc < 0 ? -rc : rc;
  return e->Sys(call, msg);
}

// As runc's patchbpf: libseccomp compiles the program, we load it with seccomp(2) and the flags we
// choose. libseccomp 2.5 has no attribute for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (2.6 added it);
// the kernel (5.19+) does, so the flag goes straight to the syscall.
bool LoadProgram(scmp_filter_ctx ctx, unsigned int flags, int* listener, Error* e) {
  UniqueFd mem(memfd_create("podkit-seccomp-bpf", MFD_CLOEXEC));
  if (!mem.ok()) return e->Sys("memfd_create", "buffer for the seccomp program");
  if (int rc = seccomp_export_bpf(ctx, mem.get()); rc < 0) return Fail(e, "seccomp_export_bpf", rc, "compiling the seccomp filter");
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) return e->Set("seccomp_export_bpf", "libseccomp produced a program of " + std::to_string(size) + " bytes", EINVAL);
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), prog.data(), static_cast<size_t>(size), 0) != size) return e->Sys("pread", "reading the compiled seccomp program");
  if (prog.size() > BPF_MAXINSNS) return e->Set("seccomp", "the seccomp program has " + std::to_string(prog.size()) + " instructions, the kernel allows " + std::to_string(BPF_MAXINSNS), E2BIG);
  struct sock_fprog fp {};
  fp.len = static_cast<unsigned short>(prog.size());
  fp.filter = prog.data();
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp);
  if (r < 0) return e->Sys("seccomp", "loading the seccomp filter (flags " + std::to_string(flags) + ")");
  *listener = (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? static_cast<int>(r) : -1;
  return true;
}

}  // namespace

bool LoadSeccomp(const json::Value& s, int* listener, Error* e) {
  *listener = -1;
  uint32_t def = 0;
  std::string defName = s.GetString("defaultAction");
  if (!Action(defName, s.Get("defaultErrnoRet"), &def)) return e->Set("seccomp", "unknown defaultAction " + defName, EINVAL);
  Ctx c;
  c.ctx = seccomp_init(def);
  if (c.ctx == nullptr) return e->Set("seccomp_init", "creating the seccomp filter", ENOMEM);
  // no_new_privs is podkit-init's own business (process.noNewPrivileges), not the filter's: the
  // program is loaded with seccomp(2) below, which never sets it.
  for (const std::string& a : s.GetStrings("architectures")) {
    std::string n = a.rfind("SCMP_ARCH_", 0) == 0 ? a.substr(10) : a;
    for (char& ch : n) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    uint32_t arch = seccomp_arch_resolve_name(n.c_str());
    if (arch == 0) return e->Set("seccomp", "unknown architecture " + a, EINVAL);
    if (int rc = seccomp_arch_add(c.ctx, arch); rc < 0 && rc != -EEXIST) return Fail(e, "seccomp_arch_add", rc, a);
  }
  unsigned int flags = 0;
  bool waitKillable = false;
  for (const std::string& f : s.GetStrings("flags")) {
    if (f == "SECCOMP_FILTER_FLAG_LOG") flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (f == "SECCOMP_FILTER_FLAG_TSYNC") flags |= SECCOMP_FILTER_FLAG_TSYNC;
    else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") waitKillable = true;
    else return e->Set("seccomp", "unsupported flag " + f, EINVAL);
  }
  bool notify = def == SCMP_ACT_NOTIFY;
  if (const json::Value* sys = s.Get("syscalls"); sys != nullptr && sys->IsArray()) {
    for (const json::Value& r : sys->Arr()) {
      uint32_t act = 0;
      std::string an = r.GetString("action");
      if (!Action(an, r.Get("errnoRet"), &act)) return e->Set("seccomp", "unknown action " + an, EINVAL);
      // libseccomp refuses a rule whose action is the default one; it would change nothing anyway.
      if (act == def) continue;
      notify = notify || act == SCMP_ACT_NOTIFY;
      std::vector<scmp_arg_cmp> cmps;
      if (const json::Value* args = r.Get("args"); args != nullptr && args->IsArray()) {
        for (const json::Value& a : args->Arr()) {
          scmp_compare op {};
          std::string on = a.GetString("op");
          if (!Operator(on, &op)) return e->Set("seccomp", "unknown operator " + on, EINVAL);
          const json::Value* v = a.Get("value");
          const json::Value* v2 = a.Get("valueTwo");
          cmps.push_back(scmp_arg_cmp {static_cast<unsigned int>(a.GetInt("index")), op, v != nullptr ? v->Uint() : 0, v2 != nullptr ? v2->Uint() : 0});
        }
      }
      // As runc: comparisons on distinct arguments must all match (one rule); several on the same
      // argument are alternatives (one rule each), since a BPF rule cannot test one argument twice.
      bool dup = false;
      for (size_t i = 0; i < cmps.size() && !dup; i++) {
        for (size_t j = i + 1; j < cmps.size(); j++) dup = dup || cmps[i].arg == cmps[j].arg;
      }
      for (const std::string& name : r.GetStrings("names")) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // unknown to libseccomp (or this kernel's arch): skipped, as runc does
        int rc = 0;
        if (!dup) {
          rc = seccomp_rule_add_array(c.ctx, act, nr, static_cast<unsigned int>(cmps.size()), cmps.data());
        } else {
          for (const scmp_arg_cmp& one : cmps) {
            if ((rc = seccomp_rule_add_array(c.ctx, act, nr, 1, &one)) < 0) break;
          }
        }
        if (rc < 0) return Fail(e, "seccomp_rule_add", rc, "rule for " + name);
      }
    }
  }
  if (notify) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // The kernel refuses TSYNC with a listener unless a failed sync may report ESRCH (we are one thread).
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    // Only meaningful (and only accepted by the kernel) together with a listener.
    if (waitKillable) flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  }
  return LoadProgram(c.ctx, flags, listener, e);
}

bool HandOverListener(int sock, int listener, Error* e) {
  UniqueFd fd(listener);
  if (!ChannelSend(sock, "{\"type\":\"seccompListener\"}", {fd.get()}, e)) return false;
  fd.Reset();
  std::string msg;
  std::vector<int> fds;
  bool eof = false;
  if (!ChannelRecv(sock, &msg, &fds, &eof, e)) return false;
  for (int x : fds) close(x);
  if (eof) return e->Set("recvmsg", "the runtime closed the channel before the seccomp listener reached its agent", EPIPE);
  json::Value v;
  std::string perr;
  if (!json::Parse(msg, &v, &perr) || v.GetString("type") != "seccompDone") return e->Set("recvmsg", "expected a \"seccompDone\" message, got " + msg, EPROTO);
  return true;
}

}  // namespace podkit::init

#include "init/seccomp.h"

#include <seccomp.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

}  // namespace

bool LoadSeccomp(const json::Value& s, Error* e) {
  uint32_t def = 0;
  std::string defName = s.GetString("defaultAction");
  if (!Action(defName, s.Get("defaultErrnoRet"), &def)) return e->Set("seccomp", "unknown defaultAction " + defName, EINVAL);
  Ctx c;
  c.ctx = seccomp_init(def);
  if (c.ctx == nullptr) return e->Set("seccomp_init", "creating the seccomp filter", ENOMEM);
  // no_new_privs is podkit-init's own business (process.noNewPrivileges), not the filter's.
  if (int rc = seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0) return Fail(e, "seccomp_attr_set", rc, "SCMP_FLTATR_CTL_NNP");
  for (const std::string& a : s.GetStrings("architectures")) {
    std::string n = a.rfind("SCMP_ARCH_", 0) == 0 ? a.substr(10) : a;
    for (char& ch : n) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    uint32_t arch = seccomp_arch_resolve_name(n.c_str());
    if (arch == 0) return e->Set("seccomp", "unknown architecture " + a, EINVAL);
    if (int rc = seccomp_arch_add(c.ctx, arch); rc < 0 && rc != -EEXIST) return Fail(e, "seccomp_arch_add", rc, a);
  }
  for (const std::string& f : s.GetStrings("flags")) {
    int rc = 0;
    if (f == "SECCOMP_FILTER_FLAG_LOG") rc = seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_LOG, 1);
    else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") rc = seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_SSB, 1);
    else if (f == "SECCOMP_FILTER_FLAG_TSYNC") rc = seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    else return e->Set("seccomp", "unsupported flag " + f, EINVAL);
    if (rc < 0) return Fail(e, "seccomp_attr_set", rc, f);
  }
  if (const json::Value* sys = s.Get("syscalls"); sys != nullptr && sys->IsArray()) {
    for (const json::Value& r : sys->Arr()) {
      uint32_t act = 0;
      std::string an = r.GetString("action");
      if (!Action(an, r.Get("errnoRet"), &act)) return e->Set("seccomp", "unknown action " + an, EINVAL);
      // libseccomp refuses a rule whose action is the default one; it would change nothing anyway.
      if (act == def) continue;
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
  if (int rc = seccomp_load(c.ctx); rc < 0) return Fail(e, "seccomp_load", rc, "loading the seccomp filter");
  return true;
}

}  // namespace podkit::init

// Basic facts about the addon: its ABI version (checked by the TypeScript loader) and a trivial
// function used to prove the build loads.
#include <sys/utsname.h>
#include <unistd.h>

#include "addon/module.h"
#include "common/version.h"

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("abi", Napi::Number::New(env, podkit::kAddonAbi));
  out.Set("protocol", Napi::Number::New(env, podkit::kPlanProtocolVersion));
  out.Set("napi", Napi::Number::New(env, NAPI_VERSION));
  struct utsname u {};
  if (uname(&u) == 0) out.Set("kernel", Napi::String::New(env, u.release));
  return out;
}

// add(a, b): the trivial function the foundation needs to prove that the addon builds and loads.
Napi::Value Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "add(a, b): both arguments must be numbers");
  }
  return Napi::Number::New(env, info[0].As<Napi::Number>().DoubleValue() + info[1].As<Napi::Number>().DoubleValue());
}

Napi::Value GetPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }

void InitCore(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("add", Napi::Function::New(env, Add, "add"));
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
}

}  // namespace

PODKIT_MODULE(core, InitCore);

// The addon's entry point: collects every module registered with PODKIT_MODULE.
#include <string>
#include <utility>
#include <vector>

#include "addon/module.h"

namespace podkit::addon {
namespace {
std::vector<std::pair<const char*, ModuleInit>>& Registry() {
  static std::vector<std::pair<const char*, ModuleInit>> modules;
  return modules;
}
}  // namespace

ModuleRegistrar::ModuleRegistrar(const char* name, ModuleInit init) { Registry().emplace_back(name, init); }

void InitModules(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& [name, init] : Registry()) {
    init(env, exports);
    names.Set(i++, Napi::String::New(env, name));
  }
  exports.Set("modules", names);
}
}  // namespace podkit::addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  podkit::addon::InitModules(env, exports);
  return exports;
}

NODE_API_MODULE(podkit_native, Init)

// Registration of addon functions. Every src/addon/*.cc file defines an init function and registers it
// with PODKIT_MODULE(name, fn); addon.cc calls them all when Node loads the addon.
#pragma once
#include <napi.h>

namespace podkit::addon {

using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);

struct ModuleRegistrar {
  ModuleRegistrar(const char* name, ModuleInit init);
};

void InitModules(Napi::Env env, Napi::Object exports);

}  // namespace podkit::addon

#define PODKIT_MODULE(name, fn) \
  static ::podkit::addon::ModuleRegistrar podkit_module_registrar_##name(#name, fn)

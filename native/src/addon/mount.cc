// mount(2) and umount2(2) for @podkit/runtime-core/sys. The TypeScript side turns option strings
// into flags (one parser for OCI mounts and mount descriptors); this file only makes the calls.
#include <sys/mount.h>

#include "addon/module.h"
#include "addon/process_async.h"

namespace podkit::addon {
namespace {

// mount({source?, target, fstype?, flags, data?}) -> Promise<void>
Napi::Value MountJs(const Napi::CallbackInfo& info) {
  const char* fn = "mount";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string source = OptString(o, "source", fn, false);
  std::string target = OptString(o, "target", fn);
  std::string fstype = OptString(o, "fstype", fn, false);
  std::string data = OptString(o, "data", fn, false);
  unsigned long flags = static_cast<unsigned long>(OptInt(o, "flags", fn, false, 0));
  return RunAsync<bool>(
      info.Env(),
      [=](bool*, Error* e) {
        if (mount(source.empty() ? nullptr : source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
                  data.empty() ? nullptr : data.c_str()) < 0) {
          return e->Sys("mount", (fstype.empty() ? source : fstype) + " at " + target);
        }
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// umount({target, flags?}) -> Promise<void>
Napi::Value UmountJs(const Napi::CallbackInfo& info) {
  const char* fn = "umount";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string target = OptString(o, "target", fn);
  int flags = static_cast<int>(OptInt(o, "flags", fn, false, 0));
  return RunAsync<bool>(
      info.Env(),
      [=](bool*, Error* e) {
        if (umount2(target.c_str(), flags) < 0) return e->Sys("umount2", target);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

void InitMount(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, MountJs, "mount"));
  exports.Set("umount", Napi::Function::New(env, UmountJs, "umount"));
}

}  // namespace

PODKIT_MODULE(mount, InitMount);

}  // namespace podkit::addon

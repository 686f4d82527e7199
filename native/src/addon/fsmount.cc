// The new mount API (fsopen/fsconfig/fsmount/move_mount) for @podkit/runtime-core/sys. Overlay mounts
// of images with many layers need it: mount(2) takes the options as one page (4096 bytes), so 120 layer
// paths do not fit, while fsconfig takes each lower dir as its own `lowerdir+` value (Linux >= 6.8).
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"

namespace podkit::addon {
namespace {

struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
};

// fsMount({fstype, source?, target, params: [[key, value|null], ...], readonly?}) -> Promise<void>
// A null value is a flag (FSCONFIG_SET_FLAG, e.g. "ro"); a string is FSCONFIG_SET_STRING.
Napi::Value FsMountJs(const Napi::CallbackInfo& info) {
  const char* fn = "fsMount";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string fstype = OptString(o, "fstype", fn);
  std::string source = OptString(o, "source", fn, false);
  std::string target = OptString(o, "target", fn);
  Napi::Value pv = o.Get("params");
  if (!pv.IsArray()) throw Napi::TypeError::New(info.Env(), "fsMount: option 'params' must be an array of [key, value|null]");
  Napi::Array arr = pv.As<Napi::Array>();
  std::vector<std::pair<std::string, std::pair<bool, std::string>>> params;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 2 || !e.As<Napi::Array>().Get(0u).IsString()) {
      throw Napi::TypeError::New(info.Env(), "fsMount: params[" + std::to_string(i) + "] must be [key, value|null]");
    }
    Napi::Array kv = e.As<Napi::Array>();
    Napi::Value v = kv.Get(1u);
    if (!v.IsNull() && !v.IsString()) throw Napi::TypeError::New(info.Env(), "fsMount: params[" + std::to_string(i) + "][1] must be a string or null");
    params.push_back({kv.Get(0u).As<Napi::String>().Utf8Value(), {v.IsString(), v.IsString() ? v.As<Napi::String>().Utf8Value() : ""}});
  }
  bool readonly = o.Get("readonly").ToBoolean().Value();
  return RunAsync<bool>(
      info.Env(),
      [=](bool*, Error* e) {
        FdGuard fs;
        fs.fd = fsopen(fstype.c_str(), FSOPEN_CLOEXEC);
        if (fs.fd < 0) return e->Sys("fsopen", fstype);
        if (!source.empty() && fsconfig(fs.fd, FSCONFIG_SET_STRING, "source", source.c_str(), 0) < 0) {
          return e->Sys("fsconfig", "source=" + source);
        }
        for (const auto& [key, value] : params) {
          int rc = value.first ? fsconfig(fs.fd, FSCONFIG_SET_STRING, key.c_str(), value.second.c_str(), 0)
                               : fsconfig(fs.fd, FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0);
          if (rc < 0) return e->Sys("fsconfig", value.first ? key + "=" + value.second : key);
        }
        if (fsconfig(fs.fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) return e->Sys("fsconfig", "create " + fstype);
        FdGuard mnt;
        mnt.fd = fsmount(fs.fd, FSMOUNT_CLOEXEC, readonly ? MOUNT_ATTR_RDONLY : 0);
        if (mnt.fd < 0) return e->Sys("fsmount", fstype);
        if (move_mount(mnt.fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) return e->Sys("move_mount", target);
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

void InitFsMount(Napi::Env env, Napi::Object exports) { exports.Set("fsMount", Napi::Function::New(env, FsMountJs, "fsMount")); }

}  // namespace

PODKIT_MODULE(fsmount, InitFsMount);

}  // namespace podkit::addon

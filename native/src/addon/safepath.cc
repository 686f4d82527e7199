// Safe path resolution inside a root for @podkit/runtime-core/sys (see common/safepath.h).
#include <fcntl.h>
#include <unistd.h>

#include "addon/module.h"
#include "addon/process_async.h"
#include "common/safepath.h"

namespace podkit::addon {
namespace {

bool FdToPath(int fd, std::string* out, Error* e) {
  char buf[4096];
  ssize_t n = readlink(FdPath(fd).c_str(), buf, sizeof(buf));
  if (n < 0) return e->Sys("readlink", FdPath(fd));
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

// resolveInRoot({root, path, create?: "dir"|"file", walk?}) -> Promise<string>: the host path that
// `path` names inside `root`, with every symlink and ".." kept inside the root.
Napi::Value ResolveInRoot(const Napi::CallbackInfo& info) {
  const char* fn = "resolveInRoot";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string root = OptString(o, "root", fn);
  std::string path = OptString(o, "path", fn);
  std::string create = OptString(o, "create", fn, false);
  bool walk = o.Get("walk").ToBoolean().Value();
  if (!create.empty() && create != "dir" && create != "file") throw Napi::TypeError::New(info.Env(), "resolveInRoot: option 'create' must be \"dir\" or \"file\"");
  return RunAsync<std::string>(
      info.Env(),
      [=](std::string* out, Error* e) {
        UniqueFd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!rootfd.ok()) return e->Sys("open", root);
        Resolver how = walk ? Resolver::kWalk : Resolver::kAuto;
        UniqueFd fd = create.empty() ? OpenInRoot(rootfd.get(), path, O_PATH, e, how) : CreateInRoot(rootfd.get(), path, create == "dir", e, how);
        if (!fd.ok()) return false;
        return FdToPath(fd.get(), out, e);
      },
      [](Napi::Env env, std::string& out) -> Napi::Value { return Napi::String::New(env, out); });
}

void InitSafepath(Napi::Env env, Napi::Object exports) { exports.Set("resolveInRoot", Napi::Function::New(env, ResolveInRoot, "resolveInRoot")); }

}  // namespace

PODKIT_MODULE(safepath, InitSafepath);

}  // namespace podkit::addon

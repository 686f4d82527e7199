// Network namespaces: pin a new one at a path, unpin it, and tell whether a path is one.
//
// Pinning never moves a Node thread: a short-lived std::thread unshares CLONE_NEWNET, bind-mounts its own
// /proc/thread-self/ns/net onto the target file and exits. The bind mount keeps the namespace alive after
// the thread is gone. The work runs in an AsyncWorker (Execute on the libuv pool), which only joins the
// short thread; no JS value is touched off the JS thread.
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>

#include "addon/module.h"

namespace {

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

struct SysError {
  std::string syscall;
  int err = 0;
  std::string message;
  bool failed() const { return err != 0; }
};

SysError Fail(const char* syscall, int err, const std::string& message) { return SysError{syscall, err, message}; }

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

Napi::Object ErrorObject(Napi::Env env, const SysError& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("syscall", e.syscall);
  o.Set("errno", ErrnoName(e.err));
  o.Set("message", e.message.empty() ? std::string(strerror(e.err)) : e.message + ": " + strerror(e.err));
  return o;
}

// Runs on the short-lived thread: after unshare this thread is alone in the new namespace, and it exits
// right after the bind mount, so no thread that runs JS or libuv work ever changes namespace.
SysError PinOnThread(const std::string& target) {
  if (unshare(CLONE_NEWNET) != 0) return Fail("unshare", errno, "unshare(CLONE_NEWNET)");
  if (mount("/proc/thread-self/ns/net", target.c_str(), "none", MS_BIND, nullptr) != 0) {
    return Fail("mount", errno, "bind /proc/thread-self/ns/net onto " + target);
  }
  return {};
}

SysError Pin(const std::string& target) {
  // The mount point: an empty file created exclusively, so two callers never share one name.
  int fd = open(target.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return Fail("open", errno, "create " + target);
  close(fd);
  SysError result;
  try {
    std::thread t([&result, &target] { result = PinOnThread(target); });
    t.join();
  } catch (const std::system_error& e) {
    result = Fail("pthread_create", e.code().value() != 0 ? e.code().value() : EAGAIN, "start the pinning thread");
  }
  if (result.failed()) unlink(target.c_str());
  return result;
}

SysError Unpin(const std::string& target) {
  // Detach: a process that still has the namespace open keeps it; the name goes away now.
  if (umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT) {
    return Fail("umount2", errno, "unmount " + target);
  }
  if (unlink(target.c_str()) != 0 && errno != ENOENT) return Fail("unlink", errno, "remove " + target);
  return {};
}

struct CheckResult {
  bool exists = false;
  bool isNetns = false;
  double inode = 0;
};

SysError Check(const std::string& target, CheckResult& out) {
  // O_PATH first: opening a FIFO or a device for reading could block or have side effects.
  int fd = open(target.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    return Fail("open", errno, "open " + target);
  }
  out.exists = true;
  struct statfs sfs {};
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Fail("fstat", e, target);
  }
  if (fstatfs(fd, &sfs) != 0) {
    int e = errno;
    close(fd);
    return Fail("fstatfs", e, target);
  }
  close(fd);
  out.inode = static_cast<double>(st.st_ino);
  if (static_cast<unsigned long>(sfs.f_type) != static_cast<unsigned long>(NSFS_MAGIC)) return {};
  // An nsfs file: ask its type (the ioctl needs a real open file, which is safe on nsfs).
  int nsfd = open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (nsfd < 0) return Fail("open", errno, "open " + target);
  int type = ioctl(nsfd, NS_GET_NSTYPE);
  int e = errno;
  close(nsfd);
  if (type < 0) return Fail("ioctl", e, "NS_GET_NSTYPE " + target);
  out.isNetns = type == CLONE_NEWNET;
  return {};
}

enum class Op { kPin, kUnpin, kCheck };

class NetnsWorker : public Napi::AsyncWorker {
 public:
  NetnsWorker(Napi::Env env, Op op, std::string target)
      : Napi::AsyncWorker(env, "podkit.netns"), deferred_(Napi::Promise::Deferred::New(env)), op_(op), target_(std::move(target)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    switch (op_) {
      case Op::kPin:
        err_ = Pin(target_);
        break;
      case Op::kUnpin:
        err_ = Unpin(target_);
        break;
      case Op::kCheck:
        err_ = Check(target_, check_);
        break;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_.failed()) {
      deferred_.Reject(ErrorObject(env, err_));
      return;
    }
    if (op_ == Op::kCheck) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("exists", check_.exists);
      o.Set("isNetns", check_.isNetns);
      o.Set("inode", check_.inode);
      deferred_.Resolve(o);
      return;
    }
    deferred_.Resolve(env.Undefined());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Op op_;
  std::string target_;
  SysError err_;
  CheckResult check_;
};

Napi::Value Start(const Napi::CallbackInfo& info, Op op, const char* fn) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, std::string(fn) + "(path): path must be a string");
  }
  std::string target = info[0].As<Napi::String>().Utf8Value();
  if (target.empty() || target[0] != '/' || target.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, std::string(fn) + "(path): path must be absolute");
  }
  auto* worker = new NetnsWorker(env, op, std::move(target));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

Napi::Value NetnsPin(const Napi::CallbackInfo& info) { return Start(info, Op::kPin, "netnsPin"); }
Napi::Value NetnsUnpin(const Napi::CallbackInfo& info) { return Start(info, Op::kUnpin, "netnsUnpin"); }
Napi::Value NetnsCheck(const Napi::CallbackInfo& info) { return Start(info, Op::kCheck, "netnsCheck"); }

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("netnsPin", Napi::Function::New(env, NetnsPin, "netnsPin"));
  exports.Set("netnsUnpin", Napi::Function::New(env, NetnsUnpin, "netnsUnpin"));
  exports.Set("netnsCheck", Napi::Function::New(env, NetnsCheck, "netnsCheck"));
}

}  // namespace

PODKIT_MODULE(netns, InitNetns);

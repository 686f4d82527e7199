// File-system nodes that Node's fs cannot make: device nodes and FIFOs (mknod), and extended
// attributes on the link itself (lsetxattr / lgetxattr / llistxattr), including trusted.overlay.* and
// security.capability. Used by image-store's layer extraction. Every function is asynchronous: the JS
// arguments are copied into a plain struct, the syscall runs in AsyncWorker::Execute, and the promise
// is rejected with {syscall, errno (name), message} on failure.
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <string>
#include <vector>

#include "addon/module.h"

namespace {

struct SysError {
  std::string syscall;
  int err = 0;
};

// Takes errno by value first, so building the message cannot clobber it.
SysError Fail(int err, std::string what) { return SysError{std::move(what), err}; }

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

// Base worker: subclasses implement Run() (on the pool thread) and Result() (on the JS thread).
class FsWorker : public Napi::AsyncWorker {
 public:
  explicit FsWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual bool Run(SysError& e) = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  void Execute() override {
    if (!Run(error_)) failed_ = true;
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failed_) {
      Napi::Error err = Napi::Error::New(env, error_.syscall + ": " + ErrnoName(error_.err) + " " + strerror(error_.err));
      err.Value().Set("syscall", Napi::String::New(env, error_.syscall));
      err.Value().Set("errno", Napi::String::New(env, ErrnoName(error_.err)));
      err.Value().Set("message", Napi::String::New(env, strerror(error_.err)));
      deferred_.Reject(err.Value());
      return;
    }
    deferred_.Resolve(Result(env));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  SysError error_;
  bool failed_ = false;
};

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a string");
  }
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a non-empty string without NUL");
  }
  return s;
}

uint32_t UintArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a number");
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (v < 0 || v > 4294967295.0 || v != static_cast<double>(static_cast<uint32_t>(v))) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be an unsigned 32-bit integer");
  }
  return static_cast<uint32_t>(v);
}

// mknod(path, mode, major, minor): mode includes the file type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG).
class MknodWorker : public FsWorker {
 public:
  MknodWorker(Napi::Env env, std::string path, uint32_t mode, uint32_t major, uint32_t minor)
      : FsWorker(env), path_(std::move(path)), mode_(mode), major_(major), minor_(minor) {}

 protected:
  bool Run(SysError& e) override {
    if (::mknod(path_.c_str(), static_cast<mode_t>(mode_), makedev(major_, minor_)) != 0) {
      const int saved = errno;
        e = Fail(saved, "mknod " + path_);
      return false;
    }
    return true;
  }

 private:
  std::string path_;
  uint32_t mode_, major_, minor_;
};

Napi::Value Mknod(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "mknod", "path");
  uint32_t mode = UintArg(info, 1, "mknod", "mode");
  uint32_t major = UintArg(info, 2, "mknod", "major");
  uint32_t minor = UintArg(info, 3, "mknod", "minor");
  auto* w = new MknodWorker(info.Env(), std::move(path), mode, major, minor);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// lsetxattr(path, name, value: Buffer, flags): sets an attribute on the path itself (never follows).
class SetXattrWorker : public FsWorker {
 public:
  SetXattrWorker(Napi::Env env, std::string path, std::string name, std::vector<char> value, int flags)
      : FsWorker(env), path_(std::move(path)), name_(std::move(name)), value_(std::move(value)), flags_(flags) {}

 protected:
  bool Run(SysError& e) override {
    if (::lsetxattr(path_.c_str(), name_.c_str(), value_.data(), value_.size(), flags_) != 0) {
      const int saved = errno;
        e = Fail(saved, "lsetxattr " + path_ + " " + name_);
      return false;
    }
    return true;
  }

 private:
  std::string path_, name_;
  std::vector<char> value_;
  int flags_;
};

Napi::Value Lsetxattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "lsetxattr", "path");
  std::string name = StringArg(info, 1, "lsetxattr", "name");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(info.Env(), "lsetxattr: value must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<char>>();
  std::vector<char> value(buf.Data(), buf.Data() + buf.Length());
  uint32_t flags = info.Length() > 3 ? UintArg(info, 3, "lsetxattr", "flags") : 0;
  auto* w = new SetXattrWorker(info.Env(), std::move(path), std::move(name), std::move(value), static_cast<int>(flags));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// lgetxattr(path, name) -> Buffer. Rejects with ENODATA when the attribute is absent.
class GetXattrWorker : public FsWorker {
 public:
  GetXattrWorker(Napi::Env env, std::string path, std::string name) : FsWorker(env), path_(std::move(path)), name_(std::move(name)) {}

 protected:
  bool Run(SysError& e) override {
    for (int attempt = 0; attempt < 4; attempt++) {
      ssize_t n = ::lgetxattr(path_.c_str(), name_.c_str(), nullptr, 0);
      if (n < 0) {
        const int saved = errno;
        e = Fail(saved, "lgetxattr " + path_ + " " + name_);
        return false;
      }
      value_.resize(static_cast<size_t>(n));
      ssize_t m = ::lgetxattr(path_.c_str(), name_.c_str(), value_.data(), value_.size());
      if (m >= 0) {
        value_.resize(static_cast<size_t>(m));
        return true;
      }
      if (errno != ERANGE) {
        const int saved = errno;
        e = Fail(saved, "lgetxattr " + path_ + " " + name_);
        return false;
      }
    }
    e = {"lgetxattr " + path_ + " " + name_, ERANGE};
    return false;
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Buffer<char>::Copy(env, value_.data(), value_.size()); }

 private:
  std::string path_, name_;
  std::vector<char> value_;
};

Napi::Value Lgetxattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "lgetxattr", "path");
  std::string name = StringArg(info, 1, "lgetxattr", "name");
  auto* w = new GetXattrWorker(info.Env(), std::move(path), std::move(name));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// llistxattr(path) -> string[]: every attribute name the caller can see on the path itself.
class ListXattrWorker : public FsWorker {
 public:
  ListXattrWorker(Napi::Env env, std::string path) : FsWorker(env), path_(std::move(path)) {}

 protected:
  bool Run(SysError& e) override {
    for (int attempt = 0; attempt < 4; attempt++) {
      ssize_t n = ::llistxattr(path_.c_str(), nullptr, 0);
      if (n < 0) {
        const int saved = errno;
        e = Fail(saved, "llistxattr " + path_);
        return false;
      }
      buf_.resize(static_cast<size_t>(n));
      ssize_t m = n == 0 ? 0 : ::llistxattr(path_.c_str(), buf_.data(), buf_.size());
      if (m >= 0) {
        buf_.resize(static_cast<size_t>(m));
        return true;
      }
      if (errno != ERANGE) {
        const int saved = errno;
        e = Fail(saved, "llistxattr " + path_);
        return false;
      }
    }
    e = {"llistxattr " + path_, ERANGE};
    return false;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env);
    uint32_t idx = 0;
    size_t start = 0;
    for (size_t i = 0; i < buf_.size(); i++) {
      if (buf_[i] == '\0') {
        if (i > start) out.Set(idx++, Napi::String::New(env, buf_.data() + start, i - start));
        start = i + 1;
      }
    }
    return out;
  }

 private:
  std::string path_;
  std::vector<char> buf_;
};

Napi::Value Llistxattr(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "llistxattr", "path");
  auto* w = new ListXattrWorker(info.Env(), std::move(path));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

void InitFsNodes(Napi::Env env, Napi::Object exports) {
  exports.Set("mknod", Napi::Function::New(env, Mknod, "mknod"));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr, "lsetxattr"));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr, "lgetxattr"));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr, "llistxattr"));
}

}  // namespace

PODKIT_MODULE(fsnodes, InitFsNodes);

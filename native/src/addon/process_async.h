// sharp's pattern for the addon's short syscalls: the JS arguments are copied into plain C++ values
// captured by `work`, which runs on the libuv pool without touching JS; `done` builds the result on
// the JS thread. A failure rejects with an Error carrying {syscall, errno (name), phase, nativeMessage},
// which TypeScript turns into an errdefs class with fromErrno.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <utility>

#include "common/error.h"

namespace podkit::addon {

inline Napi::Error ToJsError(Napi::Env env, const Error& e) {
  std::string text = e.syscall + ": " + e.ErrnoName() + (e.message.empty() ? "" : " " + e.message);
  Napi::Error err = Napi::Error::New(env, text);
  err.Set("syscall", Napi::String::New(env, e.syscall));
  err.Set("errno", Napi::String::New(env, e.ErrnoName()));
  err.Set("nativeMessage", Napi::String::New(env, e.message));
  if (!e.phase.empty()) err.Set("phase", Napi::String::New(env, e.phase));
  return err;
}

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<bool(Result*, Error*)>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (!work_(&result_, &error_)) SetError(error_.message);
  }
  void OnOK() override { deferred_.Resolve(done_(Env(), result_)); }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  Result result_{};
  Error error_;
};

// Queues `work` and returns its promise.
template <typename Result>
Napi::Promise RunAsync(Napi::Env env, typename PromiseWorker<Result>::Work work, typename PromiseWorker<Result>::Done done) {
  auto* w = new PromiseWorker<Result>(env, std::move(work), std::move(done));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Argument helpers: they throw a TypeError naming the option.
inline Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i + 1) + " must be an object");
  return info[i].As<Napi::Object>();
}
inline std::string OptString(Napi::Object o, const char* key, const char* fn, bool required = true, const std::string& fallback = "") {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": option '" + key + "' is required");
    return fallback;
  }
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": option '" + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}
inline int64_t OptInt(Napi::Object o, const char* key, const char* fn, bool required = true, int64_t fallback = 0) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": option '" + key + "' is required");
    return fallback;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": option '" + key + "' must be a number");
  return v.As<Napi::Number>().Int64Value();
}
inline int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i + 1) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

}  // namespace podkit::addon

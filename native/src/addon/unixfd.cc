// File descriptors over unix sockets, and the seccomp user-notification ioctls.
//
// The runtime side of SCMP_ACT_NOTIFY (runtime-spec config-linux.md, "seccomp"): the listener fd that
// podkit-init hands back over the plan channel is sent, with the "container process state" JSON, to
// the profile's listenerPath (an AF_UNIX SOCK_STREAM socket) with SCM_RIGHTS. The receiving half
// (listen, accept one connection, read the payload and its fds) and the notification ioctls
// (SECCOMP_IOCTL_NOTIF_RECV / _SEND) let a seccomp agent be written in Node; the tests use them.
// The SCM_RIGHTS mechanics are the plan channel's (common/channel.h SendWithFds / RecvWithFds).
//
// Waits that may be long (accept, a notification) run on their own thread with a deadline and settle
// their promise through a ThreadSafeFunction, never on the libuv pool.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"
#include "common/channel.h"
#include "common/fd.h"

namespace podkit::addon {
namespace {

constexpr size_t kMaxFds = kMaxFdsPerMessage;
constexpr size_t kMaxPayload = 1 << 20;

// Runs `work` on a new thread and settles the returned promise on the JS thread with `done(result)`
// or the Error.
template <typename Result>
Napi::Promise RunOnThread(Napi::Env env, const char* name, std::function<bool(Result*, Error*)> work, std::function<Napi::Value(Napi::Env, Result&)> done) {
  struct Job {
    Napi::Promise::Deferred deferred;
    std::function<bool(Result*, Error*)> work;
    std::function<Napi::Value(Napi::Env, Result&)> done;
    Result result{};
    Error error;
    bool ok = false;
  };
  auto* job = new Job{Napi::Promise::Deferred::New(env), std::move(work), std::move(done)};
  Napi::Promise promise = job->deferred.Promise();
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), name, 0, 1);
  std::thread([job, tsfn]() mutable {
    job->ok = job->work(&job->result, &job->error);
    tsfn.BlockingCall(job, [](Napi::Env cbEnv, Napi::Function, Job* j) {
      if (j->ok) {
        j->deferred.Resolve(j->done(cbEnv, j->result));
      } else {
        j->deferred.Reject(ToJsError(cbEnv, j->error).Value());
      }
      delete j;
    });
    tsfn.Release();
  }).detach();
  return promise;
}

int64_t NowMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Polls `fd` for `events` until the deadline: 1 ready, 0 timed out, -1 error (errno set).
int WaitFd(int fd, short events, int64_t deadline, short* revents) {
  while (true) {
    int64_t left = deadline - NowMs();
    if (left < 0) left = 0;
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0 && revents != nullptr) *revents = p.revents;
    return r;
  }
}

bool UnixAddress(const std::string& path, struct sockaddr_un* sa, Error* e) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa->sun_path)) return e->Set("connect", "unix socket path \"" + path + "\" is empty or longer than " + std::to_string(sizeof(sa->sun_path) - 1) + " bytes", ENAMETOOLONG);
  memcpy(sa->sun_path, path.data(), path.size());
  return true;
}

std::vector<int> FdArray(Napi::Env env, Napi::Value v, const char* fn) {
  std::vector<int> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(fn) + ": fds must be an array of fds");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > kMaxFds) throw Napi::TypeError::New(env, std::string(fn) + ": at most 16 fds");
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value x = a.Get(i);
    if (!x.IsNumber() || x.As<Napi::Number>().Int32Value() < 0) throw Napi::TypeError::New(env, std::string(fn) + ": fds must be an array of fds");
    out.push_back(x.As<Napi::Number>().Int32Value());
  }
  return out;
}

// unixSendFds({path, payload, fds}) -> Promise<void>: connects to the AF_UNIX SOCK_STREAM socket at
// `path`, sends `payload` with `fds` (SCM_RIGHTS, on the first sendmsg only, as the runtime-spec asks)
// and closes the connection (one state per connection).
Napi::Value UnixSendFds(const Napi::CallbackInfo& info) {
  const char* fn = "unixSendFds";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string path = OptString(o, "path", fn);
  std::string payload = OptString(o, "payload", fn);
  std::vector<int> fds = FdArray(info.Env(), o.Get("fds"), fn);
  return RunAsync<bool>(
      info.Env(),
      [path, payload, fds](bool*, Error* e) {
        struct sockaddr_un sa {};
        if (!UnixAddress(path, &sa, e)) return false;
        UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!s.ok()) return e->Sys("socket", "AF_UNIX stream socket");
        int r;
        do {
          r = connect(s.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa));
        } while (r < 0 && errno == EINTR);
        if (r < 0) return e->Sys("connect", path);
        size_t off = 0;
        bool first = true;
        while (off < payload.size() || first) {
          std::span<const int> attached = first ? std::span<const int>(fds) : std::span<const int>();
          ssize_t n = SendWithFds(s.get(), payload.data() + off, payload.size() - off, attached, MSG_NOSIGNAL);
          if (n < 0) return e->Sys("sendmsg", path);
          off += static_cast<size_t>(n);
          first = false;
        }
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// unixListen(path) -> fd: a listening AF_UNIX SOCK_STREAM socket bound at `path` (close-on-exec).
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "unixListen: argument 1 must be a path");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Error e;
  struct sockaddr_un sa {};
  if (!UnixAddress(path, &sa, &e)) throw ToJsError(info.Env(), e);
  UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.ok()) {
    e.Sys("socket", "AF_UNIX stream socket");
    throw ToJsError(info.Env(), e);
  }
  if (bind(s.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa)) < 0) {
    e.Sys("bind", path);
    throw ToJsError(info.Env(), e);
  }
  if (listen(s.get(), 16) < 0) {
    e.Sys("listen", path);
    throw ToJsError(info.Env(), e);
  }
  return Napi::Number::New(info.Env(), s.Release());
}

struct Received {
  bool timedOut = false;
  std::string payload;
  std::vector<int> fds;
};

bool AcceptFds(int lfd, int timeout, bool untilEof, Received* r, Error* e) {
  int64_t deadline = NowMs() + timeout;
  int w = WaitFd(lfd, POLLIN, deadline, nullptr);
  if (w < 0) return e->Sys("poll", "listening socket");
  if (w == 0) {
    r->timedOut = true;
    return true;
  }
  UniqueFd c(accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!c.ok()) return e->Sys("accept4", "listening socket");
  std::string buf(64 * 1024, '\0');
  while (true) {
    short rev = 0;
    w = WaitFd(c.get(), POLLIN, deadline, &rev);
    if (w < 0) return e->Sys("poll", "connection");
    if (w == 0) return e->Set("recvmsg", "the peer did not close the connection before the deadline", ETIMEDOUT);
    ssize_t n = RecvWithFds(c.get(), buf.data(), buf.size(), &r->fds);
    if (n < 0) return e->Sys("recvmsg", "connection");
    if (n == 0) return true;
    r->payload.append(buf.data(), static_cast<size_t>(n));
    if (!untilEof) return true;
    if (r->payload.size() > kMaxPayload) return e->Set("recvmsg", "payload larger than 1 MiB", EMSGSIZE);
  }
}

// unixAcceptFds(listenFd, timeoutMs, untilEof = true) -> Promise<{payload, fds} | null>: accepts one
// connection and reads it to its end (or, with untilEof false, only its first message: runc 1.1 keeps
// the connection open), collecting the fds sent with SCM_RIGHTS (close-on-exec). null on timeout.
// On an error no received fd stays open.
Napi::Value UnixAcceptFds(const Napi::CallbackInfo& info) {
  int lfd = ArgInt(info, 0, "unixAcceptFds");
  int timeout = ArgInt(info, 1, "unixAcceptFds");
  bool untilEof = info.Length() < 3 || info[2].IsUndefined() || info[2].ToBoolean().Value();
  return RunOnThread<Received>(
      info.Env(), "podkit.unixAcceptFds",
      [lfd, timeout, untilEof](Received* r, Error* e) {
        bool ok = AcceptFds(lfd, timeout, untilEof, r, e);
        if (!ok) {
          for (int fd : r->fds) close(fd);
          r->fds.clear();
        }
        return ok;
      },
      [](Napi::Env env, Received& r) -> Napi::Value {
        if (r.timedOut) return env.Null();
        Napi::Object out = Napi::Object::New(env);
        out.Set("payload", Napi::String::New(env, r.payload));
        Napi::Array fds = Napi::Array::New(env, r.fds.size());
        for (uint32_t i = 0; i < r.fds.size(); i++) fds.Set(i, r.fds[i]);
        out.Set("fds", fds);
        return out;
      });
}


struct Notification {
  enum class Kind { kTimeout, kClosed, kNotif } kind = Kind::kTimeout;
  uint64_t id = 0;
  uint32_t pid = 0;
  int32_t nr = 0;
  uint32_t arch = 0;
  uint64_t args[6] = {};
};

// seccompNotifRecv(listenerFd, timeoutMs) -> Promise<{id, pid, nr, arch, args} | {closed: true} | null>:
// the next notification (id and args as decimal strings: they are 64-bit), {closed} once no process
// uses the filter any more, null on timeout.
Napi::Value SeccompNotifRecv(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "seccompNotifRecv");
  int timeout = ArgInt(info, 1, "seccompNotifRecv");
  return RunOnThread<Notification>(
      info.Env(), "podkit.seccompNotifRecv",
      [fd, timeout](Notification* n, Error* e) {
        struct seccomp_notif_sizes sizes {};
        if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return e->Sys("seccomp", "SECCOMP_GET_NOTIF_SIZES");
        // The kernel writes its own struct size, which may be larger than this header's.
        std::vector<unsigned char> buf(std::max<size_t>(sizes.seccomp_notif, sizeof(struct seccomp_notif)));
        int64_t deadline = NowMs() + timeout;
        while (true) {
          short rev = 0;
          int w = WaitFd(fd, POLLIN, deadline, &rev);
          if (w < 0) return e->Sys("poll", "seccomp listener");
          if (w == 0) return true;
          if (!(rev & POLLIN) && (rev & (POLLHUP | POLLERR))) {
            n->kind = Notification::Kind::kClosed;
            return true;
          }
          std::fill(buf.begin(), buf.end(), 0);
          if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) < 0) {
            // ENOENT: the notifying task died or the notification went to another reader.
            if (errno == EINTR || errno == ENOENT) continue;
            return e->Sys("ioctl", "SECCOMP_IOCTL_NOTIF_RECV");
          }
          const auto* sn = reinterpret_cast<const struct seccomp_notif*>(buf.data());
          n->kind = Notification::Kind::kNotif;
          n->id = sn->id;
          n->pid = sn->pid;
          n->nr = sn->data.nr;
          n->arch = sn->data.arch;
          for (int i = 0; i < 6; i++) n->args[i] = sn->data.args[i];
          return true;
        }
      },
      [](Napi::Env env, Notification& n) -> Napi::Value {
        if (n.kind == Notification::Kind::kTimeout) return env.Null();
        Napi::Object out = Napi::Object::New(env);
        if (n.kind == Notification::Kind::kClosed) {
          out.Set("closed", true);
          return out;
        }
        out.Set("id", std::to_string(n.id));
        out.Set("pid", n.pid);
        out.Set("nr", n.nr);
        out.Set("arch", n.arch);
        Napi::Array args = Napi::Array::New(env, 6);
        for (uint32_t i = 0; i < 6; i++) args.Set(i, std::to_string(n.args[i]));
        out.Set("args", args);
        return out;
      });
}

// seccompNotifSend(listenerFd, {id, error?, val?, continue?}): answers a notification. `error` is a
// positive errno (the syscall fails with it), else the syscall returns `val`; `continue` lets the
// kernel run the syscall as if it were allowed. Never blocks.
Napi::Value SeccompNotifSend(const Napi::CallbackInfo& info) {
  const char* fn = "seccompNotifSend";
  int fd = ArgInt(info, 0, fn);
  Napi::Object o = ArgObject(info, 1, fn);
  std::string id = OptString(o, "id", fn);
  struct seccomp_notif_resp resp {};
  resp.id = strtoull(id.c_str(), nullptr, 10);
  resp.error = -static_cast<int32_t>(OptInt(o, "error", fn, false, 0));
  resp.val = OptInt(o, "val", fn, false, 0);
  if (o.Has("continue") && o.Get("continue").ToBoolean().Value()) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
    Error e;
    e.Sys("ioctl", "SECCOMP_IOCTL_NOTIF_SEND for notification " + id);
    throw ToJsError(info.Env(), e);
  }
  return info.Env().Undefined();
}

// seccompNotifIdValid(listenerFd, id) -> boolean: whether notification `id` is still pending (its
// task has not been interrupted or killed). Never blocks.
Napi::Value SeccompNotifIdValid(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "seccompNotifIdValid");
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "seccompNotifIdValid: argument 2 must be the id (a decimal string)");
  uint64_t id = strtoull(info[1].As<Napi::String>().Utf8Value().c_str(), nullptr, 10);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  Error e;
  e.Sys("ioctl", "SECCOMP_IOCTL_NOTIF_ID_VALID");
  throw ToJsError(info.Env(), e);
}

void InitUnixFd(Napi::Env env, Napi::Object exports) {
  exports.Set("seccompNotifIdValid", Napi::Function::New(env, SeccompNotifIdValid, "seccompNotifIdValid"));
  exports.Set("unixSendFds", Napi::Function::New(env, UnixSendFds, "unixSendFds"));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixAcceptFds", Napi::Function::New(env, UnixAcceptFds, "unixAcceptFds"));
  exports.Set("seccompNotifRecv", Napi::Function::New(env, SeccompNotifRecv, "seccompNotifRecv"));
  exports.Set("seccompNotifSend", Napi::Function::New(env, SeccompNotifSend, "seccompNotifSend"));
}

}  // namespace

PODKIT_MODULE(unixfd, InitUnixFd);

}  // namespace podkit::addon

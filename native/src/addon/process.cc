// Spawning podkit-init and talking the plan protocol with it; pidfd-based process handles.
//
// Why posix_spawn and not clone3 in the addon: the Node process is multi-threaded, so the only safe
// child of it is one that execs at once. glibc's posix_spawn uses clone(CLONE_VM | CLONE_VFORK) and
// execs, which is both safe and the cheapest way to start a process. Everything that needs a
// forked-but-not-exec'd process (joining namespaces, cloning into new ones with CLONE_PARENT and
// CLONE_PIDFD) happens in podkit-init, a single-threaded static binary. The container process is
// cloned there with CLONE_PARENT, so it is our child (we can reap it and read its exit status) and
// its pidfd comes back over the channel with SCM_RIGHTS.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"
#include "common/channel.h"
#include "common/fd.h"

namespace podkit::addon {
namespace {

// The plan channel is fd 3 in podkit-init, after the extra fds passed with `extraFds` (3, 4, ...).
constexpr int kFirstExtraFd = 3;

// CVE-2019-5736: a root process of a container could rewrite the helper binary through
// /proc/<pid>/exe while podkit-init waits on the exec FIFO. The helper is therefore never run from
// its file: it is copied once per Node process (again when the file changes) into a memfd sealed
// against writes, and spawned as /proc/self/fd/<memfd>. The copy is close-on-exec here and in
// podkit-init, so no container process gets the fd.
struct SealedCopy {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  timespec mtime{};
  UniqueFd fd;
};

std::mutex g_sealedMu;
std::vector<SealedCopy> g_sealed;

bool SameFile(const SealedCopy& c, const struct stat& st) {
  return c.dev == st.st_dev && c.ino == st.st_ino && c.size == st.st_size && c.mtime.tv_sec == st.st_mtim.tv_sec &&
         c.mtime.tv_nsec == st.st_mtim.tv_nsec;
}

// Returns a close-on-exec duplicate, at or above `minFd`, of the sealed copy of `helper`.
int SealedHelperFd(const std::string& helper, int minFd, Error* e) {
  std::lock_guard<std::mutex> lock(g_sealedMu);
  struct stat st {};
  if (stat(helper.c_str(), &st) < 0) return e->Sys("stat", helper), -1;
  SealedCopy* hit = nullptr;
  for (SealedCopy& c : g_sealed) {
    if (c.path == helper) hit = &c;
  }
  if (hit == nullptr || !SameFile(*hit, st)) {
    UniqueFd src(open(helper.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src.ok()) return e->Sys("open", helper), -1;
    if (fstat(src.get(), &st) < 0) return e->Sys("fstat", helper), -1;
    if (!S_ISREG(st.st_mode)) return e->Set("open", helper + " is not a regular file", ENOEXEC), -1;
    UniqueFd mfd(memfd_create("podkit-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!mfd.ok()) return e->Sys("memfd_create", "sealed copy of " + helper), -1;
    off_t off = 0;
    while (off < st.st_size) {
      ssize_t n = sendfile(mfd.get(), src.get(), &off, static_cast<size_t>(st.st_size - off));
      if (n < 0) return e->Sys("sendfile", "copying " + helper + " into a memfd"), -1;
      if (n == 0) return e->Set("sendfile", helper + " shrank while being copied", EIO), -1;
    }
    if (fcntl(mfd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
      return e->Sys("fcntl", "sealing the copy of " + helper), -1;
    }
    if (hit == nullptr) {
      g_sealed.emplace_back();
      hit = &g_sealed.back();
      hit->path = helper;
    }
    hit->dev = st.st_dev;
    hit->ino = st.st_ino;
    hit->size = st.st_size;
    hit->mtime = st.st_mtim;
    hit->fd = std::move(mfd);
  }
  int fd = fcntl(hit->fd.get(), F_DUPFD_CLOEXEC, minFd);
  if (fd < 0) return e->Sys("fcntl", "duplicating the sealed copy of " + helper), -1;
  return fd;
}

struct SpawnResult {
  int pid = -1;
  int sock = -1;
};

// spawnInit({helper, stdin?, stdout?, stderr?, extraFds?}) -> Promise<{pid, sock}>
// extraFds: fds of this process that the helper gets as 3, 4, ... (`--preserve-fds`); the plan channel
// then follows them, and its number is passed as `--channel <fd>`.
Napi::Value SpawnInit(const Napi::CallbackInfo& info) {
  const char* fn = "spawnInit";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string helper = OptString(o, "helper", fn);
  int stdio[3] = {static_cast<int>(OptInt(o, "stdin", fn, false, -1)), static_cast<int>(OptInt(o, "stdout", fn, false, -1)),
                  static_cast<int>(OptInt(o, "stderr", fn, false, -1))};
  std::vector<int> extra;
  if (o.Has("extraFds") && !o.Get("extraFds").IsUndefined()) {
    Napi::Value v = o.Get("extraFds");
    if (!v.IsArray()) {
      Napi::TypeError::New(info.Env(), "spawnInit: extraFds must be an array of fds").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value x = a.Get(i);
      if (!x.IsNumber() || x.As<Napi::Number>().Int32Value() < 0) {
        Napi::TypeError::New(info.Env(), "spawnInit: extraFds must be an array of fds").ThrowAsJavaScriptException();
        return info.Env().Undefined();
      }
      extra.push_back(x.As<Napi::Number>().Int32Value());
    }
  }
  return RunAsync<SpawnResult>(
      info.Env(),
      [helper, stdio, extra](SpawnResult* r, Error* e) {
        const int channelFd = kFirstExtraFd + static_cast<int>(extra.size());
        // Temporary duplicates live above every target fd, so no dup2 below overwrites a source.
        const int above = std::max(10, channelFd + 1);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return e->Sys("socketpair", "plan channel");
        UniqueFd parent(sv[0]);
        // dup2(fd, fd) would keep close-on-exec set: the child end always moves above the targets.
        UniqueFd child(fcntl(sv[1], F_DUPFD_CLOEXEC, above));
        close(sv[1]);
        if (!child.ok()) return e->Sys("fcntl", "moving the channel fd");
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        // Node marks fds 0-2 close-on-exec, and dup2(fd, fd) would keep that flag: give the helper a
        // fresh duplicate of each (ours, or the one asked for), which dup2 onto 0-2 clears.
        std::vector<UniqueFd> dups;
        for (int i = 0; i < 3; i++) {
          UniqueFd d(fcntl(stdio[i] >= 0 ? stdio[i] : i, F_DUPFD_CLOEXEC, above));
          if (!d.ok()) continue;  // not open here: not open in the helper either
          posix_spawn_file_actions_adddup2(&fa, d.get(), i);
          dups.push_back(std::move(d));
        }
        for (size_t i = 0; i < extra.size(); i++) {
          UniqueFd d(fcntl(extra[i], F_DUPFD_CLOEXEC, above));
          if (!d.ok()) {
            posix_spawn_file_actions_destroy(&fa);
            posix_spawnattr_destroy(&attr);
            return e->Sys("fcntl", "extra fd " + std::to_string(extra[i]) + " to preserve");
          }
          posix_spawn_file_actions_adddup2(&fa, d.get(), kFirstExtraFd + static_cast<int>(i));
          dups.push_back(std::move(d));
        }
        posix_spawn_file_actions_adddup2(&fa, child.get(), channelFd);
        // Above every dup2 target, so the path below still names the copy when the child execs.
        UniqueFd exe(SealedHelperFd(helper, above, e));
        if (!exe.ok()) {
          posix_spawn_file_actions_destroy(&fa);
          posix_spawnattr_destroy(&attr);
          return false;
        }
        const std::string exePath = "/proc/self/fd/" + std::to_string(exe.get());
        // Node blocks and ignores signals; the helper starts clean (and resets again before execve).
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        char arg0[] = "podkit-init";
        char arg1[] = "--channel";
        std::string fdArg = std::to_string(channelFd);
        // Without extra fds the channel is fd 3 and the command line stays just "podkit-init".
        char* argv[] = {arg0, extra.empty() ? nullptr : arg1, fdArg.data(), nullptr};
        char* envp[] = {nullptr};
        pid_t pid = -1;
        int rc = posix_spawn(&pid, exePath.c_str(), &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) return e->Set("posix_spawn", helper, rc);
        r->pid = pid;
        r->sock = parent.Release();
        return true;
      },
      [](Napi::Env env, SpawnResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("pid", r.pid);
        out.Set("sock", r.sock);
        return out;
      });
}

// channelSend(sock, message, fds?) -> Promise<void>
Napi::Value ChannelSendJs(const Napi::CallbackInfo& info) {
  const char* fn = "channelSend";
  int sock = ArgInt(info, 0, fn);
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "channelSend: argument 2 must be a string");
  std::string msg = info[1].As<Napi::String>().Utf8Value();
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  }
  return RunAsync<bool>(
      info.Env(), [sock, msg, fds](bool*, Error* e) { return ChannelSend(sock, msg, fds, e); },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

void ThrowErrno(Napi::Env env, const char* call, const std::string& msg);

// channelTrySend(sock, message, fds?) -> boolean: the synchronous fast path of channelSend. A message
// that fits one datagram goes out with MSG_DONTWAIT, so the call never blocks (as pidfdOpen never
// does): true when it was sent, false when the socket's buffer is full or the message needs several
// datagrams (then use channelSend, on the pool). It saves two thread hops per protocol message, which
// on a loaded machine are a large part of a `create`. Framing as common/channel.h: one leading byte,
// 0 on the last datagram of a message; the fds ride on it.
Napi::Value ChannelTrySendJs(const Napi::CallbackInfo& info) {
  const char* fn = "channelTrySend";
  int sock = ArgInt(info, 0, fn);
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "channelTrySend: argument 2 must be a string");
  std::string buf(1, '\0');
  buf += info[1].As<Napi::String>().Utf8Value();
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  }
  if (buf.size() - 1 > kChannelChunk || fds.size() > kChannelMaxFds) return Napi::Boolean::New(info.Env(), false);
  ssize_t r = SendWithFds(sock, buf.data(), buf.size(), fds, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Boolean::New(info.Env(), false);
  if (r < 0) ThrowErrno(info.Env(), "sendmsg", "sending a protocol message");
  return Napi::Boolean::New(info.Env(), true);
}

struct RecvResult {
  std::string msg;
  std::vector<int> fds;
  bool eof = false;
};

// channelRecv(sock) -> Promise<{message: string | null, fds: number[]}>
Napi::Value ChannelRecvJs(const Napi::CallbackInfo& info) {
  int sock = ArgInt(info, 0, "channelRecv");
  return RunAsync<RecvResult>(
      info.Env(), [sock](RecvResult* r, Error* e) { return ChannelRecv(sock, &r->msg, &r->fds, &r->eof, e); },
      [](Napi::Env env, RecvResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("message", r.eof ? env.Null() : Napi::String::New(env, r.msg));
        Napi::Array fds = Napi::Array::New(env, r.fds.size());
        for (uint32_t i = 0; i < r.fds.size(); i++) fds.Set(i, r.fds[i]);
        out.Set("fds", fds);
        return out;
      });
}

struct ExitStatus {
  bool known = false;
  int code = -1;
  int signal = 0;
};

Napi::Value ExitToJs(Napi::Env env, const ExitStatus& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("exitCode", s.known && s.signal == 0 ? Napi::Value(Napi::Number::New(env, s.code)) : env.Null());
  out.Set("signal", s.signal != 0 ? Napi::Value(Napi::Number::New(env, s.signal)) : env.Null());
  out.Set("reaped", Napi::Boolean::New(env, s.known));
  return out;
}

void FromSiginfo(const siginfo_t& si, ExitStatus* s) {
  s->known = true;
  if (si.si_code == CLD_EXITED) {
    s->code = si.si_status;
  } else {
    s->signal = si.si_status;
  }
}

// waitPid(pid) -> Promise<{exitCode, signal, reaped}>: reaps a child that is about to exit (stage 0).
Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "waitPid");
  return RunAsync<ExitStatus>(
      info.Env(),
      [pid](ExitStatus* s, Error* e) {
        siginfo_t si {};
        int r;
        do {
          r = waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED);
        } while (r < 0 && errno == EINTR);
        if (r < 0) return e->Sys("waitid", "pid " + std::to_string(pid));
        FromSiginfo(si, s);
        return true;
      },
      [](Napi::Env env, ExitStatus& s) { return ExitToJs(env, s); });
}

void ThrowErrno(Napi::Env env, const char* call, const std::string& msg) {
  Error e;
  e.Sys(call, msg);
  throw ToJsError(env, e);
}

// pidfdOpen(pid) -> fd. Never blocks, so it is synchronous.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "pidfdOpen");
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) ThrowErrno(info.Env(), "pidfd_open", "pid " + std::to_string(pid));
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(info.Env(), fd);
}

// pidfdSendSignal(pidfd, signal). Never blocks.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "pidfdSendSignal");
  int sig = ArgInt(info, 1, "pidfdSendSignal");
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) ThrowErrno(info.Env(), "pidfd_send_signal", "signal " + std::to_string(sig));
  return info.Env().Undefined();
}

// startFifo({path, pidfd}) -> Promise<void>: opens the exec FIFO for reading, which releases the
// container's init blocked in open(O_WRONLY), and reads its byte. Fails with ESRCH when the init
// exits first, instead of blocking forever.
Napi::Value StartFifo(const Napi::CallbackInfo& info) {
  Napi::Object o = ArgObject(info, 0, "startFifo");
  std::string path = OptString(o, "path", "startFifo");
  int pidfd = static_cast<int>(OptInt(o, "pidfd", "startFifo"));
  return RunAsync<bool>(
      info.Env(),
      [path, pidfd](bool*, Error* e) {
        UniqueFd f(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!f.ok()) return e->Sys("open", path);
        while (true) {
          struct pollfd p[2] = {{f.get(), POLLIN, 0}, {pidfd, POLLIN, 0}};
          int r = poll(p, 2, -1);
          if (r < 0 && errno == EINTR) continue;
          if (r < 0) return e->Sys("poll", path);
          if (p[0].revents & POLLIN) {
            char c;
            ssize_t n = read(f.get(), &c, 1);
            if (n == 1) return true;
            if (n < 0 && errno == EAGAIN) continue;
            if (n < 0) return e->Sys("read", path);
          }
          if (p[1].revents & POLLIN) return e->Set("start", "the container's init exited before it was started", ESRCH);
          if (p[0].revents & (POLLHUP | POLLERR)) return e->Set("start", "the container's init closed the exec FIFO without starting", EPIPE);
        }
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
}

// watchExit(pidfd, callback) -> cancel(): waits on its own thread (never the libuv pool) for the
// process to exit, reaps it when it is our child, and calls callback({exitCode, signal, reaped}).
struct Watch {
  UniqueFd pidfd;
  UniqueFd cancel;
  Napi::ThreadSafeFunction tsfn;
};

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = ArgInt(info, 0, "watchExit");
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "watchExit: argument 2 must be a function");
  auto w = std::make_shared<Watch>();
  w->pidfd.Reset(fcntl(pidfd, F_DUPFD_CLOEXEC, 3));
  if (!w->pidfd.ok()) ThrowErrno(env, "fcntl", "duplicating the pidfd");
  w->cancel.Reset(eventfd(0, EFD_CLOEXEC));
  if (!w->cancel.ok()) ThrowErrno(env, "eventfd", "watchExit");
  w->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "podkit.watchExit", 0, 1);
  std::thread([w]() {
    ExitStatus* s = new ExitStatus();
    bool cancelled = false;
    while (true) {
      struct pollfd p[2] = {{w->pidfd.get(), POLLIN, 0}, {w->cancel.get(), POLLIN, 0}};
      int r = poll(p, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || (p[1].revents & POLLIN)) {
        cancelled = true;
        break;
      }
      if (p[0].revents & (POLLIN | POLLHUP)) break;
    }
    if (cancelled) {
      delete s;
      w->tsfn.Release();
      return;
    }
    siginfo_t si {};
    int r;
    do {
      r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(w->pidfd.get()), &si, WEXITED);
    } while (r < 0 && errno == EINTR);
    if (r == 0) FromSiginfo(si, s);  // else not our child (ECHILD): exited, status unknown
    w->tsfn.BlockingCall(s, [](Napi::Env cbEnv, Napi::Function cb, ExitStatus* st) {
      Napi::Value v = ExitToJs(cbEnv, *st);
      delete st;
      cb.Call({v});
    });
    w->tsfn.Release();
  }).detach();
  return Napi::Function::New(env, [w](const Napi::CallbackInfo& ci) {
    uint64_t one = 1;
    if (write(w->cancel.get(), &one, sizeof(one)) < 0) {
      // The watcher is gone already: nothing to cancel.
    }
    return ci.Env().Undefined();
  });
}

// setChildSubreaper(on): orphaned descendants (a container whose podrun exited) are re-parented to
// this process instead of PID 1, as containerd's shim does, so it can reap them. Never blocks.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  bool on = info.Length() > 0 && info[0].ToBoolean().Value();
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0) ThrowErrno(info.Env(), "prctl", "PR_SET_CHILD_SUBREAPER");
  return info.Env().Undefined();
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("spawnInit", Napi::Function::New(env, SpawnInit, "spawnInit"));
  exports.Set("channelSend", Napi::Function::New(env, ChannelSendJs, "channelSend"));
  exports.Set("channelTrySend", Napi::Function::New(env, ChannelTrySendJs, "channelTrySend"));
  exports.Set("channelRecv", Napi::Function::New(env, ChannelRecvJs, "channelRecv"));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("startFifo", Napi::Function::New(env, StartFifo, "startFifo"));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
}

}  // namespace

PODKIT_MODULE(process, InitProcess);

}  // namespace podkit::addon

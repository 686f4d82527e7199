// LayerPipe: the byte-moving half of a layer pull, on a thread of its own (issue 7, pull speed).
//
// JavaScript keeps every decision about a layer: it parses each tar header (limits, PAX, GNU names),
// confines the path, handles directories, links, devices and whiteouts. This object does the work
// that is only bytes: it takes the compressed blob as it arrives, hashes it (the blob digest),
// inflates it (gzip) and hashes the result (the diff ID), frames the tar stream into header
// sequences, and writes regular files' bodies straight from its inflate buffer into files it creates
// with O_EXCL|O_NOFOLLOW at paths JavaScript resolved. On the JS thread that leaves one promise per
// tar entry, instead of two sha256 passes, a zlib hand-off per chunk and a write per body chunk.
//
// zlib and SHA-256 are Node's own (Chromium's zlib, OpenSSL), found with dlsym in the running node:
// the addon links neither. When a symbol is missing, `LayerPipe.available` is false with the reason
// and image-store keeps its JavaScript pipeline.
//
// Protocol (JS thread -> this thread, one request at a time; results come back through a
// thread-safe function and settle the request's promise):
//   write(buf)    copy of compressed input; resolves at once, or when the queue drained (backpressure)
//   end()         no more input;  abort()  the input failed (pending and later requests fail)
//   next()        the next header sequence: 512-byte blocks up to and including the first header
//                 that is not an extension (x, g, L, K, with their data) or a zero block; empty at a
//                 clean end of input; shorter when input ends inside it or an extension is over the
//                 limit (JavaScript reports both, from the bytes)
//   read(n)       n bytes (fewer at the end);  skip(n)  drops n bytes, resolves with the count
//   file(...)     creates the file, writes the body, skips the padding, sets owner, mode and times on
//                 the descriptor, closes it, and resolves with the next header sequence (as next())
//   finish()      reads and hashes the rest of the input; resolves with both digests and sizes
//   close()       stops the thread; safe at any time and more than once
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"

namespace {

// ---- Node's zlib and OpenSSL, looked up at run time ----

struct EvpMdCtx;
struct EvpMd;

struct Apis {
  decltype(&::inflateInit2_) inflate_init2 = nullptr;
  decltype(&::inflate) inflate = nullptr;
  decltype(&::inflateEnd) inflate_end = nullptr;
  decltype(&::inflateReset) inflate_reset = nullptr;
  EvpMdCtx* (*md_ctx_new)() = nullptr;
  void (*md_ctx_free)(EvpMdCtx*) = nullptr;
  const EvpMd* (*sha256)() = nullptr;
  int (*digest_init)(EvpMdCtx*, const EvpMd*, void*) = nullptr;
  int (*digest_update)(EvpMdCtx*, const void*, size_t) = nullptr;
  int (*digest_final)(EvpMdCtx*, unsigned char*, unsigned int*) = nullptr;
  std::string missing;  // empty when everything was found
};

template <typename Fn>
void Find(Fn* out, std::initializer_list<const char*> names, std::string* missing) {
  for (const char* n : names) {
    if (void* p = dlsym(RTLD_DEFAULT, n)) {
      *out = reinterpret_cast<Fn>(p);
      return;
    }
  }
  if (!missing->empty()) *missing += ", ";
  *missing += *names.begin();
}

const Apis& GetApis() {
  static const Apis apis = [] {
    Apis a;
    // Chromium's zlib (what node:zlib uses) first; an unprefixed zlib otherwise.
    Find(&a.inflate_init2, {"Cr_z_inflateInit2_", "inflateInit2_"}, &a.missing);
    Find(&a.inflate, {"Cr_z_inflate", "inflate"}, &a.missing);
    Find(&a.inflate_end, {"Cr_z_inflateEnd", "inflateEnd"}, &a.missing);
    Find(&a.inflate_reset, {"Cr_z_inflateReset", "inflateReset"}, &a.missing);
    Find(&a.md_ctx_new, {"EVP_MD_CTX_new"}, &a.missing);
    Find(&a.md_ctx_free, {"EVP_MD_CTX_free"}, &a.missing);
    Find(&a.sha256, {"EVP_sha256"}, &a.missing);
    Find(&a.digest_init, {"EVP_DigestInit_ex"}, &a.missing);
    Find(&a.digest_update, {"EVP_DigestUpdate"}, &a.missing);
    Find(&a.digest_final, {"EVP_DigestFinal_ex"}, &a.missing);
    return a;
  }();
  return apis;
}

class Sha256 {
 public:
  Sha256() : ctx_(GetApis().missing.empty() ? GetApis().md_ctx_new() : nullptr) {
    if (ctx_ == nullptr || GetApis().digest_init(ctx_, GetApis().sha256(), nullptr) != 1) ok_ = false;
  }
  ~Sha256() {
    if (ctx_ != nullptr) GetApis().md_ctx_free(ctx_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const uint8_t* p, size_t n) {
    if (n == 0) return;
    if (ok_ && GetApis().digest_update(ctx_, p, n) != 1) ok_ = false;
    size_ += n;
  }
  uint64_t size() const { return size_; }
  bool ok() const { return ok_; }
  // "sha256:<hex>"; once.
  std::string Digest() {
    unsigned char md[32];
    unsigned int len = 0;
    if (!ok_ || GetApis().digest_final(ctx_, md, &len) != 1 || len != 32) return "";
    static const char* hex = "0123456789abcdef";
    std::string s = "sha256:";
    for (unsigned i = 0; i < len; i++) {
      s += hex[md[i] >> 4];
      s += hex[md[i] & 15];
    }
    return s;
  }

 private:
  EvpMdCtx* ctx_;
  bool ok_ = true;
  uint64_t size_ = 0;
};

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

constexpr size_t kBlock = 512;
constexpr size_t kOutSize = 1024 * 1024;          // inflate buffer
constexpr size_t kHighWater = 2 * 1024 * 1024;    // queued input that makes write() wait
constexpr size_t kLowWater = 512 * 1024;          // ... until the queue is down to this
constexpr size_t kMaxSequence = 4 * 1024 * 1024;  // a header sequence stops growing here
constexpr size_t kSpares = 8;                      // input vectors kept for reuse

enum class Kind { kNext, kRead, kSkip, kFile, kFinish, kDrain };

struct Request {
  Kind kind = Kind::kNext;
  uint64_t n = 0;
  uint64_t pad = 0;
  std::string path;
  bool chown = false;
  uint32_t uid = 0, gid = 0, mode = 0;
  int64_t sec = 0;
  int64_t nsec = 0;
};

// Why a request failed. `code` is one of: "errno" (a syscall: syscall, err, path), "zlib" (zcode,
// message), "truncated" (the input ended inside a file's `part`, "body" or "padding": got of want), "aborted" (the
// input failed: JavaScript has the reason), "closed", "internal" (message).
struct Failure {
  std::string code;
  std::string message;
  std::string syscall;
  int err = 0;
  std::string path;
  std::string zcode;
  std::string part;
  uint64_t got = 0, want = 0;
};

struct Result {
  Kind kind = Kind::kNext;
  bool ok = true;
  Failure fail;
  std::vector<uint8_t> bytes;
  uint64_t count = 0;
  std::string compressed_digest, diff_id;
  uint64_t compressed_size = 0, size = 0;
};

uint64_t ParseTarNumber(const uint8_t* p, size_t len, bool* ok) {
  *ok = true;
  if (p[0] & 0x80) {
    if (p[0] == 0xff) {
      *ok = false;
      return 0;
    }
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < len; i++) {
      if (v > (uint64_t{1} << 53) / 256) {
        *ok = false;
        return 0;
      }
      v = v * 256 + p[i];
    }
    return v;
  }
  size_t i = 0, end = 0;
  while (end < len && p[end] != 0) end++;
  while (i < end && p[i] == ' ') i++;
  while (end > i && p[end - 1] == ' ') end--;
  uint64_t v = 0;
  for (; i < end; i++) {
    if (p[i] < '0' || p[i] > '7' || v > (uint64_t{1} << 53) / 8) {
      *ok = false;
      return 0;
    }
    v = v * 8 + (p[i] - '0');
  }
  return v;
}

class LayerPipe : public Napi::ObjectWrap<LayerPipe> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LayerPipe",
                       {
                           InstanceMethod("write", &LayerPipe::Write),
                           InstanceMethod("end", &LayerPipe::End),
                           InstanceMethod("abort", &LayerPipe::Abort),
                           InstanceMethod("next", &LayerPipe::Next),
                           InstanceMethod("read", &LayerPipe::Read),
                           InstanceMethod("skip", &LayerPipe::Skip),
                           InstanceMethod("file", &LayerPipe::File),
                           InstanceMethod("finish", &LayerPipe::Finish),
                           InstanceMethod("close", &LayerPipe::Close),
                       });
  }

  // new LayerPipe({ gzip: boolean, maxPax: number, maxLongName: number })
  explicit LayerPipe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LayerPipe>(info) {
    Napi::Env env = info.Env();
    if (!GetApis().missing.empty()) throw Napi::Error::New(env, "LayerPipe: not available: missing " + GetApis().missing);
    Napi::Object o = podkit::addon::ArgObject(info, 0, "LayerPipe");
    gzip_ = o.Get("gzip").ToBoolean().Value();
    max_pax_ = static_cast<uint64_t>(podkit::addon::OptInt(o, "maxPax", "LayerPipe"));
    max_long_name_ = static_cast<uint64_t>(podkit::addon::OptInt(o, "maxLongName", "LayerPipe"));
    ingest_fd_ = static_cast<int>(podkit::addon::OptInt(o, "ingestFd", "LayerPipe", false, -1));
    ingest_keep_ = static_cast<uint64_t>(podkit::addon::OptInt(o, "ingestKeep", "LayerPipe", false, 0));
    if (gzip_) {
      memset(&z_, 0, sizeof z_);
      if (GetApis().inflate_init2(&z_, 15 + 16, ZLIB_VERSION, static_cast<int>(sizeof(z_stream))) != Z_OK) {
        throw Napi::Error::New(env, "LayerPipe: inflateInit2 failed");
      }
      z_open_ = true;
    }
    if (!csha_.ok() || !usha_.ok()) throw Napi::Error::New(env, "LayerPipe: sha256 context could not be made");
    out_.resize(kOutSize);
    // The object stays alive until the thread-safe function is finalized (after close(), once every
    // result the thread posted was delivered or dropped): those callbacks use `this`.
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "podkit-layerpipe", 0, 1,
                                          [this](Napi::Env) { self_.Reset(); });
    tsfn_.Unref(env);
    worker_ = std::thread([this] { Run(); });
  }

  ~LayerPipe() override { Stop(); }

 private:
  // ---- JS thread ----

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "LayerPipe.write: argument must be a Buffer");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    if (drain_) throw Napi::Error::New(env, "LayerPipe.write: the previous write still waits for room");
    auto d = Napi::Promise::Deferred::New(env);
    bool wait = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (input_ended_) throw Napi::Error::New(env, "LayerPipe.write: after end()");
      // Once the pipe failed, input is dropped: the request that failed tells the consumer why.
      if (!stopping_ && !failed_.load() && buf.Length() > 0) {
        // Recycled vectors keep their pages: fresh 1 MiB allocations cost a page fault per 4 KiB.
        std::vector<uint8_t> v;
        if (!spare_.empty()) {
          v = std::move(spare_.back());
          spare_.pop_back();
        }
        v.assign(buf.Data(), buf.Data() + buf.Length());
        queue_.push_back(std::move(v));
        queued_ += buf.Length();
        if (queued_ > kHighWater) {
          wait = true;
          drain_wanted_ = true;
        }
      }
    }
    cv_.notify_one();
    if (!wait) {
      d.Resolve(env.Undefined());
    } else {
      drain_ = d;
      Hold(env);
    }
    return d.Promise();
  }

  void End(const Napi::CallbackInfo&) {
    {
      std::lock_guard<std::mutex> g(mu_);
      input_ended_ = true;
    }
    cv_.notify_one();
  }

  void Abort(const Napi::CallbackInfo&) {
    {
      std::lock_guard<std::mutex> g(mu_);
      input_ended_ = true;
      aborted_ = true;
    }
    cv_.notify_one();
  }

  Napi::Value Next(const Napi::CallbackInfo& info) { return Submit(info.Env(), Request{Kind::kNext}); }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Request r{Kind::kRead};
    r.n = Count(info, 0, "read");
    return Submit(info.Env(), std::move(r));
  }

  Napi::Value Skip(const Napi::CallbackInfo& info) {
    Request r{Kind::kSkip};
    r.n = Count(info, 0, "skip");
    return Submit(info.Env(), std::move(r));
  }

  // file({ path, size, pad, chown, uid, gid, mode, sec, nsec })
  Napi::Value File(const Napi::CallbackInfo& info) {
    Napi::Object o = podkit::addon::ArgObject(info, 0, "LayerPipe.file");
    Request r{Kind::kFile};
    r.path = podkit::addon::OptString(o, "path", "LayerPipe.file");
    r.n = static_cast<uint64_t>(podkit::addon::OptInt(o, "size", "LayerPipe.file"));
    r.pad = static_cast<uint64_t>(podkit::addon::OptInt(o, "pad", "LayerPipe.file"));
    r.chown = o.Get("chown").ToBoolean().Value();
    r.uid = static_cast<uint32_t>(podkit::addon::OptInt(o, "uid", "LayerPipe.file"));
    r.gid = static_cast<uint32_t>(podkit::addon::OptInt(o, "gid", "LayerPipe.file"));
    r.mode = static_cast<uint32_t>(podkit::addon::OptInt(o, "mode", "LayerPipe.file")) & 07777;
    r.sec = podkit::addon::OptInt(o, "sec", "LayerPipe.file");
    r.nsec = podkit::addon::OptInt(o, "nsec", "LayerPipe.file");
    if (r.path.empty() || r.path.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "LayerPipe.file: invalid path");
    if (r.nsec < 0 || r.nsec > 999999999) throw Napi::TypeError::New(info.Env(), "LayerPipe.file: nsec out of range");
    return Submit(info.Env(), std::move(r));
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) { return Submit(info.Env(), Request{Kind::kFinish}); }

  void Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Stop();
    // Requests still waiting learn it here; results the thread posted before it stopped find no
    // promise and are dropped.
    if (pending_) {
      auto d = std::move(*pending_);
      pending_.reset();
      Napi::Error e = Napi::Error::New(env, "LayerPipe: closed");
      e.Set("code", Napi::String::New(env, "closed"));
      d.Reject(e.Value());
      Release(env);
    }
    if (drain_) {
      auto d = std::move(*drain_);
      drain_.reset();
      d.Resolve(env.Undefined());
      Release(env);
    }
    if (!closed_) {
      closed_ = true;
      tsfn_.Release();
    }
  }

  uint64_t Count(const Napi::CallbackInfo& info, size_t i, const char* fn) {
    if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("LayerPipe.") + fn + ": count must be a number");
    double v = info[i].As<Napi::Number>().DoubleValue();
    if (!(v >= 0) || v > 9007199254740991.0) throw Napi::TypeError::New(info.Env(), std::string("LayerPipe.") + fn + ": count out of range");
    return static_cast<uint64_t>(v);
  }

  Napi::Value Submit(Napi::Env env, Request r) {
    if (pending_) throw Napi::Error::New(env, "LayerPipe: a request is already pending");
    if (closed_) throw Napi::Error::New(env, "LayerPipe: closed");
    auto d = Napi::Promise::Deferred::New(env);
    pending_ = d;
    Hold(env);
    {
      std::lock_guard<std::mutex> g(mu_);
      request_ = std::move(r);
    }
    cv_.notify_one();
    return d.Promise();
  }

  // The thread-safe function keeps the event loop alive only while a promise waits on the thread.
  void Hold(Napi::Env env) {
    if (holds_++ == 0 && !closed_) tsfn_.Ref(env);
  }
  void Release(Napi::Env env) {
    if (holds_ > 0 && --holds_ == 0 && !closed_) tsfn_.Unref(env);
  }

  void Deliver(Napi::Env env, std::unique_ptr<Result> r) {
    Napi::HandleScope scope(env);
    if (r->kind == Kind::kDrain) {
      if (drain_) {
        auto d = std::move(*drain_);
        drain_.reset();
        d.Resolve(env.Undefined());
        Release(env);
      }
      return;
    }
    if (!r->ok && drain_) {
      // The pipe failed: it takes no more input, so a write waiting for room is done waiting.
      auto w = std::move(*drain_);
      drain_.reset();
      w.Resolve(env.Undefined());
      Release(env);
    }
    if (!pending_) return;
    auto d = std::move(*pending_);
    pending_.reset();
    Release(env);
    if (!r->ok) {
      const Failure& f = r->fail;
      Napi::Error e = Napi::Error::New(env, f.message);
      e.Set("code", Napi::String::New(env, f.code));
      if (f.code == "errno") {
        e.Set("syscall", Napi::String::New(env, f.syscall));
        e.Set("errno", Napi::String::New(env, ErrnoName(f.err)));
        e.Set("nativeMessage", Napi::String::New(env, strerror(f.err)));
        e.Set("path", Napi::String::New(env, f.path));
      } else if (f.code == "zlib") {
        e.Set("zcode", Napi::String::New(env, f.zcode));
      } else if (f.code == "truncated") {
        e.Set("part", Napi::String::New(env, f.part));
        e.Set("got", Napi::Number::New(env, static_cast<double>(f.got)));
        e.Set("want", Napi::Number::New(env, static_cast<double>(f.want)));
      }
      d.Reject(e.Value());
      return;
    }
    switch (r->kind) {
      case Kind::kNext:
      case Kind::kRead:
      case Kind::kFile:
        d.Resolve(Napi::Buffer<uint8_t>::Copy(env, r->bytes.data(), r->bytes.size()));
        break;
      case Kind::kSkip:
        d.Resolve(Napi::Number::New(env, static_cast<double>(r->count)));
        break;
      case Kind::kFinish: {
        Napi::Object o = Napi::Object::New(env);
        o.Set("compressedDigest", r->compressed_digest);
        o.Set("compressedSize", static_cast<double>(r->compressed_size));
        o.Set("diffId", r->diff_id);
        o.Set("size", static_cast<double>(r->size));
        d.Resolve(o);
        break;
      }
      case Kind::kDrain:
        break;
    }
  }

  void Post(std::unique_ptr<Result> r) {
    Result* raw = r.release();
    napi_status st = tsfn_.NonBlockingCall(raw, [this](Napi::Env env, Napi::Function, Result* res) {
      std::unique_ptr<Result> owned(res);
      if (static_cast<napi_env>(env) != nullptr) Deliver(env, std::move(owned));
    });
    if (st != napi_ok) delete raw;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (z_open_) {
      GetApis().inflate_end(&z_);
      z_open_ = false;
    }
  }

  // ---- the pipe's thread ----

  void Run() {
    for (;;) {
      Request r;
      {
        std::unique_lock<std::mutex> g(mu_);
        for (;;) {
          if (stopping_) return;
          if (request_.has_value()) break;
          // While JavaScript handles the last result, inflate (and hash) ahead into the buffer's free
          // tail, as far as the input already here allows: the next request then finds its bytes ready.
          if (!ahead_done_ && !failed_.load() && len_ < out_.size() && (in_pos_ < in_.size() || !queue_.empty())) {
            g.unlock();
            ReadAhead();
            g.lock();
            continue;
          }
          cv_.wait(g);
        }
        r = std::move(*request_);
        request_.reset();
      }
      auto res = std::make_unique<Result>();
      res->kind = r.kind;
      if (failed_) {
        res->ok = false;
        res->fail = failure_;
      } else if (!Serve(r, res.get())) {
        if (stopped_) return;
        failed_ = true;
        failure_ = res->fail;
        res->ok = false;
      }
      Post(std::move(res));
    }
  }

  bool Fail(Result* res, Failure f) {
    res->fail = std::move(f);
    return false;
  }

  bool Serve(const Request& r, Result* res) {
    switch (r.kind) {
      case Kind::kNext:
        return Sequence(res);
      case Kind::kRead: {
        if (!Want(r.n, res)) return false;
        size_t take = static_cast<size_t>(std::min<uint64_t>(r.n, Avail()));
        res->bytes.assign(out_.data() + pos_, out_.data() + pos_ + take);
        pos_ += take;
        return true;
      }
      case Kind::kSkip:
        return Drop(r.n, res, &res->count);
      case Kind::kFile:
        return WriteFile(r, res) && Sequence(res);
      case Kind::kFinish: {
        for (;;) {
          pos_ = len_;
          if (!More(res)) {
            if (!res->fail.code.empty()) return false;
            break;
          }
        }
        res->compressed_size = csha_.size();
        res->size = usha_.size();
        res->compressed_digest = csha_.Digest();
        res->diff_id = usha_.Digest();
        if (res->compressed_digest.empty() || res->diff_id.empty()) return Fail(res, Failure{"internal", "sha256 failed"});
        return true;
      }
      case Kind::kDrain:
        return true;
    }
    return true;
  }

  size_t Avail() const { return len_ - pos_; }

  // Makes at least `n` bytes (or all that remain) available; false on a failure.
  bool Want(uint64_t n, Result* res) {
    while (Avail() < n) {
      if (!More(res)) return res->fail.code.empty();
    }
    return true;
  }

  // The next header sequence (see the protocol above).
  bool Sequence(Result* res) {
    res->bytes.clear();
    for (;;) {
      if (!Want(kBlock, res)) return false;
      if (Avail() < kBlock) {  // the end of input: what is left (nothing at a clean end)
        res->bytes.insert(res->bytes.end(), out_.data() + pos_, out_.data() + len_);
        pos_ = len_;
        return true;
      }
      const uint8_t* h = out_.data() + pos_;
      res->bytes.insert(res->bytes.end(), h, h + kBlock);
      pos_ += kBlock;
      bool zero = true;
      for (size_t i = 0; i < kBlock && zero; i++) zero = h[i] == 0;
      if (zero) return true;
      // `h` stays valid until More() runs again: read what is needed now.
      char flag = static_cast<char>(h[156]);
      if (flag != 'x' && flag != 'g' && flag != 'L' && flag != 'K') return true;
      bool ok = false;
      uint64_t size = ParseTarNumber(h + 124, 12, &ok);
      uint64_t limit = (flag == 'x' || flag == 'g') ? max_pax_ : max_long_name_;
      if (!ok || size > limit) return true;  // JavaScript names the problem
      uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
      while (padded > 0) {
        if (Avail() == 0 && !More(res)) return res->fail.code.empty();
        size_t take = static_cast<size_t>(std::min<uint64_t>(padded, Avail()));
        res->bytes.insert(res->bytes.end(), out_.data() + pos_, out_.data() + pos_ + take);
        pos_ += take;
        padded -= take;
      }
      if (res->bytes.size() >= kMaxSequence) return true;
    }
  }

  bool WriteFile(const Request& r, Result* res) {
    int fd = open(r.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(res, SysFailure("open", errno, r.path));
    auto fail = [&](const char* call) {
      int err = errno;
      close(fd);
      return Fail(res, SysFailure(call, err, r.path));
    };
    uint64_t left = r.n;
    while (left > 0) {
      if (Avail() == 0 && !More(res)) {
        close(fd);
        if (!res->fail.code.empty()) return false;
        return Truncated(res, "body", r.n - left, r.n);
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(left, Avail()));
      ssize_t w = write(fd, out_.data() + pos_, take);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail("write");
      }
      pos_ += static_cast<size_t>(w);
      left -= static_cast<uint64_t>(w);
    }
    if (r.chown && fchown(fd, r.uid, r.gid) != 0) return fail("fchown");
    if (fchmod(fd, r.mode) != 0) return fail("fchmod");
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = r.sec;
    ts[0].tv_nsec = ts[1].tv_nsec = r.nsec;
    if (futimens(fd, ts) != 0) return fail("futimens");
    if (close(fd) != 0) return Fail(res, SysFailure("close", errno, r.path));
    uint64_t dropped = 0;
    if (!Drop(r.pad, res, &dropped)) return false;
    if (dropped < r.pad) return Truncated(res, "padding", dropped, r.pad);
    return true;
  }

  // Consumes up to `n` bytes (fewer at the end of input, counted in *dropped); false on a failure.
  bool Drop(uint64_t n, Result* res, uint64_t* dropped) {
    uint64_t left = n;
    while (left > 0) {
      if (Avail() == 0 && !More(res)) {
        if (!res->fail.code.empty()) return false;
        break;
      }
      size_t take = static_cast<size_t>(std::min<uint64_t>(left, Avail()));
      pos_ += take;
      left -= take;
    }
    *dropped = n - left;
    return true;
  }

  bool Truncated(Result* res, const char* part, uint64_t got, uint64_t want) {
    Failure f{"truncated", std::string("truncated ") + part};
    f.part = part;
    f.got = got;
    f.want = want;
    return Fail(res, f);
  }

  static Failure SysFailure(const char* call, int err, const std::string& path) {
    Failure f{"errno", std::string(call) + " " + path + ": " + ErrnoName(err) + " " + strerror(err)};
    f.syscall = call;
    f.err = err;
    f.path = path;
    return f;
  }

  // One step of read-ahead (the pipe's thread, between requests). The end of input stops it; a failure
  // is kept for the request that reaches it (More()).
  void ReadAhead() {
    Result scratch;
    nonblocking_ = true;
    bool made = More(&scratch);
    nonblocking_ = false;
    if (made || scratch.fail.code == "wouldblock") return;
    ahead_done_ = true;
    if (!scratch.fail.code.empty() && !stopped_) ahead_failure_ = scratch.fail;
  }

  // Produces more uncompressed bytes after len_. Returns false at the end of input (res->fail
  // empty) or on a failure (res->fail set; stopped_ when close() interrupted it).
  bool More(Result* res) {
    // A failure found while reading ahead surfaces only once the bytes before it were served.
    if (ahead_failure_) {
      res->fail = *ahead_failure_;
      return false;
    }
    if (pos_ > 0 && pos_ == len_) pos_ = len_ = 0;
    if (len_ == out_.size()) {
      // Compact: keep the unread bytes (a caller wants more than the buffer's free tail).
      memmove(out_.data(), out_.data() + pos_, len_ - pos_);
      len_ -= pos_;
      pos_ = 0;
      if (len_ == out_.size()) out_.resize(out_.size() * 2);  // a header sequence longer than the buffer
    }
    for (;;) {
      if (in_pos_ == in_.size()) {
        if (!TakeInput(res)) {
          if (!res->fail.code.empty()) return false;
          // The end of input.
          // A cut member, or no gzip data at all (as node:zlib says for both).
          if (gzip_ && (in_member_ || !gz_seen_)) return Fail(res, ZFailure("Z_BUF_ERROR", "unexpected end of file"));
          return false;
        }
      }
      uint8_t* dst = out_.data() + len_;
      size_t room = out_.size() - len_;
      if (!gzip_) {
        size_t take = std::min(room, in_.size() - in_pos_);
        memcpy(dst, in_.data() + in_pos_, take);
        in_pos_ += take;
        usha_.Update(dst, take);
        len_ += take;
        return true;
      }
      if (gz_done_) {
        // After a member's end: zero bytes are padding (skipped one by one, so the result does not
        // depend on how the input was cut into writes); anything else starts another member.
        if (in_[in_pos_] == 0) {
          while (in_pos_ < in_.size() && in_[in_pos_] == 0) in_pos_++;
          continue;
        }
        GetApis().inflate_reset(&z_);
        gz_done_ = false;
      }
      z_.next_in = in_.data() + in_pos_;
      z_.avail_in = static_cast<uInt>(in_.size() - in_pos_);
      z_.next_out = dst;
      z_.avail_out = static_cast<uInt>(room);
      in_member_ = true;
      gz_seen_ = true;
      int rc = GetApis().inflate(&z_, Z_NO_FLUSH);
      size_t made = room - z_.avail_out;
      in_pos_ = in_.size() - z_.avail_in;
      if (rc == Z_STREAM_END) {
        gz_done_ = true;
        in_member_ = false;
      } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && made == 0 && z_.avail_in == 0)) {
        const char* name = rc == Z_DATA_ERROR ? "Z_DATA_ERROR" : rc == Z_NEED_DICT ? "Z_NEED_DICT" : rc == Z_MEM_ERROR ? "Z_MEM_ERROR" : "Z_BUF_ERROR";
        return Fail(res, ZFailure(name, z_.msg != nullptr ? z_.msg : "invalid data"));
      }
      if (made > 0) {
        usha_.Update(dst, made);
        len_ += made;
        return true;
      }
    }
  }

  static Failure ZFailure(const char* zcode, const std::string& msg) {
    Failure f{"zlib", msg};
    f.zcode = zcode;
    return f;
  }

  // Replaces the consumed input chunk with the next one from the queue, waiting for it. False at
  // the end of input, or with res->fail set when the input was aborted or the pipe closed.
  bool TakeInput(Result* res) {
    bool notify = false;
    {
      std::unique_lock<std::mutex> g(mu_);
      if (nonblocking_ && !stopping_ && queue_.empty() && !input_ended_) {
        res->fail = Failure{"wouldblock", ""};  // read-ahead never waits for input
        return false;
      }
      cv_.wait(g, [&] { return stopping_ || !queue_.empty() || input_ended_; });
      if (stopping_) {
        stopped_ = true;
        res->fail = Failure{"closed", "LayerPipe: closed"};
        return false;
      }
      if (queue_.empty()) {
        if (aborted_) {
          res->fail = Failure{"aborted", "LayerPipe: input aborted"};
          return false;
        }
        return false;
      }
      if (in_.capacity() > 0 && spare_.size() < kSpares) spare_.push_back(std::move(in_));
      in_ = std::move(queue_.front());
      queue_.pop_front();
      queued_ -= in_.size();
      if (drain_wanted_ && queued_ <= kLowWater) {
        drain_wanted_ = false;
        notify = true;
      }
    }
    in_pos_ = 0;
    csha_.Update(in_.data(), in_.size());
    if (ingest_fd_ >= 0 && !WriteIngest(res)) return false;
    if (notify) {
      auto d = std::make_unique<Result>();
      d->kind = Kind::kDrain;
      Post(std::move(d));
    }
    return true;
  }

  // Appends the new input chunk to the content store's ingestion file (after the `ingest_keep_`
  // bytes it already holds: a resumed download replays them).
  bool WriteIngest(Result* res) {
    uint64_t start = csha_.size() - in_.size();
    size_t skip = start >= ingest_keep_ ? 0 : static_cast<size_t>(std::min<uint64_t>(ingest_keep_ - start, in_.size()));
    size_t off = skip;
    while (off < in_.size()) {
      ssize_t w = pwrite(ingest_fd_, in_.data() + off, in_.size() - off, static_cast<off_t>(start + off));
      if (w < 0) {
        if (errno == EINTR) continue;
        res->fail = SysFailure("pwrite", errno, "(ingestion)");
        return false;
      }
      off += static_cast<size_t>(w);
    }
    return true;
  }

  // Configuration.
  int ingest_fd_ = -1;
  uint64_t ingest_keep_ = 0;
  bool gzip_ = false;
  uint64_t max_pax_ = 0, max_long_name_ = 0;

  // Shared between the threads (mu_).
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<uint8_t>> queue_;
  std::vector<std::vector<uint8_t>> spare_;
  size_t queued_ = 0;
  bool input_ended_ = false, aborted_ = false, stopping_ = false, drain_wanted_ = false;
  std::optional<Request> request_;

  // The pipe's thread only.
  z_stream z_;
  bool z_open_ = false, gz_done_ = false, in_member_ = false, gz_seen_ = false;
  std::vector<uint8_t> in_;
  size_t in_pos_ = 0;
  std::vector<uint8_t> out_;
  size_t pos_ = 0, len_ = 0;
  Sha256 csha_, usha_;
  std::atomic<bool> failed_{false};  // read by write() on the JS thread
  bool stopped_ = false;
  bool ahead_done_ = false;               // read-ahead reached the end of input or a failure
  bool nonblocking_ = false;              // set while reading ahead: TakeInput() does not wait
  std::optional<Failure> ahead_failure_;  // ... which More() reports when a request gets there
  Failure failure_;

  // JS thread only.
  std::optional<Napi::Promise::Deferred> pending_, drain_;
  int holds_ = 0;
  bool closed_ = false;
  Napi::ObjectReference self_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread worker_;
};

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = LayerPipe::Define(env);
  ctor.Set("available", Napi::Boolean::New(env, GetApis().missing.empty()));
  ctor.Set("missing", Napi::String::New(env, GetApis().missing));
  exports.Set("LayerPipe", ctor);
}

}  // namespace

PODKIT_MODULE(layerpipe, Init);

// linux.netDevices (runtime-spec 1.2): move existing network devices, by name, from one network
// namespace (the runtime's) into another (the container's), with rtnetlink.
//
// For each device: its permanent global-scope addresses are read first (the kernel drops addresses
// when a device changes namespace; the spec says to keep those), then one RTM_NEWLINK moves it
// (IFLA_NET_NS_FD) and renames it (IFLA_IFNAME; a name ending in "%d" is a template the kernel
// completes), then, inside the target namespace, the addresses are added back and the device is set
// up. The netlink socket of each namespace is opened by a short-lived std::thread that joins that
// namespace and exits (a socket keeps the namespace it was made in), so no thread that runs JS or
// libuv work ever changes namespace.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "addon/module.h"
#include "addon/process_async.h"
#include "common/fd.h"

namespace podkit::addon {
namespace {

// One rtnetlink request: header, fixed part, attributes.
class Request {
 public:
  Request(uint16_t type, uint16_t flags, const void* fixed, size_t len) {
    buf_.resize(NLMSG_SPACE(len));
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    memcpy(NLMSG_DATA(h), fixed, len);
    h->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(len));
  }
  void Attr(uint16_t type, const void* data, size_t len) {
    size_t at = NLMSG_ALIGN(Hdr()->nlmsg_len);
    buf_.resize(at + RTA_SPACE(len));
    auto* rta = reinterpret_cast<rtattr*>(buf_.data() + at);
    rta->rta_type = type;
    rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    memcpy(RTA_DATA(rta), data, len);
    Hdr()->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(rta->rta_len));
  }
  void Str(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  nlmsghdr* Hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }

 private:
  std::vector<char> buf_;
};

struct Address {
  ifaddrmsg msg{};
  std::vector<std::pair<uint16_t, std::vector<char>>> attrs;  // IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST
};

class Netlink {
 public:
  bool Open(Error* e) {
    fd_.Reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd_.ok()) return e->Sys("socket", "NETLINK_ROUTE");
    return true;
  }
  // Sends `r` and reads the answer: every message of a dump to `each` (or the one reply), then the ACK.
  template <typename F>
  bool Talk(Request& r, const char* what, Error* e, F each) {
    nlmsghdr* h = r.Hdr();
    h->nlmsg_seq = ++seq_;
    h->nlmsg_flags |= NLM_F_ACK;
    if (send(fd_.get(), h, h->nlmsg_len, 0) < 0) return e->Sys("sendmsg", what);
    std::vector<char> buf(64 * 1024);
    while (true) {
      ssize_t n;
      do {
        n = recv(fd_.get(), buf.data(), buf.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n < 0) return e->Sys("recvmsg", what);
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(m, static_cast<unsigned>(len)); m = NLMSG_NEXT(m, len)) {
        if (m->nlmsg_seq != seq_) continue;
        if (m->nlmsg_type == NLMSG_DONE) return true;
        if (m->nlmsg_type == NLMSG_ERROR) {
          int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(m))->error;
          if (err == 0) {
            if ((h->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP) return true;
            continue;
          }
          return e->Set("netlink", what, err);
        }
        each(m);
      }
    }
  }

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

// Opens a netlink socket in the network namespace `nsfd` (-1: this process's), from a thread that exits.
bool OpenIn(int nsfd, Netlink* nl, Error* e) {
  if (nsfd < 0) return nl->Open(e);
  bool ok = false;
  std::thread([&]() {
    if (setns(nsfd, CLONE_NEWNET) < 0) {
      e->Sys("setns", "joining the network namespace");
      return;
    }
    ok = nl->Open(e);
  }).join();
  return ok;
}

// ifindex and name of the link called `name` (ifindex 0 when there is none), or of the link `index`.
bool GetLink(Netlink& nl, const std::string& name, int index, int* outIndex, std::string* outName, Error* e) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  Request r(RTM_GETLINK, 0, &ifi, sizeof(ifi));
  if (!name.empty()) r.Str(IFLA_IFNAME, name);
  *outIndex = 0;
  Error local;
  bool ok = nl.Talk(r, "RTM_GETLINK", &local, [&](nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWLINK) return;
    auto* got = reinterpret_cast<ifinfomsg*>(NLMSG_DATA(m));
    *outIndex = got->ifi_index;
    int alen = static_cast<int>(IFLA_PAYLOAD(m));
    for (auto* a = IFLA_RTA(got); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
      if (a->rta_type == IFLA_IFNAME) *outName = reinterpret_cast<const char*>(RTA_DATA(a));
    }
  });
  if (!ok && local.err == ENODEV) return true;  // no such link
  if (!ok) *e = local;
  return ok;
}

// The highest ifindex in use in the namespace of `nl`.
bool MaxIndex(Netlink& nl, int* out, Error* e) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  Request r(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
  *out = 0;
  return nl.Talk(r, "RTM_GETLINK", e, [&](nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWLINK) *out = std::max(*out, reinterpret_cast<ifinfomsg*>(NLMSG_DATA(m))->ifi_index);
  });
}

// The permanent, global-scope addresses of link `index` (what the runtime-spec says to keep).
bool KeptAddresses(Netlink& nl, int index, std::vector<Address>* out, Error* e) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  Request r(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
  return nl.Talk(r, "RTM_GETADDR", e, [&](nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWADDR) return;
    auto* got = reinterpret_cast<ifaddrmsg*>(NLMSG_DATA(m));
    if (static_cast<int>(got->ifa_index) != index || got->ifa_scope != RT_SCOPE_UNIVERSE) return;
    uint32_t flags = got->ifa_flags;
    Address a;
    a.msg = *got;
    int alen = static_cast<int>(IFA_PAYLOAD(m));
    for (auto* at = IFA_RTA(got); RTA_OK(at, alen); at = RTA_NEXT(at, alen)) {
      if (at->rta_type == IFA_FLAGS) memcpy(&flags, RTA_DATA(at), sizeof(flags));
      if (at->rta_type == IFA_ADDRESS || at->rta_type == IFA_LOCAL || at->rta_type == IFA_BROADCAST) {
        const char* p = reinterpret_cast<const char*>(RTA_DATA(at));
        a.attrs.emplace_back(at->rta_type, std::vector<char>(p, p + RTA_PAYLOAD(at)));
      }
    }
    if (flags & IFA_F_PERMANENT) out->push_back(std::move(a));
  });
}

struct Device {
  std::string host;
  std::string name;  // in the container; may end in "%d"
};

struct Moved {
  std::string host, name;
  int index = 0;
  int addresses = 0;
};

bool MoveOne(Netlink& from, Netlink& to, int nsfd, const Device& d, Moved* out, Error* e) {
  const std::string where = "netDevices " + d.host;
  int index = 0;
  std::string ignored;
  if (!GetLink(from, d.host, 0, &index, &ignored, e)) return false;
  if (index == 0) return e->Set("netlink", where + ": no such network device in the runtime's network namespace", ENODEV);
  bool templ = d.name.find('%') != std::string::npos;
  if (!templ) {
    int clash = 0;
    if (!GetLink(to, d.name, 0, &clash, &ignored, e)) return false;
    if (clash != 0) return e->Set("netlink", where + ": a device named " + d.name + " already exists in the container's network namespace", EEXIST);
  }
  std::vector<Address> addrs;
  if (!KeptAddresses(from, index, &addrs, e)) return false;
  // The device keeps its ifindex unless the container's namespace uses it; then it gets one we choose
  // (IFLA_NEW_IFINDEX), so it can be found again even under a "%d" template name.
  int newIndex = index;
  {
    int used = 0;
    std::string n;
    if (!GetLink(to, "", index, &used, &n, e)) return false;
    if (used != 0) {
      if (!MaxIndex(to, &newIndex, e)) return false;
      newIndex += 1;
    }
  }
  {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    Request r(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
    uint32_t fd = static_cast<uint32_t>(nsfd);
    r.Attr(IFLA_NET_NS_FD, &fd, sizeof(fd));
    r.Str(IFLA_IFNAME, d.name);
    if (newIndex != index) {
      int32_t ni = newIndex;
      r.Attr(IFLA_NEW_IFINDEX, &ni, sizeof(ni));
    }
    Error m;
    if (!from.Talk(r, "RTM_NEWLINK", &m, [](nlmsghdr*) {})) return e->Set("netlink", where + ": moving it into the container's network namespace as " + d.name, m.err);
  }
  int now = 0;
  std::string name;
  if (!GetLink(to, "", newIndex, &now, &name, e)) return false;
  if (now == 0) return e->Set("netlink", where + ": moved, but not found (ifindex " + std::to_string(newIndex) + ") in the container's network namespace", ENODEV);
  for (Address& a : addrs) {
    a.msg.ifa_index = static_cast<uint32_t>(now);
    Request r(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &a.msg, sizeof(a.msg));
    for (auto& [type, data] : a.attrs) r.Attr(type, data.data(), data.size());
    uint32_t flags = IFA_F_PERMANENT;
    r.Attr(IFA_FLAGS, &flags, sizeof(flags));
    Error m;
    if (!to.Talk(r, "RTM_NEWADDR", &m, [](nlmsghdr*) {})) return e->Set("netlink", where + ": adding an address back in the container's network namespace", m.err);
  }
  {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = now;
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    Request r(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
    Error m;
    if (!to.Talk(r, "RTM_NEWLINK", &m, [](nlmsghdr*) {})) return e->Set("netlink", where + ": setting " + name + " up", m.err);
  }
  *out = Moved{d.host, name, now, static_cast<int>(addrs.size())};
  return true;
}

// netdevMove({to, from?, devices: [{host, name}]}) -> Promise<[{host, name, index, addresses}]>:
// `to` and `from` are nsfs files (/proc/<pid>/ns/net, a pinned namespace); `from` defaults to this
// process's network namespace (the runtime's, as the spec means).
Napi::Value NetdevMove(const Napi::CallbackInfo& info) {
  const char* fn = "netdevMove";
  Napi::Object o = ArgObject(info, 0, fn);
  std::string to = OptString(o, "to", fn);
  std::string from = OptString(o, "from", fn, false);
  std::vector<Device> devices;
  Napi::Value dv = o.Get("devices");
  if (!dv.IsArray()) throw Napi::TypeError::New(info.Env(), "netdevMove: devices must be an array");
  Napi::Array da = dv.As<Napi::Array>();
  for (uint32_t i = 0; i < da.Length(); i++) {
    if (!da.Get(i).IsObject()) throw Napi::TypeError::New(info.Env(), "netdevMove: devices must be {host, name} objects");
    Napi::Object d = da.Get(i).As<Napi::Object>();
    devices.push_back({OptString(d, "host", fn), OptString(d, "name", fn)});
  }
  return RunAsync<std::vector<Moved>>(
      info.Env(),
      [to, from, devices](std::vector<Moved>* out, Error* e) {
        UniqueFd toFd(open(to.c_str(), O_RDONLY | O_CLOEXEC));
        if (!toFd.ok()) return e->Sys("open", to);
        UniqueFd fromFd;
        if (!from.empty()) {
          fromFd.Reset(open(from.c_str(), O_RDONLY | O_CLOEXEC));
          if (!fromFd.ok()) return e->Sys("open", from);
        }
        Netlink src, dst;
        if (!OpenIn(fromFd.ok() ? fromFd.get() : -1, &src, e) || !OpenIn(toFd.get(), &dst, e)) return false;
        for (const Device& d : devices) {
          Moved m;
          if (!MoveOne(src, dst, toFd.get(), d, &m, e)) return false;
          out->push_back(m);
        }
        return true;
      },
      [](Napi::Env env, std::vector<Moved>& moved) -> Napi::Value {
        Napi::Array a = Napi::Array::New(env, moved.size());
        for (uint32_t i = 0; i < moved.size(); i++) {
          Napi::Object x = Napi::Object::New(env);
          x.Set("host", moved[i].host);
          x.Set("name", moved[i].name);
          x.Set("index", moved[i].index);
          x.Set("addresses", moved[i].addresses);
          a.Set(i, x);
        }
        return a;
      });
}

void InitNetdev(Napi::Env env, Napi::Object exports) { exports.Set("netdevMove", Napi::Function::New(env, NetdevMove, "netdevMove")); }

}  // namespace

PODKIT_MODULE(netdev, InitNetdev);

}  // namespace podkit::addon

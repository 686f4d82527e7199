// podkit-init: carries out a plan built by @podkit/runtime-core and becomes the container process.
//
// It is spawned by the addon with one end of a SOCK_SEQPACKET socketpair as fd 3 and speaks the plan
// protocol (common/channel.h, version common/version.h):
//
//   parent → init   {"type":"plan","version":2,"plan":{...}}
//   stage 0:        opens what lives on the host (exec FIFO, /proc/self/timens_offsets) and clones the
//                   bind sources marked `detached` (open_tree; idmapped ones through a user namespace
//                   made for their maps), joins the namespaces given by path (the user namespace after
//                   the others, as nsenter), unshares a new time namespace and writes its offsets, then
//                   clone3(CLONE_PARENT | CLONE_PIDFD | new namespaces) so that the container process
//                   is a child of the caller (podrun, or the Node process of the library) and is PID 1
//                   of a new PID namespace; stage 0 exits.
//   init → parent   {"type":"child","pid":N} + the child's pidfd (SCM_RIGHTS)
//   parent          writes the maps of a new user namespace (/proc/N/setgroups when it must be
//                   "deny", uid_map, gid_map): the process runs as the overflow id until then.
//                   It places the pid in its cgroups. This must happen BEFORE the cgroup namespace is
//                   unshared, so the namespace's root is the container's own cgroup.
//                   It also runs the prestart/createRuntime hooks (in the runtime's namespaces).
//   parent → init   {"type":"continue","stateCreating":..,"stateCreated":..} (the OCI state JSON
//                   the plan's createContainer / startContainer hooks get on stdin), with the fds of
//                   the cgroup v1 `tasks` files the init joins itself instead (cgjoin.h), if any
//   stage 1:        in a user namespace: setresuid/setresgid(0) there; unshare(CLONE_NEWCGROUP),
//                   rootfs (mounts, devices, createContainer hooks, pivot_root, masked and read-only
//                   paths), hostname, sysctls, personality, process attributes
//                   (oom score, rlimits, scheduler, I/O priority, exec CPU affinity, seccomp without
//                   noNewPrivileges, capabilities, user, cwd; seccomp with it last); after `start`
//                   opened the exec FIFO, the startContainer hooks, then execve.
//   init → parent   {"type":"seccompListener"} + the listener fd (SCM_RIGHTS), right after loading a
//                   seccomp filter with SCMP_ACT_NOTIFY; the parent sends it to listenerPath, then
//   parent → init   {"type":"seccompDone"}
//   init → parent   {"type":"ready"}          (create: then blocks on the exec FIFO until `start`)
//                   or EOF when execve closed the close-on-exec channel (exec of an extra process)
//   any failure     {"type":"error","phase":..,"syscall":..,"errno":..,"message":..}
//   warnings        {"type":"warning","message":..} (may come before "ready")
//
// Everything before execve runs in a single-threaded static binary, so clone without exec is safe
// here, unlike in Node.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/statfs.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/channel.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/safepath.h"
#include "common/version.h"
#include "init/cgjoin.h"
#include "init/sched.h"
#include "init/mountattr.h"
#include "init/seccomp.h"
#include "init/timens.h"
#include "init/userns.h"

namespace podkit::init {
namespace {

constexpr int kSockFd = 3;

int g_sock = -1;
// Set once the process is root of a user namespace (new or joined): device nodes are bound from the
// host then, since mknod is not allowed there.
bool g_inUserns = false;
// The --console-socket connection (made before any namespace is joined, while host paths resolve).
int g_console = -1;

[[noreturn]] void Die(Error& e, const char* phase) {
  if (e.phase.empty()) e.phase = phase;
  Error ignored;
  if (g_sock < 0 || !ChannelSend(g_sock, e.ToJson(), {}, &ignored)) {
    fprintf(stderr, "podkit-init: %s: %s: %s: %s\n", e.phase.c_str(), e.syscall.c_str(), e.ErrnoName().c_str(), e.message.c_str());
  }
  _exit(1);
}

[[noreturn]] void DieSys(const char* phase, const char* call, const std::string& msg) {
  Error e;
  e.Sys(call, msg);
  Die(e, phase);
}

void Warn(const std::string& msg) {
  json::ObjectWriter w;
  w.Str("type", "warning").Str("message", msg);
  Error ignored;
  if (!ChannelSend(g_sock, w.Done(), {}, &ignored)) fprintf(stderr, "podkit-init: warning: %s\n", msg.c_str());
}

void Send(const std::string& msg, const std::vector<int>& fds, const char* phase) {
  Error e;
  if (!ChannelSend(g_sock, msg, fds, &e)) Die(e, phase);
}

// `keep`: where the fds that came with the message go (else they are closed).
json::Value Recv(const char* phase, const char* expected, std::vector<int>* keep = nullptr) {
  std::string msg;
  std::vector<int> fds;
  bool eof = false;
  Error e;
  if (!ChannelRecv(g_sock, &msg, &fds, &eof, &e)) Die(e, phase);
  if (keep != nullptr) {
    *keep = std::move(fds);
    fds.clear();
  }
  for (int fd : fds) close(fd);
  if (eof) _exit(1);  // the parent gave up: nothing to report to
  json::Value v;
  std::string perr;
  if (!json::Parse(msg, &v, &perr)) {
    e.Set("recvmsg", "bad protocol message: " + perr, EPROTO);
    Die(e, phase);
  }
  if (v.GetString("type") != expected) {
    e.Set("recvmsg", std::string("expected a \"") + expected + "\" message, got \"" + v.GetString("type") + "\"", EPROTO);
    Die(e, phase);
  }
  return v;
}

int NsFlag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network" || type == "net") return CLONE_NEWNET;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "mount" || type == "mnt") return CLONE_NEWNS;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

// ---- stage 0 -------------------------------------------------------------------------------------

[[noreturn]] void Stage1(const json::Value& plan);

// The exec FIFO, opened by stage 0 on the host: in a user namespace the container's root could not
// reach it through the state directory (0700, host root's), as runc passes it by fd too.
UniqueFd g_fifo;

// Detached copies of bind sources (see PlanMount.detached), made by stage 0 on the host, by mount.
struct Detached {
  const json::Value* mount;
  UniqueFd tree;
};
std::vector<Detached> g_detached;

int DetachedTreeOf(const json::Value& m) {
  for (const Detached& d : g_detached) {
    if (d.mount == &m) return d.tree.get();
  }
  return -1;
}

// Clones every bind source the plan marks `detached` while the host's paths and privileges are ours;
// idmapped ones get a user namespace with their maps (one per distinct pair of maps).
void PrepareDetachedMounts(const json::Value& plan) {
  const json::Value* r = plan.Get("rootfs");
  const json::Value* ms = r != nullptr ? r->Get("mounts") : nullptr;
  if (ms == nullptr || !ms->IsArray()) return;
  std::vector<std::pair<std::string, UniqueFd>> userns;
  for (const json::Value& m : ms->Arr()) {
    if (!m.GetBool("detached")) continue;
    int nsfd = -1;
    const json::Value* idmap = m.Get("idmap");
    if (idmap != nullptr && idmap->IsObject()) {
      std::string key = IdMapText(idmap->Get("uidMappings")) + "|" + IdMapText(idmap->Get("gidMappings"));
      for (auto& [k, fd] : userns) {
        if (k == key) nsfd = fd.get();
      }
      if (nsfd < 0) {
        Error e;
        UniqueFd fd = MakeUserns(idmap->Get("uidMappings"), idmap->Get("gidMappings"), &e);
        if (!fd.ok()) Die(e, "mounts");
        nsfd = fd.get();
        userns.emplace_back(key, std::move(fd));
      }
    }
    Error e;
    bool rec = (static_cast<unsigned long>(m.GetInt("flags")) & MS_REC) != 0;
    UniqueFd tree = DetachedTree(m.GetString("source"), rec, nsfd, idmap != nullptr && idmap->GetBool("recursive"), &e);
    if (!tree.ok()) Die(e, "mounts");
    g_detached.push_back({&m, std::move(tree)});
  }
}

// Joins the namespaces given by path in nsenter's order: every one but the user namespace first
// (while we still hold the host's privileges, which a namespace owned by the host needs), then the
// user namespace, then again those that failed (owned by that user namespace, they may need it).
void JoinNamespaces(const json::Value& plan) {
  struct Join {
    std::string type, path;
    UniqueFd fd;
  };
  std::vector<Join> joins;
  if (const json::Value* js = plan.Get("join"); js != nullptr && js->IsArray()) {
    for (const json::Value& j : js->Arr()) {
      Join jn{j.GetString("type"), j.GetString("path"), UniqueFd(open(j.GetString("path").c_str(), O_RDONLY | O_CLOEXEC))};
      if (!jn.fd.ok()) DieSys("namespaces", "open", "namespace " + jn.type + " at " + jn.path);
      joins.push_back(std::move(jn));
    }
  }
  auto join = [](Join& j, bool mayRetry) {
    if (!j.fd.ok()) return;
    if (setns(j.fd.get(), NsFlag(j.type)) < 0) {
      if (mayRetry && errno == EPERM) return;
      DieSys("namespaces", "setns", "joining the " + j.type + " namespace at " + j.path);
    }
    j.fd.Reset();
  };
  for (Join& j : joins) {
    if (j.type != "user") join(j, true);
  }
  for (Join& j : joins) {
    if (j.type == "user") join(j, false);
  }
  for (Join& j : joins) join(j, false);
}

[[noreturn]] void Stage0(const json::Value& plan) {
  // Everything that names a host path is opened first: once the mount namespace is joined, host
  // paths no longer resolve, and once the user namespace is, the host's privileges are gone.
  if (std::string path = plan.GetString("execFifo"); !path.empty()) {
    g_fifo.Reset(open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!g_fifo.ok()) DieSys("exec-fifo", "open", path);
  }
  std::vector<std::string> clone = plan.GetStrings("clone");
  bool newTime = false;
  for (const std::string& t : clone) newTime = newTime || t == "time";
  UniqueFd offsets;
  if (newTime) {
    offsets.Reset(open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
    if (!offsets.ok()) DieSys("namespaces", "open", "/proc/self/timens_offsets");
  }
  const json::Value* userns = plan.Get("userns");
  UniqueFd procSelf;
  if (userns != nullptr && userns->IsObject()) {
    procSelf.Reset(open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!procSelf.ok()) DieSys("namespaces", "open", "/proc/self");
  }
  PrepareDetachedMounts(plan);
  JoinNamespaces(plan);
  bool newUser = false;
  for (const std::string& t : clone) newUser = newUser || t == "user";
  if (userns != nullptr && userns->IsObject() && !newUser && (userns->Get("uidMappings") != nullptr || userns->Get("gidMappings") != nullptr)) {
    if (Error e; !CheckIdMaps(procSelf.get(), userns->Get("uidMappings"), userns->Get("gidMappings"), &e)) Die(e, "namespaces");
  }
  procSelf.Reset();
  // The time namespace is made here, not by clone3: its offsets can only be written before a first
  // process is in it, and unshare(CLONE_NEWTIME) puts only our children there.
  if (newTime) {
    if (Error e; !NewTimeNamespace(offsets.get(), plan.Get("timeOffsets"), &e)) Die(e, "namespaces");
    offsets.Reset();
  }
  uint64_t flags = CLONE_PIDFD;
  if (plan.GetBool("cloneParent", true)) flags |= CLONE_PARENT;
  for (const std::string& t : clone) {
    if (t != "cgroup" && t != "time") flags |= static_cast<uint64_t>(NsFlag(t));
  }
  int pidfd = -1;
  struct clone_args ca {};
  ca.flags = flags;
  ca.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  // With CLONE_PARENT the kernel requires exit_signal 0: the child inherits ours (SIGCHLD, from
  // posix_spawn), so the real parent is notified as for any child.
  ca.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  long pid = syscall(SYS_clone3, &ca, sizeof(ca));
  if (pid < 0) DieSys("namespaces", "clone3", "creating the container process");
  if (pid == 0) Stage1(plan);
  json::ObjectWriter w;
  w.Str("type", "child").Int("pid", pid);
  Send(w.Done(), {pidfd}, "spawn");
  _exit(0);
}

// ---- rootfs --------------------------------------------------------------------------------------

unsigned long StatvfsToMsFlags(unsigned long f) {
  unsigned long out = 0;
  if (f & ST_NOSUID) out |= MS_NOSUID;
  if (f & ST_NODEV) out |= MS_NODEV;
  if (f & ST_NOEXEC) out |= MS_NOEXEC;
  if (f & ST_NOATIME) out |= MS_NOATIME;
  if (f & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (f & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

// A bind remount that keeps the flags the mount already has (a remount replaces them all).
bool RemountBind(const std::string& target, unsigned long flags, Error* e) {
  struct statvfs sv {};
  unsigned long keep = statvfs(target.c_str(), &sv) == 0 ? StatvfsToMsFlags(sv.f_flag) : 0;
  if (mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | keep | flags, nullptr) < 0) {
    return e->Sys("mount", "remounting " + target);
  }
  return true;
}

void ApplyPropagation(const std::string& target, const json::Value& m, const std::string& what) {
  if (const json::Value* props = m.Get("propagation"); props != nullptr && props->IsArray()) {
    for (const json::Value& p : props->Arr()) {
      if (mount(nullptr, target.c_str(), nullptr, static_cast<unsigned long>(p.Int()), nullptr) < 0) {
        DieSys("mounts", "mount", "setting the propagation of " + what);
      }
    }
  }
}

void MountOne(int rootfd, const json::Value& m) {
  const std::string dest = m.GetString("destination");
  const std::string type = m.GetString("type");
  const std::string source = m.GetString("source");
  const std::string data = m.GetString("data");
  unsigned long flags = static_cast<unsigned long>(m.GetInt("flags"));
  Error e;
  if (m.GetString("kind") == "cgroup-v1") {
    // As runc does on cgroup v1: a tmpfs with a bind of the container's own cgroup per hierarchy.
    UniqueFd t = MkdirAllInRoot(rootfd, dest, 0755, &e);
    if (!t.ok()) Die(e, "mounts");
    unsigned long base = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
    if (mount("tmpfs", FdPath(t.get()).c_str(), "tmpfs", base, "mode=755") < 0) DieSys("mounts", "mount", "tmpfs for cgroups at " + dest);
    if (const json::Value* hs = m.Get("cgroups"); hs != nullptr && hs->IsArray()) {
      for (const json::Value& h : hs->Arr()) {
        std::string sub = dest + "/" + h.GetString("name");
        std::string src = h.GetString("source");
        UniqueFd st = MkdirAllInRoot(rootfd, sub, 0755, &e);
        if (!st.ok()) Die(e, "mounts");
        if (mount(src.c_str(), FdPath(st.get()).c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) DieSys("mounts", "mount", "binding cgroup " + src + " at " + sub);
        UniqueFd again = OpenInRoot(rootfd, sub, O_PATH | O_DIRECTORY, &e);
        if (!again.ok()) Die(e, "mounts");
        if (!RemountBind(FdPath(again.get()), base | (flags & MS_RDONLY), &e)) Die(e, "mounts");
      }
    }
    if (flags & MS_RDONLY) {
      UniqueFd again = OpenInRoot(rootfd, dest, O_PATH | O_DIRECTORY, &e);
      if (!again.ok()) Die(e, "mounts");
      if (mount(nullptr, FdPath(again.get()).c_str(), nullptr, MS_REMOUNT | base | MS_RDONLY, "mode=755") < 0) DieSys("mounts", "mount", "remounting " + dest + " read-only");
    }
    return;
  }
  if (flags & MS_BIND) {
    // A source cloned by stage 0 (idmapped, or out of reach in a user namespace) is attached by fd.
    int tree = DetachedTreeOf(m);
    struct stat st {};
    if ((tree >= 0 ? fstat(tree, &st) : stat(source.c_str(), &st)) < 0) DieSys("mounts", "stat", "bind source " + source + " for " + dest);
    UniqueFd t = CreateInRoot(rootfd, dest, S_ISDIR(st.st_mode), &e);
    if (!t.ok()) Die(e, "mounts");
    if (tree >= 0) {
      if (!AttachTree(tree, t.get(), source + " at " + dest, &e)) Die(e, "mounts");
    } else if (mount(source.c_str(), FdPath(t.get()).c_str(), nullptr, flags & (MS_BIND | MS_REC), nullptr) < 0) {
      DieSys("mounts", "mount", "binding " + source + " at " + dest);
    }
    // The fd opened before mounting names the directory under the mount; open the mount itself.
    UniqueFd again = OpenInRoot(rootfd, dest, O_PATH, &e);
    if (!again.ok()) Die(e, "mounts");
    unsigned long extra = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra != 0 && !RemountBind(FdPath(again.get()), extra, &e)) Die(e, "mounts");
    ApplyPropagation(FdPath(again.get()), m, dest);
    return;
  }
  UniqueFd t = MkdirAllInRoot(rootfd, dest, 0755, &e);
  if (!t.ok()) Die(e, "mounts");
  if (mount(source.c_str(), FdPath(t.get()).c_str(), type.c_str(), flags, data.empty() ? nullptr : data.c_str()) < 0) {
    // sysfs needs a network namespace owned by the container's user namespace; without one, bind the
    // host's /sys with the same flags, as runc does.
    if (!(type == "sysfs" && errno == EPERM && g_inUserns)) DieSys("mounts", "mount", type + " at " + dest);
    if (mount("/sys", FdPath(t.get()).c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) DieSys("mounts", "mount", "binding the host's /sys at " + dest + " (sysfs is refused without a network namespace of the container)");
    UniqueFd again = OpenInRoot(rootfd, dest, O_PATH, &e);
    if (!again.ok()) Die(e, "mounts");
    if (!RemountBind(FdPath(again.get()), flags & ~(MS_BIND | MS_REC | MS_REMOUNT), &e)) Die(e, "mounts");
  }
  if (m.Get("propagation") != nullptr) {
    UniqueFd again = OpenInRoot(rootfd, dest, O_PATH, &e);
    if (!again.ok()) Die(e, "mounts");
    ApplyPropagation(FdPath(again.get()), m, dest);
  }
}

void CreateDevice(int rootfd, const json::Value& d) {
  const std::string path = d.GetString("path");
  const std::string type = d.GetString("type");
  mode_t kind = type == "b" ? S_IFBLK : type == "p" ? S_IFIFO : S_IFCHR;
  mode_t perm = static_cast<mode_t>(d.GetInt("fileMode", 0666)) & 07777;
  dev_t dev = makedev(static_cast<unsigned>(d.GetInt("major")), static_cast<unsigned>(d.GetInt("minor")));
  size_t slash = path.find_last_of('/');
  std::string dir = path.substr(0, slash), base = path.substr(slash + 1);
  Error e;
  UniqueFd parent = MkdirAllInRoot(rootfd, dir, 0755, &e);
  if (!parent.ok()) Die(e, "devices");
  unlinkat(parent.get(), base.c_str(), 0);
  // In a user namespace mknod is refused: bind the host's node instead, as runc does.
  if (g_inUserns || mknodat(parent.get(), base.c_str(), kind | perm, dev) < 0) {
    if (!g_inUserns && errno != EPERM) DieSys("devices", "mknodat", path);
    UniqueFd t = CreateInRoot(rootfd, path, false, &e);
    if (!t.ok()) Die(e, "devices");
    if (mount(path.c_str(), FdPath(t.get()).c_str(), nullptr, MS_BIND, nullptr) < 0) DieSys("devices", "mount", "binding host device " + path);
    return;
  }
  // mknod applies the umask; set the exact mode and owner.
  if (fchmodat(parent.get(), base.c_str(), perm, 0) < 0) DieSys("devices", "fchmodat", path);
  uid_t uid = static_cast<uid_t>(d.GetInt("uid", 0));
  gid_t gid = static_cast<gid_t>(d.GetInt("gid", 0));
  if (fchownat(parent.get(), base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0) DieSys("devices", "fchownat", path);
}

void DevSymlinks(int rootfd) {
  Error e;
  UniqueFd dev = OpenInRoot(rootfd, "/dev", O_PATH | O_DIRECTORY, &e);
  if (!dev.ok()) Die(e, "devices");
  const char* links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (auto& l : links) {
    if (symlinkat(l[0], dev.get(), l[1]) < 0 && errno != EEXIST) DieSys("devices", "symlinkat", std::string("/dev/") + l[1]);
  }
  if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev.get(), "core") < 0 && errno != EEXIST) DieSys("devices", "symlinkat", "/dev/core");
  // /dev/ptmx points at the container's own devpts instance.
  unlinkat(dev.get(), "ptmx", 0);
  if (symlinkat("pts/ptmx", dev.get(), "ptmx") < 0) DieSys("devices", "symlinkat", "/dev/ptmx");
}

void MoveRoot(const std::string& rootfs);

void PivotRoot(const std::string& rootfs) {
  UniqueFd oldroot(open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  UniqueFd newroot(open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!oldroot.ok() || !newroot.ok()) DieSys("pivot", "open", "the old and new roots");
  if (fchdir(newroot.get()) < 0) DieSys("pivot", "fchdir", rootfs);
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the new root.
  if (syscall(SYS_pivot_root, ".", ".") < 0) {
    // The host root is the initramfs (rootfs cannot be pivoted away): MS_MOVE + chroot, as runc.
    if (errno == EINVAL) {
      MoveRoot(rootfs);
      return;
    }
    DieSys("pivot", "pivot_root", rootfs);
  }
  if (fchdir(oldroot.get()) < 0) DieSys("pivot", "fchdir", "old root");
  // Keep unmount events of the old root from reaching the host.
  if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) DieSys("pivot", "mount", "making the old root a slave");
  if (umount2(".", MNT_DETACH) < 0) DieSys("pivot", "umount2", "old root");
  if (chdir("/") < 0) DieSys("pivot", "chdir", "/");
}

void MoveRoot(const std::string& rootfs) {
  if (chdir(rootfs.c_str()) < 0) DieSys("pivot", "chdir", rootfs);
  if (mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0) DieSys("pivot", "mount", "moving " + rootfs + " to /");
  if (chroot(".") < 0) DieSys("pivot", "chroot", rootfs);
  if (chdir("/") < 0) DieSys("pivot", "chdir", "/");
}

std::string TargetPath(int fd, const std::string& plain) {
  static const bool have_proc = access("/proc/self/fd", F_OK) == 0;
  return have_proc ? FdPath(fd) : plain;
}

void MaskPaths(const std::vector<std::string>& paths) {
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  // The container's /dev/null, opened without following a symlink and checked to be the 1:3
  // character device, then cloned as a detached bind mount: each mask is attached from that fd
  // (move_mount), never by a path the container could have redirected (CVE-2025-31133 class).
  UniqueFd null;
  auto maskFile = [&](int target, const std::string& p) {
    if (!null.ok()) {
      Error e;
      UniqueFd dev = OpenInRoot(root.get(), "/dev", O_PATH | O_DIRECTORY, &e);
      if (!dev.ok()) Die(e, "masked-paths");
      UniqueFd node(openat(dev.get(), "null", O_PATH | O_NOFOLLOW | O_CLOEXEC));
      struct stat st {};
      if (!node.ok() || fstat(node.get(), &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
        e.Set("fstat", "/dev/null in the container is not the null device (1:3); refusing to mask with it", EPERM);
        Die(e, "masked-paths");
      }
      null = std::move(node);
    }
    UniqueFd tree(static_cast<int>(open_tree(null.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH)));
    if (!tree.ok()) DieSys("masked-paths", "open_tree", "/dev/null for masking " + p);
    if (move_mount(tree.get(), "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) DieSys("masked-paths", "move_mount", "masking " + p);
  };
  for (const std::string& p : paths) {
    Error e;
    UniqueFd fd = OpenInRoot(root.get(), p, O_PATH, &e);
    if (!fd.ok()) {
      if (e.err == ENOENT) continue;
      Die(e, "masked-paths");
    }
    struct stat st {};
    if (fstat(fd.get(), &st) < 0) DieSys("masked-paths", "fstat", p);
    if (!S_ISDIR(st.st_mode)) {
      maskFile(fd.get(), p);
      continue;
    }
    std::string target = TargetPath(fd.get(), p);
    if (mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY, nullptr) < 0) DieSys("masked-paths", "mount", "masking " + p);
  }
}

void ReadonlyPaths(const std::vector<std::string>& paths) {
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (const std::string& p : paths) {
    Error e;
    UniqueFd fd = OpenInRoot(root.get(), p, O_PATH, &e);
    if (!fd.ok()) {
      if (e.err == ENOENT) continue;
      Die(e, "readonly-paths");
    }
    std::string target = TargetPath(fd.get(), p);
    if (mount(target.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) DieSys("readonly-paths", "mount", "binding " + p);
    UniqueFd again = OpenInRoot(root.get(), p, O_PATH, &e);
    if (!again.ok()) Die(e, "readonly-paths");
    if (!RemountBind(TargetPath(again.get(), p), MS_RDONLY | MS_REC, &e)) Die(e, "readonly-paths");
  }
}

void RunHooks(const json::Value* hooks, const std::string& state, const char* kind);

// `createContainer`: hooks run in the container's namespaces once its mounts exist, before pivot_root
// (their paths resolve in the runtime's root, as the runtime-spec says).
void PrepareRootfs(const json::Value& r, const json::Value* createContainer, const std::string& state) {
  const std::string rootfs = r.GetString("path");
  unsigned long prop = static_cast<unsigned long>(r.GetInt("propagation", 0));
  // Nothing we mount may propagate back to the host: slave everything unless told otherwise.
  if (mount(nullptr, "/", nullptr, MS_REC | (prop != 0 ? prop : static_cast<unsigned long>(MS_SLAVE)), nullptr) < 0) DieSys("rootfs", "mount", "setting / propagation");
  if (prop & MS_SHARED) {
    // pivot_root refuses a new root whose parent mount is shared.
    std::string parent = rootfs.substr(0, rootfs.find_last_of('/'));
    if (parent.empty()) parent = "/";
    // Find the mount point holding `parent` by trying it and its ancestors.
    while (mount(nullptr, parent.c_str(), nullptr, MS_PRIVATE, nullptr) < 0) {
      if (errno != EINVAL || parent == "/") DieSys("rootfs", "mount", "making the rootfs's parent mount private");
      parent = parent.substr(0, parent.find_last_of('/'));
      if (parent.empty()) parent = "/";
    }
  }
  if (mount(rootfs.c_str(), rootfs.c_str(), "bind", MS_BIND | MS_REC, nullptr) < 0) DieSys("rootfs", "mount", "binding the rootfs " + rootfs + " onto itself");
  UniqueFd rootfd(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd.ok()) DieSys("rootfs", "open", rootfs);
  if (const json::Value* ms = r.Get("mounts"); ms != nullptr && ms->IsArray()) {
    for (const json::Value& m : ms->Arr()) {
      MountOne(rootfd.get(), m);
      if (m.Get("recAttr") != nullptr) {
        Error e;
        UniqueFd at = OpenInRoot(rootfd.get(), m.GetString("destination"), O_PATH, &e);
        if (!at.ok() || !ApplyRecursiveAttrs(at.get(), m, m.GetString("destination"), &e)) Die(e, "mounts");
      }
    }
    g_detached.clear();
  }
  if (const json::Value* ds = r.Get("devices"); ds != nullptr && ds->IsArray()) {
    for (const json::Value& d : ds->Arr()) CreateDevice(rootfd.get(), d);
  }
  if (r.GetBool("devSymlinks")) DevSymlinks(rootfd.get());
  rootfd.Reset();
  RunHooks(createContainer, state, "createContainer");
  if (r.GetBool("noPivot")) MoveRoot(rootfs);
  else PivotRoot(rootfs);
}

// After hostname and sysctls (which write under /proc/sys), as runc does: read-only and masked
// paths, then the read-only root, then the root's propagation.
void FinalizeRootfs(const json::Value& r) {
  ReadonlyPaths(r.GetStrings("readonlyPaths"));
  MaskPaths(r.GetStrings("maskedPaths"));
  Error e;
  if (r.GetBool("readonly") && !RemountBind("/", MS_RDONLY, &e)) Die(e, "rootfs");
  unsigned long prop = static_cast<unsigned long>(r.GetInt("propagation", 0));
  if (prop != 0 && mount(nullptr, "/", nullptr, prop, nullptr) < 0) DieSys("rootfs", "mount", "applying rootfsPropagation");
}

// ---- process -------------------------------------------------------------------------------------

// A private procfs instance (fsopen, never attached to the container's tree), so that nothing the
// container's rootfs or mounts put at /proc can redirect the runtime's writes (CVE-2025-52881 class).
// Opened in stage 1 before the rootfs is prepared (so it is of the container's PID namespace, and
// the mount is allowed while the host's /proc is still fully visible) and closed again before the
// init waits on the exec FIFO, so no process of the container can reach it through /proc/1/fd.
UniqueFd g_proc;

void OpenProc(const char* phase) {
  UniqueFd fs(fsopen("proc", FSOPEN_CLOEXEC));
  if (!fs.ok()) DieSys(phase, "fsopen", "proc");
  if (fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) DieSys(phase, "fsconfig", "proc");
  g_proc.Reset(fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  if (!g_proc.ok()) DieSys(phase, "fsmount", "proc");
}

void WriteFile(const std::string& path, const std::string& value, const char* phase) {
  // `path` is /proc/...: resolved beneath our own procfs, with no symlink and no mount crossing.
  std::string rel = path.substr(6);
  if (rel.rfind("self/", 0) == 0) rel = std::to_string(getpid()) + rel.substr(4);
  struct open_how how {};
  how.flags = O_WRONLY | O_CLOEXEC | O_TRUNC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, g_proc.get(), rel.c_str(), &how, sizeof(how))));
  struct statfs sfs {};
  if (fd.ok() && (fstatfs(fd.get(), &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)) {
    Error e;
    e.Set("fstatfs", path + " is not on procfs", EXDEV);
    Die(e, phase);
  }
  if (!fd.ok()) DieSys(phase, "open", path);
  if (write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) DieSys(phase, "write", path + " = " + value);
}

uint64_t CapMask(const json::Value& caps, const char* set, int last) {
  uint64_t mask = 0;
  if (const json::Value* a = caps.Get(set); a != nullptr && a->IsArray()) {
    for (const json::Value& c : a->Arr()) {
      int n = static_cast<int>(c.Int());
      if (n >= 0 && n <= last) mask |= 1ULL << n;
    }
  }
  return mask;
}

int LastCap() {
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int last = 40;
  if (f != nullptr) {
    if (fscanf(f, "%d", &last) != 1) last = 40;
    fclose(f);
  }
  return last;
}

std::string LookPath(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return file;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = j > i ? path.substr(i, j - i) : ".";
    std::string cand = dir + "/" + file;
    struct stat st {};
    if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) return cand;
    i = j + 1;
  }
  return "";
}

void ResetSignals() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; s++) sigaction(s, &sa, nullptr);  // SIGKILL/SIGSTOP and reserved ones fail: fine
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// ---- console -------------------------------------------------------------------------------------

// Connects to the console socket (a unix stream socket of the caller, e.g. containerd's shim).
void ConnectConsole(const std::string& path) {
  sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    Error e;
    e.Set("connect", "console socket path is too long: " + path, ENAMETOOLONG);
    Die(e, "console");
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  g_console = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (g_console < 0) DieSys("console", "socket", "console socket");
  if (connect(g_console, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) DieSys("console", "connect", "console socket " + path);
}

// Creates a pty in the container's devpts (/dev/ptmx), sends the master over the console socket
// (SCM_RIGHTS, the pty's name as the payload, as runc) and makes the slave the controlling terminal
// and stdio of this process. Runs in the container's mount namespace, after setsid.
void SetupConsole(const json::Value& console, const json::Value* user) {
  UniqueFd master(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.ok()) DieSys("console", "open", "/dev/ptmx in the container");
  int unlock = 0;
  if (ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) DieSys("console", "ioctl", "TIOCSPTLCK (unlockpt)");
  int ptyno = 0;
  if (ioctl(master.get(), TIOCGPTN, &ptyno) < 0) DieSys("console", "ioctl", "TIOCGPTN");
  UniqueFd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.ok()) DieSys("console", "ioctl", "TIOCGPTPEER (open the pty slave)");
  int64_t h = console.GetInt("height", 0), w = console.GetInt("width", 0);
  if (h > 0 || w > 0) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(h);
    ws.ws_col = static_cast<unsigned short>(w);
    if (ioctl(slave.get(), TIOCSWINSZ, &ws) < 0) DieSys("console", "ioctl", "TIOCSWINSZ");
  }
  if (user != nullptr && user->IsObject()) {
    // The process's user owns its terminal, as with a login.
    if (fchown(slave.get(), static_cast<uid_t>(user->GetInt("uid")), static_cast<gid_t>(-1)) < 0) Warn(std::string("console: fchown of the pty: ") + strerror(errno));
  }
  std::string name = "/dev/pts/" + std::to_string(ptyno);
  iovec iov {name.data(), name.size()};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] {};
  msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof(ctl);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int mfd = master.get();
  memcpy(CMSG_DATA(c), &mfd, sizeof(int));
  if (sendmsg(g_console, &mh, MSG_NOSIGNAL) < 0) DieSys("console", "sendmsg", "sending the pty master over the console socket");
  close(g_console);
  g_console = -1;
  if (ioctl(slave.get(), TIOCSCTTY, 0) < 0) DieSys("console", "ioctl", "TIOCSCTTY (controlling terminal)");
  for (int fd = 0; fd < 3; fd++) {
    if (dup3(slave.get(), fd, 0) < 0) DieSys("console", "dup3", "pty slave to stdio");
  }
}

// ---- hooks ---------------------------------------------------------------------------------------

// Runs the hooks of one kind (createContainer, startContainer) in order, each with the state JSON
// on stdin, its own args and env, and its timeout (seconds; 0 = none). A hook that fails or outlives
// its timeout fails the container (phase "hooks"); its stdout/stderr are the container's.
void RunHooks(const json::Value* hooks, const std::string& state, const char* kind) {
  if (hooks == nullptr || !hooks->IsArray()) return;
  size_t index = 0;
  for (const json::Value& h : hooks->Arr()) {
    std::string path = h.GetString("path");
    std::string where = std::string(kind) + " hook " + std::to_string(index++) + " (" + path + ")";
    std::vector<std::string> args = h.GetStrings("args");
    if (args.empty()) args.push_back(path);
    std::vector<std::string> env = h.GetStrings("env");
    int64_t timeout = h.GetInt("timeout", 0);
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) DieSys("hooks", "pipe2", where);
    UniqueFd rd(p[0]), wr(p[1]);
    // The child reports a failed execve's errno here (the pipe closes at a successful one).
    if (pipe2(p, O_CLOEXEC) < 0) DieSys("hooks", "pipe2", where);
    UniqueFd erd(p[0]), ewr(p[1]);
    // Single-threaded static binary: fork is safe here.
    pid_t pid = fork();
    if (pid < 0) DieSys("hooks", "fork", where);
    if (pid == 0) {
      int err = 0;
      if (dup2(rd.get(), 0) < 0) {
        err = errno;
      } else {
        ResetSignals();
        // Only stdio reaches the hook (not the fds preserved for the container).
        syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(path.c_str(), argv.data(), envp.data());
        err = errno;
      }
      (void)!write(ewr.get(), &err, sizeof err);
      _exit(127);
    }
    rd.Reset();
    ewr.Reset();
    int childErr = 0;
    ssize_t got;
    do {
      got = read(erd.get(), &childErr, sizeof childErr);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof childErr)) {
      waitpid(pid, nullptr, 0);
      errno = childErr;
      DieSys("hooks", "execve", where);
    }
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd.ok()) DieSys("hooks", "pidfd_open", where);
    // A hook that does not read its stdin must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < state.size()) {
      ssize_t n = write(wr.get(), state.data() + off, state.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the hook closed its stdin: its exit status decides
      off += static_cast<size_t>(n);
    }
    wr.Reset();
    struct pollfd pf = {pidfd.get(), POLLIN, 0};
    int r;
    do {
      r = poll(&pf, 1, timeout > 0 ? static_cast<int>(timeout * 1000) : -1);
    } while (r < 0 && errno == EINTR);
    if (r < 0) DieSys("hooks", "poll", where);
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      Error e;
      e.Set("hook", where + " did not finish within its timeout of " + std::to_string(timeout) + " s", ETIMEDOUT);
      Die(e, "hooks");
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) DieSys("hooks", "waitpid", where);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      Error e;
      std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "signal " + std::to_string(WTERMSIG(status));
      e.Set("hook", where + " failed: " + how, ECANCELED);
      Die(e, "hooks");
    }
  }
}

[[noreturn]] void Stage1(const json::Value& plan) {
  std::vector<int> cgroupTasks;
  json::Value cont = Recv("sync", "continue", &cgroupTasks);
  // Into the container's cgroups first (see cgjoin.h), before the cgroup namespace is unshared.
  if (Error e; !JoinCgroups(cgroupTasks, &e)) Die(e, "cgroups");
  const json::Value* hooks = plan.Get("hooks");
  const std::string stateCreating = cont.GetString("stateCreating");
  const std::string stateCreated = cont.GetString("stateCreated");
  const std::string mode = plan.GetString("mode");
  if (const json::Value* userns = plan.Get("userns"); userns != nullptr && userns->IsObject()) {
    // The parent has written the maps of a new user namespace by now (or it was joined with its own).
    if (Error e; !BecomeRoot(userns->GetString("setgroups") != "deny", &e)) Die(e, "user-namespace");
    g_inUserns = true;
    if (const json::Value* r = plan.Get("rootfs"); r != nullptr && r->IsObject() && access(r->GetString("path").c_str(), X_OK) < 0) {
      DieSys("rootfs", "access", "the rootfs " + r->GetString("path") + " is not reachable by the root of the container's user namespace (every directory above it needs search permission for its host uid)");
    }
  }
  for (const std::string& t : plan.GetStrings("clone")) {
    // After the parent placed us in our cgroups, so the namespace's root is the container's cgroup.
    if (t == "cgroup" && unshare(CLONE_NEWCGROUP) < 0) DieSys("namespaces", "unshare", "cgroup namespace");
  }
  if (plan.GetBool("setsid") && setsid() < 0) DieSys("process", "setsid", "new session");

  UniqueFd fifo = std::move(g_fifo);
  const json::Value* sysctl = plan.Get("sysctl");
  const json::Value* oom = plan.Get("process") != nullptr ? plan.Get("process")->Get("oomScoreAdj") : nullptr;
  if ((sysctl != nullptr && sysctl->IsObject() && !sysctl->Obj().empty()) || (oom != nullptr && oom->IsNumber())) OpenProc("procfs");
  if (const json::Value* r = plan.Get("rootfs"); r != nullptr && r->IsObject()) PrepareRootfs(*r, hooks != nullptr ? hooks->Get("createContainer") : nullptr, stateCreating);
  if (std::string h = plan.GetString("hostname"); !h.empty() && sethostname(h.data(), h.size()) < 0) DieSys("hostname", "sethostname", h);
  if (std::string d = plan.GetString("domainname"); !d.empty() && setdomainname(d.data(), d.size()) < 0) DieSys("hostname", "setdomainname", d);
  if (sysctl != nullptr && sysctl->IsObject()) {
    for (const auto& [k, v] : sysctl->Obj()) {
      std::string p = "/proc/sys/" + k;
      for (size_t i = 10; i < p.size(); i++) if (p[i] == '.') p[i] = '/';
      WriteFile(p, v.Str(), "sysctl");
    }
  }
  if (const json::Value* r = plan.Get("rootfs"); r != nullptr && r->IsObject()) FinalizeRootfs(*r);
  if (const json::Value* persona = plan.Get("personality"); persona != nullptr && persona->IsNumber()) {
    if (Error e; !SetPersonality(*persona, &e)) Die(e, "personality");
  }

  const json::Value* proc = plan.Get("process");
  if (proc == nullptr || !proc->IsObject()) {
    Error e;
    e.Set("plan", "the plan has no process", EINVAL);
    Die(e, "plan");
  }
  const json::Value& p = *proc;
  if (const json::Value* console = plan.Get("console"); console != nullptr && console->IsObject()) SetupConsole(*console, p.Get("user"));
  if (oom != nullptr && oom->IsNumber()) WriteFile("/proc/self/oom_score_adj", oom->Str(), "oom-score-adj");
  g_proc.Reset();
  if (const json::Value* rl = p.Get("rlimits"); rl != nullptr && rl->IsArray()) {
    for (const json::Value& r : rl->Arr()) {
      struct rlimit lim {};
      lim.rlim_cur = r.Get("soft") != nullptr ? r.Get("soft")->Uint() : 0;
      lim.rlim_max = r.Get("hard") != nullptr ? r.Get("hard")->Uint() : 0;
      if (setrlimit(static_cast<__rlimit_resource>(r.GetInt("type")), &lim) < 0) DieSys("rlimits", "setrlimit", "rlimit " + std::to_string(r.GetInt("type")));
    }
  }
  // Scheduling attributes: after the rlimits (RLIMIT_RTPRIO / RLIMIT_NICE bound what an unprivileged
  // user may ask) and while CAP_SYS_NICE / CAP_SYS_ADMIN are still held (realtime policies and the
  // realtime I/O class need them). The exec CPU affinity's `final` set is applied here, after the
  // parent moved us into the container's cgroups (a cpuset there would have narrowed it); exec only,
  // since the runtime-spec says it does not apply to the container's init.
  if (const json::Value* s = p.Get("scheduler"); s != nullptr && s->IsObject()) {
    if (Error e; !ApplyScheduler(*s, &e)) Die(e, "scheduler");
  }
  if (const json::Value* io = p.Get("ioPriority"); io != nullptr && io->IsObject()) {
    if (Error e; !ApplyIoPriority(*io, &e)) Die(e, "io-priority");
  }
  if (const json::Value* aff = p.Get("cpuAffinity"); mode == "exec" && aff != nullptr && aff->IsObject()) {
    if (const json::Value* fin = aff->Get("final"); fin != nullptr && fin->IsArray() && !fin->Arr().empty()) {
      if (Error e; !ApplyAffinity(*fin, "final", &e)) Die(e, "cpu-affinity");
    }
  }

  // Capabilities and user: the bounding set first (needs CAP_SETPCAP), then the ids with
  // PR_SET_KEEPCAPS so the permitted set survives setuid, then the other sets, then ambient.
  const json::Value* caps = p.Get("capabilities");
  int last = LastCap();
  // Capabilities outside our own bounding set cannot be had: skip them with a warning instead of
  // failing capset (this host's bounding set lacks CAP_SYS_RESOURCE, for one).
  uint64_t own = 0;
  for (int c = 0; c <= last; c++) {
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) own |= 1ULL << c;
  }
  if (caps != nullptr && caps->IsObject()) {
    uint64_t wanted = CapMask(*caps, "bounding", last) | CapMask(*caps, "permitted", last) | CapMask(*caps, "effective", last) |
                      CapMask(*caps, "inheritable", last) | CapMask(*caps, "ambient", last);
    for (int c = 0; c <= last; c++) {
      if ((wanted & ~own) & (1ULL << c)) Warn("capability " + std::to_string(c) + " is not in podrun's own bounding set; skipped");
    }
    uint64_t bounding = CapMask(*caps, "bounding", last);
    for (int c = 0; c <= last; c++) {
      if (!(bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) DieSys("capabilities", "prctl", "dropping capability " + std::to_string(c) + " from the bounding set");
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) DieSys("capabilities", "prctl", "PR_SET_KEEPCAPS");
  }
  // Seccomp goes as late as possible, so the filter never blocks podkit-init's own setup: loading
  // it needs no_new_privs or CAP_SYS_ADMIN. With process.noNewPrivileges it is loaded just before
  // the exec FIFO (below); without, it must be loaded here, the last point where CAP_SYS_ADMIN is
  // still held (the user switch and capset below may drop it), as runc does. Its rules then also
  // apply to the remaining setup (setgroups, setuid, capset, chdir, execve...).
  const json::Value* seccomp = p.Get("seccomp");
  // A NOTIFY profile yields a listener, handed to the runtime (which sends it to listenerPath)
  // before anything else runs under the filter.
  if (seccomp != nullptr && seccomp->IsObject() && !p.GetBool("noNewPrivileges")) {
    int listener = -1;
    if (Error e; !LoadSeccomp(*seccomp, &listener, &e) || (listener >= 0 && !HandOverListener(g_sock, listener, &e))) Die(e, "seccomp");
  }
  const json::Value* user = p.Get("user");
  if (user != nullptr && user->IsObject()) {
    std::vector<gid_t> groups;
    if (const json::Value* g = user->Get("additionalGids"); g != nullptr && g->IsArray()) {
      for (const json::Value& x : g->Arr()) groups.push_back(static_cast<gid_t>(x.Int()));
    }
    if (setgroups(groups.size(), groups.data()) < 0) DieSys("user", "setgroups", "additional groups");
    gid_t gid = static_cast<gid_t>(user->GetInt("gid"));
    uid_t uid = static_cast<uid_t>(user->GetInt("uid"));
    if (setresgid(gid, gid, gid) < 0) DieSys("user", "setresgid", std::to_string(gid));
    if (setresuid(uid, uid, uid) < 0) DieSys("user", "setresuid", std::to_string(uid));
    // Changing uid made us non-dumpable, which makes /proc/self/fd (the exec FIFO's path) root-only.
    // execve sets dumpability again from the program's credentials.
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) DieSys("user", "prctl", "PR_SET_DUMPABLE");
    if (const json::Value* um = user->Get("umask"); um != nullptr && um->IsNumber()) umask(static_cast<mode_t>(um->Int()));
  }
  if (caps != nullptr && caps->IsObject()) {
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) DieSys("capabilities", "prctl", "PR_SET_KEEPCAPS");
    uint64_t eff = CapMask(*caps, "effective", last) & own, perm = CapMask(*caps, "permitted", last) & own, inh = CapMask(*caps, "inheritable", last) & own;
    struct __user_cap_header_struct hdr {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] {};
    data[0].effective = static_cast<uint32_t>(eff);
    data[1].effective = static_cast<uint32_t>(eff >> 32);
    data[0].permitted = static_cast<uint32_t>(perm);
    data[1].permitted = static_cast<uint32_t>(perm >> 32);
    data[0].inheritable = static_cast<uint32_t>(inh);
    data[1].inheritable = static_cast<uint32_t>(inh >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) DieSys("capabilities", "capset", "setting the effective, permitted and inheritable sets");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) DieSys("capabilities", "prctl", "clearing the ambient set");
    uint64_t amb = CapMask(*caps, "ambient", last) & own;
    for (int c = 0; c <= last; c++) {
      if (!(amb & (1ULL << c))) continue;
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) Warn("ambient capability " + std::to_string(c) + " not raised: " + strerror(errno));
    }
  }

  std::string cwd = p.GetString("cwd", "/");
  if (chdir(cwd.c_str()) < 0) DieSys("cwd", "chdir", "cwd " + cwd + " in the container");
  std::vector<std::string> args = p.GetStrings("args");
  std::vector<std::string> env = p.GetStrings("env");
  if (args.empty()) {
    Error e;
    e.Set("execve", "process.args is empty", EINVAL);
    Die(e, "exec");
  }
  std::string exe = LookPath(args[0], env);
  if (exe.empty()) {
    Error e;
    e.Set("execve", "executable file \"" + args[0] + "\" not found in $PATH", ENOENT);
    Die(e, "exec");
  }
  if (p.GetBool("noNewPrivileges") && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) DieSys("process", "prctl", "PR_SET_NO_NEW_PRIVS");

  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& kv : env) envp.push_back(kv.data());
  envp.push_back(nullptr);

  // After capabilities and no_new_privs, so the filter blocks none of podkit-init's setup, and
  // before the exec FIFO, so a filter the kernel refuses fails `create` (with the error on the
  // channel) rather than after `start` has returned.
  if (seccomp != nullptr && seccomp->IsObject() && p.GetBool("noNewPrivileges")) {
    int listener = -1;
    if (Error e; !LoadSeccomp(*seccomp, &listener, &e) || (listener >= 0 && !HandOverListener(g_sock, listener, &e))) Die(e, "seccomp");
  }
  if (fifo.ok()) {
    Send("{\"type\":\"ready\"}", {}, "ready");
    close(g_sock);
    g_sock = -1;
    // Blocks until `start` opens the FIFO for reading.
    UniqueFd w(open(FdPath(fifo.get()).c_str(), O_WRONLY | O_CLOEXEC));
    if (!w.ok()) DieSys("exec-fifo", "open", "exec FIFO");
    // `start` has opened the FIFO: startContainer hooks run now, in the container; one that fails
    // closes the FIFO unwritten, so `start` fails.
    if (hooks != nullptr) RunHooks(hooks->Get("startContainer"), stateCreated, "startContainer");
    if (write(w.get(), "0", 1) != 1) DieSys("exec-fifo", "write", "exec FIFO");
  }
  ResetSignals();
  // Every fd except stdio is closed at execve (the channel included, which tells an exec's parent
  // that execve succeeded).
  int keep = static_cast<int>(p.GetInt("preserveFds", 0));
  syscall(SYS_close_range, 3 + keep, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(exe.c_str(), argv.data(), envp.data());
  DieSys("exec", "execve", exe);
}

}  // namespace
}  // namespace podkit::init

namespace podkit::init {
namespace {
// CVE-2019-5736: never run as the host file. Re-exec from a sealed memfd copy, so /proc/<pid>/exe of
// this process (seen from a container) names a memfd that cannot be written.
// Returns only when already running from a sealed copy, or with the error that prevented making one.
bool EnsureSealedCopy(char** argv, Error* e) {
  UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self.ok()) return e->Sys("open", "/proc/self/exe");
  int seals = fcntl(self.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE) != 0) return true;
  UniqueFd mfd(memfd_create("podkit-init", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mfd.ok()) return e->Sys("memfd_create", "sealed copy of podkit-init");
  struct stat st {};
  if (fstat(self.get(), &st) < 0) return e->Sys("fstat", "/proc/self/exe");
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mfd.get(), self.get(), &off, static_cast<size_t>(st.st_size - off));
    if (n < 0) return e->Sys("sendfile", "copying podkit-init into a memfd");
    if (n == 0) return e->Set("sendfile", "podkit-init shrank while being copied", EIO);
  }
  if (fcntl(mfd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) return e->Sys("fcntl", "sealing the memfd");
  fexecve(mfd.get(), argv, environ);
  return e->Sys("fexecve", "the sealed copy of podkit-init");
}
}  // namespace
}  // namespace podkit::init

int main(int argc, char** argv) {
  using namespace podkit;
  using namespace podkit::init;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("podkit-init protocol %d\n", kPlanProtocolVersion);
    return 0;
  }
  // The channel follows the fds kept for the container (`--preserve-fds`): the addon says where.
  g_sock = kSockFd;
  if (argc > 2 && strcmp(argv[1], "--channel") == 0) g_sock = atoi(argv[2]);
  if (g_sock < kSockFd || fcntl(g_sock, F_GETFD) < 0) {
    fprintf(stderr, "podkit-init: fd %d is not the plan channel; this helper is started by @podkit/runtime-core\n", g_sock);
    return 2;
  }
  // CVE-2019-5736: the addon already runs us from a sealed memfd copy; any other launcher gets the
  // re-exec here (the channel must survive it, so it becomes close-on-exec only afterwards).
  if (Error e; !EnsureSealedCopy(argv, &e)) Die(e, "startup");
  if (fcntl(g_sock, F_SETFD, FD_CLOEXEC) < 0) DieSys("startup", "fcntl", "plan channel");
  // Run from a memfd, comm would be the fd number.
  prctl(PR_SET_NAME, "podkit-init", 0, 0, 0);
  json::Value msg = Recv("plan", "plan");
  if (msg.GetInt("version") != kPlanProtocolVersion) {
    Error e;
    e.Set("plan", "protocol version " + std::to_string(msg.GetInt("version")) + " not supported (this podkit-init speaks " + std::to_string(kPlanProtocolVersion) + ")", EPROTO);
    Die(e, "plan");
  }
  const json::Value* plan = msg.Get("plan");
  if (plan == nullptr || !plan->IsObject()) {
    Error e;
    e.Set("plan", "message has no plan object", EPROTO);
    Die(e, "plan");
  }
  if (const json::Value* console = plan->Get("console"); console != nullptr && console->IsObject()) ConnectConsole(console->GetString("socket"));
  // execCPUAffinity.initial (exec only): the CPUs we and the process we clone run on until the parent
  // moves it into the container's cgroups.
  if (const json::Value* aff = plan->Get("process") != nullptr ? plan->Get("process")->Get("cpuAffinity") : nullptr; aff != nullptr && plan->GetString("mode") == "exec") {
    if (const json::Value* ini = aff->Get("initial"); ini != nullptr && ini->IsArray() && !ini->Arr().empty()) {
      if (Error e; !ApplyAffinity(*ini, "initial", &e)) Die(e, "cpu-affinity");
    }
  }
  Stage0(*plan);
}

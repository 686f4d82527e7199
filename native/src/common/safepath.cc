#include "common/safepath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

namespace podkit {
namespace {

std::deque<std::string> Split(const std::string& path) {
  std::deque<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool g_openat2_missing = false;

UniqueFd Walk(int rootfd, const std::string& path, int flags, Error* err, bool create_dirs = false, mode_t mode = 0755) {
  std::vector<UniqueFd> stack;
  UniqueFd cur(fcntl(rootfd, F_DUPFD_CLOEXEC, 3));
  if (!cur.ok()) {
    err->Sys("fcntl", "duplicating the root fd");
    return UniqueFd();
  }
  std::deque<std::string> parts = Split(path);
  int links = 0;
  while (!parts.empty()) {
    std::string c = std::move(parts.front());
    parts.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!stack.empty()) {
        cur = std::move(stack.back());
        stack.pop_back();
      }
      continue;
    }
    struct stat st {};
    if (fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != ENOENT || !create_dirs) {
        err->Sys("fstatat", path);
        return UniqueFd();
      }
      if (mkdirat(cur.get(), c.c_str(), mode) < 0 && errno != EEXIST) {
        err->Sys("mkdirat", path);
        return UniqueFd();
      }
      if (fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        err->Sys("fstatat", path);
        return UniqueFd();
      }
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) {
        err->Set("openat", path + ": too many levels of symbolic links", ELOOP);
        return UniqueFd();
      }
      char target[4096];
      ssize_t n = readlinkat(cur.get(), c.c_str(), target, sizeof(target) - 1);
      if (n < 0) {
        err->Sys("readlinkat", path);
        return UniqueFd();
      }
      std::string t(target, static_cast<size_t>(n));
      if (!t.empty() && t[0] == '/') {
        stack.clear();
        cur.Reset(fcntl(rootfd, F_DUPFD_CLOEXEC, 3));
      }
      std::deque<std::string> more = Split(t);
      parts.insert(parts.begin(), more.begin(), more.end());
      continue;
    }
    if (parts.empty()) {
      UniqueFd last(openat(cur.get(), c.c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
      if (!last.ok()) err->Sys("openat", path);
      return last;
    }
    UniqueFd next(openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.ok()) {
      err->Sys("openat", path);
      return UniqueFd();
    }
    stack.push_back(std::move(cur));
    cur = std::move(next);
  }
  UniqueFd self(openat(cur.get(), ".", flags | O_CLOEXEC));
  if (!self.ok()) err->Sys("openat", path);
  return self;
}

}  // namespace

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

UniqueFd OpenInRoot(int rootfd, const std::string& path, int flags, Error* err, Resolver how) {
  if (how == Resolver::kAuto && !g_openat2_missing) {
    struct open_how oh {};
    oh.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    oh.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    std::string rel = path.empty() ? "." : path;
    int fd;
    do {
      fd = static_cast<int>(syscall(SYS_openat2, rootfd, rel.c_str(), &oh, sizeof(oh)));
    } while (fd < 0 && errno == EAGAIN);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOSYS) {
      err->Sys("openat2", path);
      return UniqueFd();
    }
    g_openat2_missing = true;
  }
  return Walk(rootfd, path, flags, err);
}

UniqueFd MkdirAllInRoot(int rootfd, const std::string& path, mode_t mode, Error* err, Resolver how) {
  UniqueFd fd = OpenInRoot(rootfd, path, O_PATH | O_DIRECTORY, err, how);
  if (fd.ok() || err->err != ENOENT) return fd;
  // Create what is missing with the component walk: it follows every symlink inside the root (a
  // dangling one gets its target created there) and opens each component with O_NOFOLLOW.
  *err = Error();
  return Walk(rootfd, path, O_PATH | O_DIRECTORY, err, true, mode);
}

UniqueFd CreateInRoot(int rootfd, const std::string& path, bool dir, Error* err, Resolver how) {
  if (dir) return MkdirAllInRoot(rootfd, path, 0755, err, how);
  UniqueFd fd = OpenInRoot(rootfd, path, O_PATH, err, how);
  if (fd.ok() || err->err != ENOENT) return fd;
  size_t slash = path.find_last_of('/');
  std::string dirpart = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  *err = Error();
  UniqueFd parent = MkdirAllInRoot(rootfd, dirpart, 0755, err, how);
  if (!parent.ok()) return parent;
  UniqueFd created(openat(parent.get(), base.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created.ok() && errno != EEXIST && errno != ELOOP) {
    err->Sys("openat", path);
    return UniqueFd();
  }
  created.Reset();
  return OpenInRoot(rootfd, path, O_PATH, err, how);
}

}  // namespace podkit

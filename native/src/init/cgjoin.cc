// See cgjoin.h: the init moves itself into its cgroup v1 hierarchies through `tasks` fds.
#include "init/cgjoin.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace podkit::init {

bool JoinCgroups(const std::vector<int>& tasksFds, Error* e) {
  bool ok = true;
  for (int fd : tasksFds) {
    // The fds come from a root opener: close each at once, none may reach the container.
    if (ok) {
      ssize_t n;
      do {
        n = write(fd, "0", 1);
      } while (n < 0 && errno == EINTR);
      if (n != 1) ok = n < 0 ? e->Sys("write", "joining a cgroup (tasks fd " + std::to_string(fd) + ")") : e->Set("write", "short write to a cgroup tasks file", EIO);
    }
    close(fd);
  }
  return ok;
}

}  // namespace podkit::init

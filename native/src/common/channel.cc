#include "common/channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace podkit {

ssize_t SendWithFds(int sock, const void* data, size_t len, std::span<const int> fds, int flags) {
  if (fds.size() > kMaxFdsPerMessage) {
    errno = EINVAL;
    return -1;
  }
  struct iovec iov = {const_cast<void*>(data), len};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (!fds.empty()) {
    memset(control, 0, sizeof(control));
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t r;
  do {
    r = sendmsg(sock, &mh, flags);
  } while (r < 0 && errno == EINTR);
  return r;
}

ssize_t RecvWithFds(int sock, void* buf, size_t len, std::vector<int>* fds, int* msgFlags) {
  struct iovec iov = {buf, len};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t r;
  do {
    r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return r;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* p = reinterpret_cast<const int*>(CMSG_DATA(cm));
      for (size_t i = 0; i < n; i++) fds->push_back(p[i]);
    }
  }
  if (msgFlags != nullptr) *msgFlags = mh.msg_flags;
  return r;
}

bool ChannelSend(int sock, const std::string& msg, const std::vector<int>& fds, Error* err) {
  if (fds.size() > kChannelMaxFds) return err->Set("sendmsg", "too many descriptors in one message", EINVAL);
  if (msg.size() > kChannelMaxMessage) return err->Set("sendmsg", "message too large", EMSGSIZE);
  size_t off = 0;
  bool first = true;
  std::string buf;
  do {
    size_t n = std::min(kChannelChunk, msg.size() - off);
    bool more = off + n < msg.size();
    buf.assign(1, more ? '\1' : '\0');
    buf.append(msg, off, n);
    // The descriptors ride on the first datagram only.
    std::span<const int> attached = first ? std::span<const int>(fds) : std::span<const int>();
    if (SendWithFds(sock, buf.data(), buf.size(), attached, MSG_NOSIGNAL) < 0) return err->Sys("sendmsg", "sending a protocol message");
    off += n;
    first = false;
  } while (off < msg.size());
  return true;
}

bool ChannelRecv(int sock, std::string* msg, std::vector<int>* fds, bool* eof, Error* err) {
  msg->clear();
  *eof = false;
  std::string buf(kChannelChunk + 1, '\0');
  bool first = true;
  while (true) {
    int flags = 0;
    ssize_t r = RecvWithFds(sock, buf.data(), buf.size(), fds, &flags);
    if (r < 0) return err->Sys("recvmsg", "receiving a protocol message");
    if (r == 0) {
      if (first) {
        *eof = true;
        return true;
      }
      return err->Set("recvmsg", "peer closed the channel in the middle of a message", EPIPE);
    }
    if (flags & MSG_TRUNC) return err->Set("recvmsg", "protocol datagram truncated", EMSGSIZE);
    msg->append(buf.data() + 1, static_cast<size_t>(r) - 1);
    if (msg->size() > kChannelMaxMessage) return err->Set("recvmsg", "message too large", EMSGSIZE);
    first = false;
    if (buf[0] == '\0') return true;
  }
}

}  // namespace podkit

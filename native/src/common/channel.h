// The framing of the plan protocol: JSON messages over a SOCK_SEQPACKET socketpair, with file
// descriptors attached (SCM_RIGHTS). A message larger than one datagram is split: every datagram
// starts with one byte, 1 when more datagrams of the same message follow, 0 on the last one. File
// descriptors ride on the first datagram.
//
// Underneath, the fd passing itself (SendWithFds / RecvWithFds) works on any unix socket, stream or
// datagram: the seccomp listener handed to a listenerPath uses it too (addon/unixfd.cc).
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace podkit {

// At most this many descriptors ride on one sendmsg (the size of the SCM_RIGHTS control buffer).
inline constexpr size_t kMaxFdsPerMessage = 16;

// One sendmsg of `len` bytes with `fds` attached (SCM_RIGHTS; no control message when empty),
// retried on EINTR. Returns the bytes sent (fewer than `len` is possible on a stream socket), or -1
// with errno set (EINVAL for more than kMaxFdsPerMessage descriptors).
ssize_t SendWithFds(int sock, const void* data, size_t len, std::span<const int> fds, int flags = MSG_NOSIGNAL);
// One recvmsg of up to `len` bytes, retried on EINTR. Descriptors that came with the bytes are
// appended to *fds, close-on-exec. Returns the bytes received (0 at EOF), or -1 with errno set;
// *msgFlags (when given) receives msg_flags, e.g. MSG_TRUNC.
ssize_t RecvWithFds(int sock, void* buf, size_t len, std::vector<int>* fds, int* msgFlags = nullptr);

inline constexpr size_t kChannelChunk = 32 * 1024;
inline constexpr size_t kChannelMaxMessage = 16 * 1024 * 1024;
inline constexpr size_t kChannelMaxFds = kMaxFdsPerMessage;

bool ChannelSend(int sock, const std::string& msg, const std::vector<int>& fds, Error* err);
// Receives one message. On orderly EOF before any byte, returns true with *eof set.
// Received descriptors are close-on-exec.
bool ChannelRecv(int sock, std::string* msg, std::vector<int>* fds, bool* eof, Error* err);

}  // namespace podkit

// The framing of the plan protocol: JSON messages over a SOCK_SEQPACKET socketpair, with file
// descriptors attached (SCM_RIGHTS). A message larger than one datagram is split: every datagram
// starts with one byte, 1 when more datagrams of the same message follow, 0 on the last one. File
// descriptors ride on the first datagram.
#pragma once
#include <string>
#include <vector>

#include "common/error.h"

namespace podkit {

inline constexpr size_t kChannelChunk = 32 * 1024;
inline constexpr size_t kChannelMaxMessage = 16 * 1024 * 1024;
inline constexpr size_t kChannelMaxFds = 16;

bool ChannelSend(int sock, const std::string& msg, const std::vector<int>& fds, Error* err);
// Receives one message. On orderly EOF before any byte, returns true with *eof set.
// Received descriptors are close-on-exec.
bool ChannelRecv(int sock, std::string* msg, std::vector<int>* fds, bool* eof, Error* err);

}  // namespace podkit

// Control-message payload bounds. CMSG_NXTHDR stops at the buffer's end,
// but a header's own cmsg_len is taken on trust; this says how many payload
// bytes really lie inside the buffer (found by native/fuzz/records_fuzz.cc).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace ct {

inline size_t CmsgPayload(const struct msghdr* msg, const struct cmsghdr* c) {
  if (c->cmsg_len < CMSG_LEN(0)) return 0;
  const uint8_t* end = static_cast<const uint8_t*>(msg->msg_control) + msg->msg_controllen;
  const uint8_t* data = CMSG_DATA(c);
  if (data > end) return 0;
  size_t claimed = c->cmsg_len - CMSG_LEN(0);
  size_t room = static_cast<size_t>(end - data);
  return claimed < room ? claimed : room;
}

}  // namespace ct

// Kernel packet timestamps: enabling them on a socket and reading them from
// control messages, for both the 64-bit time_t layouts and the old 32-bit
// ones (armhf, qemu-user). Linux only.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace ct {

// Which clock stamped a packet; stored in each record, exported by layout.cc and checked against
// src/native/layouts.ts (StampSource) when the addon loads.
enum StampSource : uint8_t {
  kStampUser = 0,      // clock_gettime right after the syscall returned
  kStampKernelUs = 1,  // SO_TIMESTAMP (microseconds)
  kStampKernelNs = 2,  // SO_TIMESTAMPNS
  kStampKernelTx = 3,  // SO_TIMESTAMPING software TX stamp (error queue)
};

// Turns on RX stamps, nanoseconds first, microseconds if the kernel (or an
// emulator) refuses; returns the source that will stamp received packets.
StampSource EnableRxStamps(int fd);
// Socket-wide SO_TIMESTAMPING reporting options with OPT_ID, so that sends
// which ask for a TX stamp (per-send cmsg, see AppendTxStampRequest) are
// numbered by the kernel in order. False when refused.
bool EnableTxStampIds(int fd);
// Writes a per-send SO_TIMESTAMPING request into a control buffer; returns
// the bytes used (CMSG_SPACE). Unstamped sends leave the ID counter alone.
size_t AppendTxStampRequest(uint8_t* buf, size_t cap);
// Finds an RX stamp in a received message's control data.
bool ParseRxStamp(const struct msghdr* msg, int64_t* ns, StampSource* source);
// Reads up to `max` error-queue messages (recvmmsg): each a TX stamp with its
// OPT_ID key (valid) or another error-queue message (not valid). Returns how
// many were read, or -1 when the queue is empty (errno set).
struct TxStamp {
  uint32_t id = 0;
  int64_t ns = 0;
  bool valid = false;
};
int ReadTxStamps(int fd, TxStamp* out, int max);

}  // namespace ct

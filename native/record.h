// The layout of one received-datagram record in the RX slab that JS reads
// (src/native/udp.ts RECORD): a fixed header, then the datagram bytes.
// Separate from udp_endpoint.h so code without N-API (fuzz targets) can use it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ct {
namespace rec {
constexpr size_t kLen = 0;         // u32 datagram bytes held in the slot
constexpr size_t kFlags = 4;       // u32 bit 0: truncated
constexpr size_t kRxNs = 8;        // i64 RX time, Unix ns
constexpr size_t kPeerAddr = 16;   // 16 bytes (IPv4 in the first 4)
constexpr size_t kPeerPort = 32;   // u16
constexpr size_t kFamily = 34;     // u8 4 or 6
constexpr size_t kSource = 35;     // u8 StampSource
constexpr size_t kScopeId = 36;    // u32
constexpr size_t kIfIndex = 40;    // u32 receiving interface (0 unknown)
constexpr size_t kLocalAddr = 44;  // 16 bytes: the address the datagram was sent to
constexpr size_t kHeader = 64;
constexpr uint32_t kFlagTruncated = 1;
}  // namespace rec
}  // namespace ct

// Network byte order (big-endian) loads and stores for the packet code:
// NTP headers, extension fields, NTS records. Byte by byte, so any alignment
// and any host order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ct {

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint64_t Get64(const uint8_t* p) {
  return (static_cast<uint64_t>(Get32(p)) << 32) | Get32(p + 4);
}
// Put16 takes a size_t: it mostly stores lengths (the caller keeps them below 2^16).
inline void Put16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
inline void Put64(uint8_t* p, uint64_t v) {
  Put32(p, static_cast<uint32_t>(v >> 32));
  Put32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace ct

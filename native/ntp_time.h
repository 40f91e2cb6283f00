// NTP fixed-point time, defined once for the native side. The TypeScript
// reference in src/ntp/time.ts defines the same functions with BigInt; the
// tests compare the two bit for bit. Only 64-bit integer arithmetic is used
// (no __int128), so 32-bit ARM computes exactly what x86-64 does.
#pragma once

#include <cstdint>

namespace ct {

// Seconds from 1900-01-01 (NTP prime epoch) to 1970-01-01 (Unix epoch).
constexpr int64_t kNtpUnixDeltaS = 2208988800LL;
constexpr int64_t kNsPerS = 1000000000LL;
constexpr int64_t kEraS = 4294967296LL;  // 2^32 seconds per NTP era
// Decoded "unset" timestamp (NTP value 0, RFC 5905 §7.3) in batch outputs.
constexpr int64_t kUnsetNs = INT64_MIN;
// Default pivot: the era 0 -> 1 boundary, 2036-02-07T06:28:16Z. With it a
// timestamp decodes into [1968-01-20T03:14:08Z, 2104-02-26T09:42:24Z), the
// rule of RFC 4330 §3 (bit 0 set: era 0; clear: era 1). 1970 factory dates
// of RTC-less boards stay representable.
constexpr int64_t kDefaultPivotNs = (kEraS - kNtpUnixDeltaS) * kNsPerS;

// Floor division and modulo for a positive divisor.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t FloorMod(int64_t a, int64_t b) {
  int64_t r = a % b;  // never overflows, unlike a - FloorDiv(a, b) * b at the ends of the range
  return (r != 0 && (r < 0) != (b < 0)) ? r + b : r;
}

// Nanoseconds [0, 1e9) -> 32-bit binary fraction, rounded to nearest
// (ties up). Never reaches 2^32: 999999999 ns rounds to 0xFFFFFFFC.
inline uint32_t NsToFrac32(int64_t ns) {
  return static_cast<uint32_t>((static_cast<uint64_t>(ns) * 4294967296ULL + 500000000ULL) /
                               1000000000ULL);
}
// 32-bit fraction -> nanoseconds, rounded to nearest (ties up); may be 1e9.
inline int64_t Frac32ToNs(uint32_t frac) {
  return static_cast<int64_t>((static_cast<uint64_t>(frac) * 1000000000ULL + 2147483648ULL) >> 32);
}

// Unix ns -> NTP 64-bit timestamp (RFC 5905 §6: 32-bit seconds, 32-bit
// fraction; the era number is not carried). An instant that would encode
// as 0 (the 1900 and 2036 era starts) is sent as 1, because 0 means "unset".
inline uint64_t UnixNsToNtp64(int64_t unix_ns) {
  int64_t s = FloorDiv(unix_ns, kNsPerS);
  int64_t rem = FloorMod(unix_ns, kNsPerS);  // not unix_ns - s * 1e9: that overflows at INT64_MIN
  uint64_t secs = static_cast<uint64_t>(FloorMod(s + kNtpUnixDeltaS, kEraS));
  uint64_t v = (secs << 32) + NsToFrac32(rem);
  return v == 0 ? 1 : v;
}

// NTP 64-bit timestamp -> Unix ns: the instant whose seconds lie in
// [pivot - 2^31 s, pivot + 2^31 s). Returns kUnsetNs for 0.
inline int64_t Ntp64ToUnixNs(uint64_t ntp, int64_t pivot_ns) {
  if (ntp == 0) return kUnsetNs;
  int64_t low_s = FloorDiv(pivot_ns, kNsPerS) - 2147483648LL;
  int64_t base_s = static_cast<int64_t>(ntp >> 32) - kNtpUnixDeltaS;
  int64_t unix_s = low_s + FloorMod(base_s - low_s, kEraS);
  return unix_s * kNsPerS + Frac32ToNs(static_cast<uint32_t>(ntp));
}

// Signed duration ns -> signed 32.32 (two's complement, RFC 5905 §6 time
// differences). Wraps modulo 2^64 like the protocol's own arithmetic.
inline uint64_t DurationNsToNtp64(int64_t ns) {
  int64_t s = FloorDiv(ns, kNsPerS);
  int64_t rem = FloorMod(ns, kNsPerS);
  return (static_cast<uint64_t>(s) << 32) + NsToFrac32(rem);
}
inline int64_t Ntp64ToDurationNs(uint64_t v) {
  int64_t s = static_cast<int64_t>(v) >> 32;  // arithmetic shift: sign kept
  return s * kNsPerS + Frac32ToNs(static_cast<uint32_t>(v));
}

// NTP short format (unsigned 16.16, RFC 5905 §6; root delay/dispersion).
// Negative -> 0; beyond 65535.99998 s saturates at 0xFFFFFFFF.
inline uint32_t NsToNtpShort(int64_t ns) {
  if (ns <= 0) return 0;
  if (ns >= 65536LL * kNsPerS) return 0xFFFFFFFFu;
  int64_t s = ns / kNsPerS;
  int64_t rem = ns - s * kNsPerS;
  uint64_t frac16 = (static_cast<uint64_t>(rem) * 65536ULL + 500000000ULL) / 1000000000ULL;
  uint64_t v = (static_cast<uint64_t>(s) << 16) + frac16;
  return v > 0xFFFFFFFFULL ? 0xFFFFFFFFu : static_cast<uint32_t>(v);
}
inline int64_t NtpShortToNs(uint32_t v) {
  int64_t s = v >> 16;
  int64_t frac_ns = static_cast<int64_t>(((v & 0xFFFFULL) * 1000000000ULL + 32768ULL) >> 16);
  return s * kNsPerS + frac_ns;
}

}  // namespace ct

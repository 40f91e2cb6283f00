// libFuzzer target: NTP 64-bit fixed point <-> Unix ns (native/ntp_time.h).
// Properties: a Unix time within ±68 years of the pivot survives the round
// trip within 1 ns; durations round-trip within 1 ns; the short format
// saturates instead of wrapping; no input at all reaches undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../ntp_time.h"

using namespace ct;

namespace {
void Require(bool ok) {
  if (!ok) __builtin_trap();
}
int64_t Abs(int64_t v) { return v < 0 ? -v : v; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 24) return 0;
  int64_t a, pivot;
  uint64_t raw;
  std::memcpy(&a, data, 8);
  std::memcpy(&pivot, data + 8, 8);
  std::memcpy(&raw, data + 16, 8);
  // Any int64 at all: no undefined behaviour, whatever the result (found: INT64_MIN overflowed).
  UnixNsToNtp64(a);
  DurationNsToNtp64(a);
  NsToNtpShort(a);
  // Keep inputs where the maths is defined: within ±2^62 ns (±146 years of 1970).
  a >>= 2;
  pivot >>= 2;
  const int64_t half_era_ns = 2147483647LL * kNsPerS;
  if (Abs(a - pivot) < half_era_ns) {
    int64_t back = Ntp64ToUnixNs(UnixNsToNtp64(a), pivot);
    Require(back == kUnsetNs || Abs(back - a) <= 1);
  }
  int64_t d = a % (half_era_ns);
  Require(Abs(Ntp64ToDurationNs(DurationNsToNtp64(d)) - d) <= 1);
  uint32_t s = NsToNtpShort(a);
  if (a <= 0) Require(s == 0);
  if (a >= 65536LL * kNsPerS) Require(s == 0xFFFFFFFFu);
  if (a > 0 && a < 65535LL * kNsPerS)
    Require(Abs(NtpShortToNs(s) - a) <= 15259);  // half a 2^-16 s step
  Ntp64ToUnixNs(raw, pivot);                     // any wire value decodes
  return 0;
}

// The native NTP server's decision for one datagram: answer it (mode 3 ->
// 4, mode 1 -> 2), answer with a Kiss-o'-Death, hand it to JS (the slow
// path: replies to our own client, broadcasts), or drop it and count why.
// No N-API here: bytes in, bytes out, so a fuzzer can drive it directly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "access.h"
#include "ntp_mac.h"
#include "server_state.h"

namespace ct {

// Counter slots, in the order src/native/server.ts names them.
enum Counter : int {
  kReceived = 0,
  kAnswered,
  kSlowPath,
  kDropMalformed,
  kDropUnsupportedMode,
  kDropDenied,
  kDropRateLimited,
  kDropBadMac,
  kDropUnauthenticated,
  kKodRate,
  kKodDeny,
  kDropTruncated,
  kSendErrors,
  kCounterCount
};

// The counters' names, exported with the layouts (layout.cc) for JS to check its own against.
constexpr const char* kCounterNames[] = {
    "received",   "answered",        "slowPath",   "dropMalformed",       "dropUnsupportedMode",
    "dropDenied", "dropRateLimited", "dropBadMac", "dropUnauthenticated", "kodRate",
    "kodDeny",    "dropTruncated",   "sendErrors"};
static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == kCounterCount,
              "a counter without a name");

enum class Verdict { kAnswer, kSlowPath, kDrop };

// Largest response: header + MAC with a 64-byte digest.
constexpr size_t kMaxResponse = 48 + 4 + 64;

// What Finish() needs to complete a response once its transmit time is known.
struct PendingResponse {
  size_t len = 48;
  const NtpKey* key = nullptr;  // sign with this key...
  uint32_t key_id = 0;
  size_t digest_len = 0;  // ...cutting the digest to this length
};

struct ResponderConfig {
  bool deny_kod = true;       // denied clients get a DENY KoD (rationed) instead of silence
  bool require_auth = false;  // drop requests without a valid MAC
};

class Responder {
 public:
  Responder() = default;

  ServerState state;  // read freely; write through SetState
  AccessList access;
  RateLimiter limiter;
  KeyTable keys;
  ResponderConfig config;

  // Judges one datagram. On kAnswer, `out` holds the response with every
  // field but the transmit timestamp, and `pending` says how to finish it.
  Verdict Handle(const uint8_t* req, size_t len, bool truncated, const uint8_t addr16[16],
                 int64_t rx_node_ns, double now_s, uint8_t* out, PendingResponse* pending,
                 uint64_t* counters);

  // Writes the transmit timestamp and the MAC (which covers it).
  void Finish(uint8_t* out, const PendingResponse& pending, uint64_t tx_ntp) const;

  // Replaces the state, with what every answer derives from it worked out once.
  void SetState(const ServerState& s);

 private:
  uint64_t reference_ntp_ = 0;  // state.reference_ns on the wire, converted once
};

}  // namespace ct

// The native NTP server's decision for one datagram: answer it (mode 3 ->
// 4, mode 1 -> 2), answer with a Kiss-o'-Death, hand it to JS (the slow
// path: replies to our own client, broadcasts), or drop it and count why.
// No N-API here: bytes in, bytes out, so a fuzzer can drive it directly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "access.h"
#include "interleave.h"
#include "ntp_mac.h"
#include "nts_server.h"
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
  kAnsweredInterleaved,  // answers that carried an earlier reply's kernel TX stamp (RFC 9769)
  kAnsweredNts,          // answers authenticated with NTS (RFC 8915), fresh cookies inside
  kNtsNak,               // NTS NAKs: a cookie we cannot open or an authenticator that fails
  kDropNts,              // NTS fields that make no sense (no identifier, two cookies, ...)
  kCounterCount
};

// The counters' names, exported with the layouts (layout.cc) for JS to check its own against.
constexpr const char* kCounterNames[] = {
    "received",   "answered",        "slowPath",   "dropMalformed",       "dropUnsupportedMode",
    "dropDenied", "dropRateLimited", "dropBadMac", "dropUnauthenticated", "kodRate",
    "kodDeny",    "dropTruncated",   "sendErrors", "answeredInterleaved", "answeredNts",
    "ntsNak",     "dropNts"};
static_assert(sizeof(kCounterNames) / sizeof(kCounterNames[0]) == kCounterCount,
              "a counter without a name");

enum class Verdict { kAnswer, kSlowPath, kDrop };

// Largest response: an NTS answer with 8 cookies after a unique identifier of up to 244 bytes
// (a MAC'd answer is 48 + 4 + 64). 1232 bytes fit an IPv6 datagram in the minimum MTU.
constexpr size_t kMaxResponse = 1232;

// What Finish() needs to complete a response once its transmit time is known.
struct PendingResponse {
  size_t len = 48;
  const NtpKey* key = nullptr;  // sign with this key...
  uint32_t key_id = 0;
  size_t digest_len = 0;  // ...cutting the digest to this length
  // Interleaved mode (RFC 9769): nonzero when this reply's kernel TX stamp is to be kept under
  // this RX key (the request asked in interleaved form) for the client's next request...
  uint64_t rx_key = 0;
  uint32_t peer_hash = 0;
  // ...and nonzero when the reply is interleaved: its transmit is an earlier reply's TX stamp.
  uint64_t tx_interleaved = 0;
  NtsPending nts;  // an NTS answer, sealed in Finish
};

// A cheap hash of a peer address, so one client's interleaved stamps are never served to another.
uint32_t PeerHash(const uint8_t addr16[16]);

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
  InterleaveTable interleave;  // empty (off) until sized
  NtsServer nts;               // off until given master keys

  // Judges one datagram. On kAnswer, `out` holds the response with every
  // field but the transmit timestamp, and `pending` says how to finish it.
  Verdict Handle(const uint8_t* req, size_t len, bool truncated, const uint8_t addr16[16],
                 int64_t rx_node_ns, double now_s, uint8_t* out, PendingResponse* pending,
                 uint64_t* counters);

  // Writes the transmit timestamp and the MAC or NTS authenticator (which covers it). False
  // when the answer cannot be sealed (OpenSSL failed): it must not be sent.
  bool Finish(uint8_t* out, const PendingResponse& pending, uint64_t tx_ntp);

  // Replaces the state, with what every answer derives from it worked out once. A new step
  // epoch flushes the interleave table: stamps from before a step are on another time line.
  void SetState(const ServerState& s);

 private:
  uint64_t reference_ntp_ = 0;  // state.reference_ns on the wire, converted once
  uint32_t step_epoch_ = 0;
};

}  // namespace ct

// NTS for the native responder (RFC 8915 §5): a request's unique identifier,
// cookie, placeholders and authenticator checked, and its answer's fresh
// cookies sealed inside an authenticator under S2C, all in C++. The cookie
// format is src/ntp/nts.ts's CookieJar (the NTS-KE server makes cookies in
// TypeScript, this opens them): key id (4) ‖ nonce (16) ‖ AES-SIV(master
// key, AD = key id, nonce, AEAD id (2) ‖ reserved (2) ‖ C2S ‖ S2C). No N-API.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nts_aead.h"

namespace ct {

constexpr size_t kNtsMasterKeys =
    3;  // the current one and two old ones (a cookie outlives two rotations)
constexpr size_t kNtsCookieBytes = 4 + 16 + kSivTagBytes + 68;
constexpr size_t kNtsMaxCookies = 8;

struct NtsMasterKey {
  uint32_t id;
  uint8_t key[kSivKeyBytes];
};

enum class NtsVerdict {
  kPlain,  // no cookie: not an NTS request
  kNts,    // authenticated: answer it, sealing `cookies` new ones
  kNak,    // a cookie we cannot open, or an authenticator that fails: NTS NAK (§5.7)
  kDrop,   // NTS fields that make no sense (no identifier, two cookies, no authenticator last...)
};

// What Finish needs to seal an NTS answer once its transmit time is written:
// the fresh cookies are already in place, as the plaintext to seal.
struct NtsPending {
  uint8_t s2c[kSivKeyBytes];
  uint16_t ad_len = 0;     // header + the unique identifier echoed: what the authenticator covers
  uint16_t plain_len = 0;  // the cookie fields; 0: not an NTS answer
};

// Nonces for cookies and authenticators: AES-128-CTR under a key drawn from
// OpenSSL's RAND_bytes, redrawn every 2^20 blocks. RAND_bytes per answer cost
// more than the answer's AES (its DRBG re-keys and checks for a fork each call).
class NonceSource {
 public:
  bool Fill(uint8_t* out, size_t n);

 private:
  Aes128 aes_;
  uint8_t counter_[16] = {};
  uint32_t left_ = 0;  // blocks before the next draw
};

class NtsServer {
 public:
  // Newest first; at most kNtsMasterKeys are kept. Zero keys turn NTS off:
  // requests with NTS fields are then answered as plain NTP (their fields ignored).
  void SetKeys(const NtsMasterKey* keys, size_t n);
  bool enabled() const { return n_keys_ > 0; }

  // Judges the extension fields in req[48, ef_end) (already checked as fields, RFC 7822);
  // has_mac: a MAC follows them. On kNts and kNak the unique identifier is echoed at out + 48
  // and *out_len is the answer's length (kNak: complete; kNts: once sealed); on kNts the fresh
  // cookies are made and laid where the authenticator's plaintext goes, and `pending` says
  // what to seal. `room`: the answer's buffer size.
  NtsVerdict Check(const uint8_t* req, size_t ef_end, bool has_mac, uint8_t* out, size_t room,
                   size_t* out_len, NtsPending* pending);

  // Completes the authenticator once the header is final: a fresh nonce, and the cookies
  // sealed in place under S2C over out[0, ad_len). False when OpenSSL fails (then the
  // answer must not be sent).
  bool Seal(uint8_t* out, const NtsPending& pending);

  // What an answer sealing n cookies after an identifier of uid_len bytes takes.
  static size_t AnswerBytes(size_t uid_len, size_t n) {
    return 48 + 4 + uid_len + 4 + 4 + 16 + kSivTagBytes + n * (4 + kNtsCookieBytes);
  }

 private:
  bool OpenCookie(const uint8_t* cookie, uint8_t c2s[kSivKeyBytes], uint8_t s2c[kSivKeyBytes]);
  bool MakeCookies(const uint8_t c2s[kSivKeyBytes], const uint8_t s2c[kSivKeyBytes], size_t n,
                   uint8_t* out);

  SivKey master_[kNtsMasterKeys];
  uint32_t ids_[kNtsMasterKeys] = {};
  size_t n_keys_ = 0;
  SivKey session_;  // re-keyed per request: C2S to check, S2C to seal
  NonceSource nonces_;
  uint8_t scratch_[2048 + 64] = {};  // a request authenticator's plaintext (ignored, but opened)
};

}  // namespace ct

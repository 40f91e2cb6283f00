// AEAD_AES_SIV_CMAC_256 (RFC 5297, as RFC 5116 names it), the AEAD that
// NTS (RFC 8915 §5.1) requires, built on AES-128 blocks (aes128.h: the CPU's
// AES instructions, else the OpenSSL that Node exports). Node's crypto does
// not offer SIV; why not OpenSSL's own SIV is in nts_aead.cc. The associated data is a vector of
// components; NTS passes two, the associated data then the nonce (RFC 5116
// §5.1.1 framing, as RFC 8915 §5.6 uses it). The first 16 bytes of the key
// are the MAC key, the last 16 the CTR key (RFC 5297 §2.6). No N-API here,
// so the responder and its fuzzer use it directly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aes128.h"

namespace ct {

constexpr size_t kSivKeyBytes = 32;
constexpr size_t kSivTagBytes = 16;

// One component of SIV's vector of associated data (RFC 5297 §2.4).
struct SivPart {
  const uint8_t* data;
  size_t len;
};

// One key, expanded once: the server keeps one per master key and re-keys one
// per request for C2S and S2C (an AES key schedule, not a context, each time).
// Not thread-safe: each server thread has its own.
class SivKey {
 public:
  SivKey() = default;
  SivKey(const SivKey&) = delete;
  SivKey& operator=(const SivKey&) = delete;

  // False when OpenSSL fails (then every Seal and Open fails too).
  bool Set(const uint8_t key[kSivKeyBytes]);

  // out: tag (16) then ciphertext (len bytes); room for len + 16. In place when plain is out + 16.
  bool Seal(const SivPart* parts, size_t n_parts, const uint8_t* plain, size_t len, uint8_t* out);

  // sealed: tag then ciphertext (sealed_len ≥ 16); plain gets sealed_len − 16
  // bytes. False when the tag does not verify (plain is zeroed then).
  bool Open(const SivPart* parts, size_t n_parts, const uint8_t* sealed, size_t sealed_len,
            uint8_t* plain);

 private:
  size_t LastBlock(const uint8_t* m, size_t len, uint8_t last[16]) const;
  void Cmac(const uint8_t* m, size_t len, uint8_t out[16]);
  void S2v(const SivPart* parts, size_t n_parts, const uint8_t* text, size_t len, uint8_t v[16]);
  void Ctr(const uint8_t v[16], const uint8_t* in, size_t len, uint8_t* out);

  Aes128 mac_;  // under the MAC key: CMAC is a CBC-MAC (RFC 4493)
  Aes128 ctr_;  // under the CTR key
  uint8_t k1_[16] = {}, k2_[16] = {}, d0_[16] = {};  // CMAC subkeys; S2V's CMAC(zero)
  bool ok_ = false;
};

// One-shot forms (a key used once: the JS bindings, tests).
bool SivSeal(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* plain,
             size_t len, uint8_t* out);
bool SivOpen(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* sealed,
             size_t sealed_len, uint8_t* plain);

}  // namespace ct

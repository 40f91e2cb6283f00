// AEAD_AES_SIV_CMAC_256 (RFC 5297, as RFC 5116 names it), the AEAD that
// NTS (RFC 8915 §5.1) requires, from the AES-CMAC and AES-CTR of the OpenSSL
// that Node itself exports (Node's crypto does not offer SIV; why not
// OpenSSL's own SIV is in nts_aead.cc). The associated data is a vector of
// components; NTS passes two, the associated data then the nonce (RFC 5116
// §5.1.1 framing, as RFC 8915 §5.6 uses it). The first 16 bytes of the key
// are the MAC key, the last 16 the CTR key (RFC 5297 §2.6).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ct {

constexpr size_t kSivKeyBytes = 32;
constexpr size_t kSivTagBytes = 16;

// One component of SIV's vector of associated data (RFC 5297 §2.4).
struct SivPart {
  const uint8_t* data;
  size_t len;
};

// out: tag (16) then ciphertext (len bytes); room for len + 16. False on failure.
bool SivSeal(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* plain,
             size_t len, uint8_t* out);

// sealed: tag then ciphertext (sealed_len ≥ 16); plain gets sealed_len − 16
// bytes. False when the tag does not verify (nothing is trusted then).
bool SivOpen(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* sealed,
             size_t sealed_len, uint8_t* plain);

}  // namespace ct

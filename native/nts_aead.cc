#include "nts_aead.h"

#include <openssl/evp.h>

#include <cstring>

namespace ct {
namespace {

// SIV (RFC 5297) built from OpenSSL's AES-CBC (for CMAC) and AES-CTR.
// OpenSSL 3 has "AES-128-SIV", but through EVP_CipherUpdate it skips
// zero-length inputs: sealing failed for an empty text (NTS requests carry
// none) and for an empty component of the associated data. The contexts are
// made once per SivKey and re-keyed or re-IVed in place: a context made and
// fetched per call cost more than the AES itself.
constexpr size_t kBlock = 16;
using Block = uint8_t[kBlock];
const Block kZero = {};

// Doubling in GF(2^128) (RFC 5297 §2.3, RFC 4493 §2.3).
void Dbl(Block d) {
  uint8_t carry = d[0] >> 7;
  for (size_t i = 0; i < kBlock - 1; i++)
    d[i] = static_cast<uint8_t>((d[i] << 1) | (d[i + 1] >> 7));
  d[kBlock - 1] = static_cast<uint8_t>((d[kBlock - 1] << 1) ^ (carry ? 0x87 : 0));
}

void Xor(Block d, const uint8_t* s) {
  for (size_t j = 0; j < kBlock; j++) d[j] ^= s[j];
}

}  // namespace

SivKey::SivKey() : mac_(EVP_CIPHER_CTX_new()), ctr_(EVP_CIPHER_CTX_new()) {
  ok_ = mac_ && ctr_ &&
        EVP_EncryptInit_ex(mac_, EVP_aes_128_cbc(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_set_padding(mac_, 0) == 1 &&
        EVP_EncryptInit_ex(ctr_, EVP_aes_128_ctr(), nullptr, nullptr, nullptr) == 1;
}

SivKey::~SivKey() {
  EVP_CIPHER_CTX_free(mac_);
  EVP_CIPHER_CTX_free(ctr_);
}

uint8_t* SivKey::Scratch(size_t len) {
  if (scratch_.size() < len) scratch_.resize(len);
  return scratch_.data();
}

bool SivKey::Set(const uint8_t key[kSivKeyBytes]) {
  if (!mac_ || !ctr_) return ok_ = false;
  Block l;
  int n = 0;
  ok_ = EVP_EncryptInit_ex(mac_, nullptr, nullptr, key, kZero) == 1 &&
        EVP_EncryptUpdate(mac_, l, &n, kZero, kBlock) == 1 && n == kBlock &&
        EVP_EncryptInit_ex(ctr_, nullptr, nullptr, key + kBlock, nullptr) == 1;
  if (!ok_) return false;
  // CMAC's subkeys (RFC 4493 §2.3): K1 = dbl(E(0)), K2 = dbl(K1).
  std::memcpy(k1_, l, kBlock);
  Dbl(k1_);
  std::memcpy(k2_, k1_, kBlock);
  Dbl(k2_);
  // S2V starts from CMAC(zero block) (RFC 5297 §2.4), the same for every text under this key.
  return ok_ = Cmac(kZero, kBlock, d0_);
}

// AES-CMAC (RFC 4493): CBC-MAC from a zero IV, the last block xored with K1
// when whole and with K2 once padded.
bool SivKey::Cmac(const uint8_t* m, size_t len, uint8_t out[16]) {
  size_t full = len == 0 ? 0 : (len - 1) / kBlock * kBlock;  // the blocks before the last
  size_t rest = len - full;                                  // 1..16, or 0 for an empty text
  Block last;
  if (rest == kBlock) {
    std::memcpy(last, m + full, kBlock);
    Xor(last, k1_);
  } else {
    std::memset(last, 0, kBlock);
    std::memcpy(last, m + full, rest);
    last[rest] = 0x80;
    Xor(last, k2_);
  }
  uint8_t* sink = Scratch(full + kBlock);
  int n = 0;
  if (EVP_EncryptInit_ex(mac_, nullptr, nullptr, nullptr, kZero) != 1) return false;
  if (full > 0 && EVP_EncryptUpdate(mac_, sink, &n, m, static_cast<int>(full)) != 1) return false;
  if (EVP_EncryptUpdate(mac_, sink, &n, last, kBlock) != 1 || n != kBlock) return false;
  std::memcpy(out, sink, kBlock);
  return true;
}

// S2V (RFC 5297 §2.4) over the components then the text; v gets the synthetic IV.
bool SivKey::S2v(const SivPart* parts, size_t n_parts, const uint8_t* text, size_t len,
                 uint8_t v[16]) {
  Block d, t;
  std::memcpy(d, d0_, kBlock);
  for (size_t i = 0; i < n_parts; i++) {
    if (!Cmac(parts[i].data, parts[i].len, t)) return false;
    Dbl(d);
    Xor(d, t);
  }
  if (len >= kBlock) {
    // T = text xorend D: D goes into a copy's last block (the copy sits past CMAC's sink).
    size_t at = len + kBlock;
    uint8_t* copy = Scratch(at + len) + at;
    std::memcpy(copy, text, len);
    Xor(copy + len - kBlock, d);
    return Cmac(copy, len, v);
  }
  Dbl(d);
  for (size_t j = 0; j < kBlock; j++) t[j] = d[j] ^ (j < len ? text[j] : j == len ? 0x80 : 0);
  return Cmac(t, kBlock, v);
}

// AES-CTR under the CTR key from Q = V with bits 63 and 31 cleared (§2.6).
bool SivKey::Ctr(const uint8_t v[16], const uint8_t* in, size_t len, uint8_t* out) {
  if (len == 0) return true;
  Block q;
  std::memcpy(q, v, kBlock);
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  int n = 0;
  return EVP_EncryptInit_ex(ctr_, nullptr, nullptr, nullptr, q) == 1 &&
         EVP_EncryptUpdate(ctr_, out, &n, in, static_cast<int>(len)) == 1 &&
         static_cast<size_t>(n) == len;
}

bool SivKey::Seal(const SivPart* parts, size_t n_parts, const uint8_t* plain, size_t len,
                  uint8_t* out) {
  return ok_ && S2v(parts, n_parts, plain, len, out) && Ctr(out, plain, len, out + kSivTagBytes);
}

bool SivKey::Open(const SivPart* parts, size_t n_parts, const uint8_t* sealed, size_t sealed_len,
                  uint8_t* plain) {
  size_t len = sealed_len - kSivTagBytes;
  Block v = {};
  bool ok =
      ok_ && Ctr(sealed, sealed + kSivTagBytes, len, plain) && S2v(parts, n_parts, plain, len, v);
  uint8_t diff = ok ? 0 : 1;  // constant time
  for (size_t j = 0; j < kBlock; j++) diff |= v[j] ^ sealed[j];
  if (diff == 0) return true;
  if (len > 0) std::memset(plain, 0, len);  // a forgery's text is never handed on
  return false;
}

bool SivSeal(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* plain,
             size_t len, uint8_t* out) {
  SivKey k;
  return k.Set(key) && k.Seal(parts, n_parts, plain, len, out);
}

bool SivOpen(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* sealed,
             size_t sealed_len, uint8_t* plain) {
  SivKey k;
  if (k.Set(key)) return k.Open(parts, n_parts, sealed, sealed_len, plain);
  if (sealed_len > kSivTagBytes) std::memset(plain, 0, sealed_len - kSivTagBytes);
  return false;
}

}  // namespace ct

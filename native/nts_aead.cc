#include "nts_aead.h"

#include <cstring>

namespace ct {
namespace {

// SIV (RFC 5297) built from AES-128 blocks: CMAC for S2V, CTR for the text.
// OpenSSL 3 has "AES-128-SIV", but through EVP_CipherUpdate it skips
// zero-length inputs: sealing failed for an empty text (NTS requests carry
// none) and for an empty component of the associated data.
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

bool SivKey::Set(const uint8_t key[kSivKeyBytes]) {
  ok_ = mac_.Set(key) && ctr_.Set(key + kBlock);
  if (!ok_) return false;
  // CMAC's subkeys (RFC 4493 §2.3): K1 = dbl(E(0)), K2 = dbl(K1).
  mac_.Encrypt(kZero, k1_);
  Dbl(k1_);
  std::memcpy(k2_, k1_, kBlock);
  Dbl(k2_);
  // S2V starts from CMAC(zero block) (RFC 5297 §2.4), the same for every text under this key.
  Cmac(kZero, kBlock, d0_);
  return true;
}

// AES-CMAC's last block (RFC 4493 §2.4): the message's last 16 bytes xored with K1 when
// whole, else padded (10*) and xored with K2. Returns how many whole blocks come before it.
size_t SivKey::LastBlock(const uint8_t* m, size_t len, uint8_t last[16]) const {
  size_t full = len == 0 ? 0 : (len - 1) / kBlock;
  size_t rest = len - full * kBlock;  // 1..16, or 0 for an empty message
  std::memset(last, 0, kBlock);
  if (rest > 0)
    std::memcpy(last, m + full * kBlock, rest);  // an empty message may have no buffer at all
  if (rest == kBlock) {
    Xor(last, k1_);
  } else {
    last[rest] = 0x80;
    Xor(last, k2_);
  }
  return full;
}

void SivKey::Cmac(const uint8_t* m, size_t len, uint8_t out[16]) {
  Block last;
  size_t full = LastBlock(m, len, last);
  std::memset(out, 0, kBlock);
  mac_.Chain(out, m, full);
  mac_.Chain(out, last, 1);
}

// S2V (RFC 5297 §2.4) over the components then the text; v gets the synthetic IV. The
// components' CMACs, and the text's blocks before the 16 bytes D is xored into, do not depend
// on one another: they run as parallel chains (Aes128::ChainMany), three components at a time
// beside the text.
void SivKey::S2v(const SivPart* parts, size_t n_parts, const uint8_t* text, size_t len,
                 uint8_t v[16]) {
  Block d, text_state = {};
  std::memcpy(d, d0_, kBlock);
  size_t text_pre = len >= kBlock ? (len - kBlock) / kBlock : 0;  // blocks D never touches
  bool text_chained = text_pre == 0;
  size_t i = 0;
  do {
    Block state[Aes128::kMaxLanes], last[Aes128::kMaxLanes];
    AesLane lanes[Aes128::kMaxLanes] = {};
    int k = 0;
    for (; i < n_parts && k < Aes128::kMaxLanes - 1; i++, k++) {
      std::memset(state[k], 0, kBlock);
      lanes[k] = {state[k], parts[i].data, LastBlock(parts[i].data, parts[i].len, last[k])};
    }
    int n = k;
    if (!text_chained) lanes[k++] = {text_state, text, text_pre};
    text_chained = true;
    mac_.ChainMany(lanes, k);
    for (int j = 0; j < n; j++) lanes[j] = {state[j], last[j], 1};
    mac_.ChainMany(lanes, n);
    for (int j = 0; j < n; j++) {
      Dbl(d);
      Xor(d, state[j]);
    }
  } while (i < n_parts);
  if (len >= kBlock) {
    // T = text xorend D: D goes into the last 16 bytes, which lie in the text's last one or two
    // blocks.
    Block tail[2], l;
    size_t tail_len = len - text_pre * kBlock;  // 16..31
    std::memcpy(tail, text + text_pre * kBlock, tail_len);
    Xor(reinterpret_cast<uint8_t*>(tail) + tail_len - kBlock, d);
    size_t full = LastBlock(reinterpret_cast<uint8_t*>(tail), tail_len, l);
    std::memcpy(v, text_state, kBlock);
    mac_.Chain(v, reinterpret_cast<uint8_t*>(tail), full);
    mac_.Chain(v, l, 1);
    return;
  }
  Block t;
  Dbl(d);
  for (size_t j = 0; j < kBlock; j++) t[j] = d[j] ^ (j < len ? text[j] : j == len ? 0x80 : 0);
  Cmac(t, kBlock, v);
}

// AES-CTR under the CTR key from Q = V with bits 63 and 31 cleared (§2.6).
void SivKey::Ctr(const uint8_t v[16], const uint8_t* in, size_t len, uint8_t* out) {
  Block q;
  std::memcpy(q, v, kBlock);
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  ctr_.Ctr(q, in, len, out);
}

bool SivKey::Seal(const SivPart* parts, size_t n_parts, const uint8_t* plain, size_t len,
                  uint8_t* out) {
  if (!ok_) return false;
  S2v(parts, n_parts, plain, len, out);
  Ctr(out, plain, len, out + kSivTagBytes);
  return true;
}

bool SivKey::Open(const SivPart* parts, size_t n_parts, const uint8_t* sealed, size_t sealed_len,
                  uint8_t* plain) {
  size_t len = sealed_len - kSivTagBytes;
  Block v = {};
  uint8_t diff = 1;
  if (ok_) {
    Ctr(sealed, sealed + kSivTagBytes, len, plain);
    S2v(parts, n_parts, plain, len, v);
    diff = 0;  // constant time
    for (size_t j = 0; j < kBlock; j++) diff |= v[j] ^ sealed[j];
  }
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

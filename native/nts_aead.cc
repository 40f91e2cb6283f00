#include "nts_aead.h"

#include <napi.h>
#include <openssl/cmac.h>
#include <openssl/evp.h>

#include <vector>

namespace ct {
namespace {

// SIV (RFC 5297) built from OpenSSL's AES-CMAC and AES-CTR. OpenSSL 3 has
// "AES-128-SIV", but through EVP_CipherUpdate it skips zero-length inputs:
// sealing failed for an empty text (NTS requests carry none) and for an
// empty component of the associated data.
constexpr size_t kBlock = 16;
using Block = uint8_t[kBlock];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// CMAC_* is deprecated in OpenSSL 3 for EVP_MAC, but every Node build exports it (ntp_mac.cc too).
// One CMAC of a ‖ b under the key the context was set up with (re-initialised
// with no key, OpenSSL keeps the key schedule: S2V runs 3 or more CMACs).
bool Cmac(CMAC_CTX* ctx, const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len,
          uint8_t* out) {
  size_t n = 0;
  return CMAC_Init(ctx, nullptr, 0, nullptr, nullptr) == 1 && CMAC_Update(ctx, a, a_len) == 1 &&
         (b_len == 0 || CMAC_Update(ctx, b, b_len) == 1) && CMAC_Final(ctx, out, &n) == 1 &&
         n == kBlock;
}

// Doubling in GF(2^128) (RFC 5297 §2.3).
void Dbl(Block d) {
  uint8_t carry = d[0] >> 7;
  for (size_t i = 0; i < kBlock - 1; i++)
    d[i] = static_cast<uint8_t>((d[i] << 1) | (d[i + 1] >> 7));
  d[kBlock - 1] = static_cast<uint8_t>((d[kBlock - 1] << 1) ^ (carry ? 0x87 : 0));
}

// S2V (RFC 5297 §2.4) over the components then the text; v gets the synthetic IV.
bool S2v(const uint8_t* mac_key, const SivPart* parts, size_t n_parts, const uint8_t* text,
         size_t len, Block v) {
  CMAC_CTX* ctx = CMAC_CTX_new();
  if (!ctx) return false;
  Block d, t;
  static const Block kZero = {};
  bool ok = CMAC_Init(ctx, mac_key, kBlock, EVP_aes_128_cbc(), nullptr) == 1 &&
            Cmac(ctx, kZero, kBlock, nullptr, 0, d);
  for (size_t i = 0; ok && i < n_parts; i++) {
    ok = Cmac(ctx, parts[i].data, parts[i].len, nullptr, 0, t);
    Dbl(d);
    for (size_t j = 0; j < kBlock; j++) d[j] ^= t[j];
  }
  if (ok && len >= kBlock) {
    // T = text xorend D: D goes into the text's last block (the text is not copied).
    for (size_t j = 0; j < kBlock; j++) t[j] = text[len - kBlock + j] ^ d[j];
    ok = Cmac(ctx, text, len - kBlock, t, kBlock, v);
  } else if (ok) {
    Dbl(d);
    for (size_t j = 0; j < kBlock; j++) t[j] = d[j] ^ (j < len ? text[j] : j == len ? 0x80 : 0);
    ok = Cmac(ctx, t, kBlock, nullptr, 0, v);
  }
  CMAC_CTX_free(ctx);
  return ok;
}
#pragma GCC diagnostic pop

// AES-CTR under the second half of the key from Q = V with bits 63 and 31 cleared (§2.6).
bool Ctr(const uint8_t* ctr_key, const Block v, const uint8_t* in, size_t len, uint8_t* out) {
  if (len == 0) return true;
  Block q;
  for (size_t j = 0; j < kBlock; j++) q[j] = v[j];
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, m = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, ctr_key, q) == 1 &&
            EVP_EncryptUpdate(ctx, out, &n, in, static_cast<int>(len)) == 1 &&
            EVP_EncryptFinal_ex(ctx, out + n, &m) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

// JS validates (src/native/nts-aead.ts): a 32-byte key, an array of
// Uint8Arrays, a sealed text of at least 16 bytes.
std::vector<SivPart> Parts(const Napi::Array& a) {
  std::vector<SivPart> parts(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto b = a.Get(i).As<Napi::Uint8Array>();
    parts[i] = {b.Data(), b.ByteLength()};
  }
  return parts;
}

Napi::Value JsSeal(const Napi::CallbackInfo& info) {
  auto key = info[0].As<Napi::Uint8Array>();
  auto parts = Parts(info[1].As<Napi::Array>());
  auto plain = info[2].As<Napi::Uint8Array>();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), plain.ByteLength() + kSivTagBytes);
  if (!SivSeal(key.Data(), parts.data(), parts.size(), plain.Data(), plain.ByteLength(),
               out.Data())) {
    auto e = Napi::Error::New(info.Env(), "AES-SIV sealing failed in OpenSSL (no AES-128-SIV?)");
    e.Set("code", Napi::String::New(info.Env(), "ERR_NTS_AEAD"));
    throw e;
  }
  return out;
}

Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  auto key = info[0].As<Napi::Uint8Array>();
  auto parts = Parts(info[1].As<Napi::Array>());
  auto sealed = info[2].As<Napi::Uint8Array>();
  auto plain = Napi::Buffer<uint8_t>::New(info.Env(), sealed.ByteLength() - kSivTagBytes);
  if (!SivOpen(key.Data(), parts.data(), parts.size(), sealed.Data(), sealed.ByteLength(),
               plain.Data())) {
    return info.Env().Null();
  }
  return plain;
}

}  // namespace

bool SivSeal(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* plain,
             size_t len, uint8_t* out) {
  return S2v(key, parts, n_parts, plain, len, out) &&
         Ctr(key + kBlock, out, plain, len, out + kSivTagBytes);
}

bool SivOpen(const uint8_t* key, const SivPart* parts, size_t n_parts, const uint8_t* sealed,
             size_t sealed_len, uint8_t* plain) {
  size_t len = sealed_len - kSivTagBytes;
  Block v;
  if (!Ctr(key + kBlock, sealed, sealed + kSivTagBytes, len, plain) ||
      !S2v(key, parts, n_parts, plain, len, v)) {
    return false;
  }
  uint8_t diff = 0;  // constant time
  for (size_t j = 0; j < kBlock; j++) diff |= v[j] ^ sealed[j];
  if (diff == 0) return true;
  for (size_t j = 0; j < len; j++) plain[j] = 0;  // a forgery's text is never handed on
  return false;
}

void InitNtsAead(Napi::Env env, Napi::Object exports) {
  exports.Set("sivSeal", Napi::Function::New(env, JsSeal, "sivSeal"));
  exports.Set("sivOpen", Napi::Function::New(env, JsOpen, "sivOpen"));
}

}  // namespace ct

#include "nts_server.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "big_endian.h"
namespace ct {
namespace {

// Extension field types (RFC 8915 §5.7, IANA).
constexpr uint16_t kEfUniqueId = 0x0104;
constexpr uint16_t kEfCookie = 0x0204;
constexpr uint16_t kEfPlaceholder = 0x0304;
constexpr uint16_t kEfAuthenticator = 0x0404;
constexpr size_t kHeader = 48;
constexpr size_t kMinUniqueId = 32;  // §5.3
constexpr size_t kNonce = 16;        // §5.6: at least 16; ours are 16
constexpr uint8_t kAeadSiv = 15;     // AEAD_AES_SIV_CMAC_256's IANA id
constexpr size_t kCookiePlain = 68;

size_t Pad4(size_t n) { return (n + 3) & ~static_cast<size_t>(3); }

}  // namespace

bool NonceSource::Fill(uint8_t* out, size_t n) {
  for (size_t at = 0; at < n; at += 16) {
    if (left_ == 0) {
      uint8_t seed[32];
      if (RAND_bytes(seed, sizeof seed) != 1 || !aes_.Set(seed)) return false;
      std::memcpy(counter_, seed + 16, 16);
      OPENSSL_cleanse(seed, sizeof seed);
      left_ = 1u << 20;
    }
    uint8_t block[16];
    aes_.Encrypt(counter_, block);
    for (int i = 15; i >= 0 && ++counter_[i] == 0; i--) {
    }
    left_--;
    std::memcpy(out + at, block, n - at < 16 ? n - at : 16);
  }
  return true;
}

void NtsServer::SetKeys(const NtsMasterKey* keys, size_t n) {
  n_keys_ = 0;
  for (size_t i = 0; i < n && n_keys_ < kNtsMasterKeys; i++) {
    if (!master_[n_keys_].Set(keys[i].key)) continue;
    ids_[n_keys_++] = keys[i].id;
  }
}

bool NtsServer::OpenCookie(const uint8_t* cookie, uint8_t c2s[kSivKeyBytes],
                           uint8_t s2c[kSivKeyBytes]) {
  uint32_t id = Get32(cookie);
  for (size_t i = 0; i < n_keys_; i++) {
    if (ids_[i] != id) continue;
    uint8_t plain[kCookiePlain];
    SivPart parts[2] = {{cookie, 4}, {cookie + 4, kNonce}};
    if (!master_[i].Open(parts, 2, cookie + 4 + kNonce, kNtsCookieBytes - 4 - kNonce, plain))
      return false;
    if (plain[0] != 0 || plain[1] != kAeadSiv) return false;
    std::memcpy(c2s, plain + 4, kSivKeyBytes);
    std::memcpy(s2c, plain + 4 + kSivKeyBytes, kSivKeyBytes);
    return true;
  }
  return false;  // a retired (or foreign) master key
}

NtsVerdict NtsServer::Check(const uint8_t* req, size_t ef_end, bool has_mac, uint8_t* out,
                            size_t room, size_t* out_len, NtsPending* pending) {
  const uint8_t *uid = nullptr, *cookie = nullptr, *auth = nullptr;
  size_t uid_len = 0, cookie_len = 0, auth_len = 0, auth_at = 0;
  int uids = 0, cookies = 0, placeholders = 0, auths = 0;
  size_t ph_min = SIZE_MAX, ph_max = 0;
  bool auth_last = false;
  // The fields were checked as fields by the caller (each 16 bytes or more, a multiple of 4, inside
  // the packet).
  for (size_t at = kHeader; at < ef_end;) {
    uint16_t type = Get16(req + at);
    size_t len = Get16(req + at + 2);
    const uint8_t* body = req + at + 4;
    if (type == kEfUniqueId) {
      uids++;
      uid = body;
      uid_len = len - 4;
    } else if (type == kEfCookie) {
      cookies++;
      cookie = body;
      cookie_len = len - 4;
    } else if (type == kEfPlaceholder) {
      placeholders++;
      ph_min = std::min(ph_min, len - 4);
      ph_max = std::max(ph_max, len - 4);
    } else if (type == kEfAuthenticator) {
      auths++;
      auth = body;
      auth_len = len - 4;
      auth_at = at;
    }
    at += len;
    auth_last = auth != nullptr && at == ef_end && auth_at + 4 + auth_len == ef_end;
  }
  if (cookies == 0) return auth ? NtsVerdict::kDrop : NtsVerdict::kPlain;
  // §5.7's order: a request we cannot tie to a client is dropped; one whose cookie or
  // authenticator fails gets a NAK (as chrony answers both), so its client renews its keys.
  if (has_mac || uids != 1 || uid_len < kMinUniqueId || cookies != 1) return NtsVerdict::kDrop;
  size_t nak_len = kHeader + 4 + uid_len;
  if (nak_len > room) return NtsVerdict::kDrop;
  Put16(out + kHeader, kEfUniqueId);
  Put16(out + kHeader + 2, 4 + uid_len);
  std::memcpy(out + kHeader + 4, uid, uid_len);
  *out_len = nak_len;
  uint8_t c2s[kSivKeyBytes];
  if (cookie_len < kNtsCookieBytes || !OpenCookie(cookie, c2s, pending->s2c))
    return NtsVerdict::kNak;
  if (auths != 1 || !auth_last || auth_len < 4) return NtsVerdict::kDrop;
  size_t nonce_len = Get16(auth), sealed_len = Get16(auth + 2);
  // §5.6: a nonce of 16 bytes or more; both lengths inside the field.
  if (nonce_len < kNonce || sealed_len < kSivTagBytes ||
      4 + Pad4(nonce_len) + Pad4(sealed_len) > auth_len ||
      sealed_len - kSivTagBytes > sizeof scratch_)
    return NtsVerdict::kDrop;
  SivPart parts[2] = {{req, auth_at}, {auth + 4, nonce_len}};
  if (!session_.Set(c2s) ||
      !session_.Open(parts, 2, auth + 4 + Pad4(nonce_len), sealed_len, scratch_))
    return NtsVerdict::kNak;
  // §5.5: each placeholder as long as the cookie, so the answer stays within the request's size.
  if (placeholders > 0 && (ph_min != cookie_len || ph_max != cookie_len)) return NtsVerdict::kDrop;
  size_t n = 1 + static_cast<size_t>(placeholders);
  if (n > kNtsMaxCookies) n = kNtsMaxCookies;
  while (n > 0 && AnswerBytes(uid_len, n) > room) n--;
  if (n == 0) return NtsVerdict::kDrop;
  // The answer: header, identifier, then the authenticator: nonce length, sealed length, nonce,
  // tag, and the new cookies as its plaintext (sealed in place by Seal).
  uint8_t* plain = out + nak_len + 8 + kNonce + kSivTagBytes;
  if (!MakeCookies(c2s, pending->s2c, n, plain)) return NtsVerdict::kDrop;
  pending->ad_len = static_cast<uint16_t>(nak_len);
  pending->plain_len = static_cast<uint16_t>(n * (4 + kNtsCookieBytes));
  *out_len = AnswerBytes(uid_len, n);
  return NtsVerdict::kNts;
}

bool NtsServer::MakeCookies(const uint8_t c2s[kSivKeyBytes], const uint8_t s2c[kSivKeyBytes],
                            size_t n, uint8_t* out) {
  uint8_t nonces[kNonce * kNtsMaxCookies];
  if (n_keys_ == 0 || !nonces_.Fill(nonces, kNonce * n)) return false;
  uint8_t plain[kCookiePlain] = {0, kAeadSiv};
  std::memcpy(plain + 4, c2s, kSivKeyBytes);
  std::memcpy(plain + 4 + kSivKeyBytes, s2c, kSivKeyBytes);
  for (size_t i = 0; i < n; i++) {
    uint8_t* f = out + i * (4 + kNtsCookieBytes);
    Put16(f, kEfCookie);
    Put16(f + 2, 4 + kNtsCookieBytes);
    uint8_t* c = f + 4;
    Put32(c, ids_[0]);
    std::memcpy(c + 4, nonces + kNonce * i, kNonce);
    SivPart parts[2] = {{c, 4}, {c + 4, kNonce}};
    if (!master_[0].Seal(parts, 2, plain, kCookiePlain, c + 4 + kNonce)) return false;
  }
  return true;
}

bool NtsServer::Seal(uint8_t* out, const NtsPending& p) {
  uint8_t* a = out + p.ad_len;
  size_t sealed_len = kSivTagBytes + p.plain_len;
  Put16(a, kEfAuthenticator);
  Put16(a + 2, 4 + 4 + kNonce + sealed_len);
  Put16(a + 4, kNonce);
  Put16(a + 6, sealed_len);
  if (!nonces_.Fill(a + 8, kNonce)) return false;
  SivPart parts[2] = {{out, p.ad_len}, {a + 8, kNonce}};
  uint8_t* sealed = a + 8 + kNonce;
  return session_.Set(p.s2c) && session_.Seal(parts, 2, sealed + kSivTagBytes, p.plain_len, sealed);
}

}  // namespace ct

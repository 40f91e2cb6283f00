#include "ntp_mac.h"

#include <openssl/cmac.h>
#include <openssl/evp.h>

namespace ct {

size_t ComputeDigest(const NtpKey& key, const uint8_t* data, size_t len, uint8_t* out) {
  if (key.type == KeyType::kAes128 || key.type == KeyType::kAes256) {
    // CMAC_* is deprecated in OpenSSL 3 in favour of EVP_MAC, but it is
    // exported by every Node build and is the shortest correct route.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    CMAC_CTX* ctx = CMAC_CTX_new();
    size_t n = 0;
    const EVP_CIPHER* cipher = key.type == KeyType::kAes128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    bool ok = ctx && CMAC_Init(ctx, key.secret.data(), key.secret.size(), cipher, nullptr) == 1 &&
              CMAC_Update(ctx, data, len) == 1 && CMAC_Final(ctx, out, &n) == 1;
    CMAC_CTX_free(ctx);
#pragma GCC diagnostic pop
    return ok ? n : 0;
  }
  const EVP_MD* md = nullptr;
  switch (key.type) {
    case KeyType::kMd5:
      md = EVP_md5();
      break;
    case KeyType::kSha1:
      md = EVP_sha1();
      break;
    case KeyType::kSha256:
      md = EVP_sha256();
      break;
    case KeyType::kSha384:
      md = EVP_sha384();
      break;
    case KeyType::kSha512:
      md = EVP_sha512();
      break;
    default:
      return 0;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, key.secret.data(), key.secret.size()) == 1 &&
            EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1;
  EVP_MD_CTX_free(ctx);
  return ok ? n : 0;
}

bool DigestEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= a[i] ^ b[i];
  return d == 0;
}

}  // namespace ct

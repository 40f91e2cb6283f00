// AES-128 encryption of single blocks for AES-SIV (nts_aead.cc): the CPU's
// AES instructions where it has them (AES-NI on x86-64, the ARMv8
// Cryptography Extensions on arm64), else OpenSSL's EVP AES-128-ECB. SIV is
// CMAC (a chain of single blocks) and CTR over short texts; through EVP each
// call re-entered OpenSSL's parameter machinery and cost more than the AES
// (perf: strcmp under OSSL_PARAM_locate at the top of the NTS server's
// profile). Setting CLOCKTOWER_AES=openssl in the environment forces the
// EVP path (the tests compare the two). No N-API.
#pragma once

#include <cstddef>
#include <cstdint>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace ct {

// One CBC chain for Aes128::ChainMany: state = E(state ^ block) over n blocks.
struct AesLane {
  uint8_t* state;
  const uint8_t* blocks;
  size_t n;
};

class Aes128 {
 public:
  static constexpr int kMaxLanes = 4;

  Aes128();
  ~Aes128();
  Aes128(const Aes128&) = delete;
  Aes128& operator=(const Aes128&) = delete;

  bool Set(const uint8_t key[16]);
  // out may be in.
  void Encrypt(const uint8_t in[16], uint8_t out[16]);
  // CBC-MAC's chain over n whole blocks: state = E(state ^ block), block by block.
  void Chain(uint8_t state[16], const uint8_t* blocks, size_t n);
  // Up to kMaxLanes independent chains in step: the AES instructions take a new block each
  // cycle or so but need several for one, so chains in step cost little more than one.
  void ChainMany(const AesLane* lanes, int k);
  // CTR: out = in ^ E(ctr), E(ctr + 1), ... with the counter's low 32 bits incremented
  // (SIV clears bit 31 of them, RFC 5297 §2.5, so they never carry). out may be in.
  void Ctr(const uint8_t ctr[16], const uint8_t* in, size_t len, uint8_t* out);

  // "aes-ni", "armv8-ce" or "openssl": what this process uses.
  static const char* Backend();

 private:
  alignas(16) uint8_t rk_[11 * 16];  // round keys, for the instruction paths
  EVP_CIPHER_CTX* evp_ = nullptr;    // the OpenSSL path: AES-128-ECB
  bool ok_ = false;
};

}  // namespace ct

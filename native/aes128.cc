#include "aes128.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <wmmintrin.h>
#define CT_AES_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_AES
#define HWCAP_AES (1 << 3)
#endif
#define CT_AES_ARM 1
#endif

namespace ct {
namespace {

enum class Path { kOpenSsl, kAesNi, kArmCe };

Path Detect() {
  const char* force = std::getenv("CLOCKTOWER_AES");
  if (force && std::strcmp(force, "openssl") == 0) return Path::kOpenSsl;
#if defined(CT_AES_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1")) return Path::kAesNi;
#elif defined(CT_AES_ARM)
  if (getauxval(AT_HWCAP) & HWCAP_AES) return Path::kArmCe;
#endif
  return Path::kOpenSsl;
}

Path Chosen() {
  static const Path p = Detect();
  return p;
}

#if defined(CT_AES_X86)
// FIPS 197 §5.2 with AESKEYGENASSIST (its round constant must be an immediate).
__attribute__((target("aes,sse4.1"))) __m128i Next(__m128i k, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, 0xff);
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  return _mm_xor_si128(k, assist);
}

__attribute__((target("aes,sse4.1"))) void ExpandNi(const uint8_t key[16], uint8_t* rk) {
  __m128i k[11];
  k[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  k[1] = Next(k[0], _mm_aeskeygenassist_si128(k[0], 0x01));
  k[2] = Next(k[1], _mm_aeskeygenassist_si128(k[1], 0x02));
  k[3] = Next(k[2], _mm_aeskeygenassist_si128(k[2], 0x04));
  k[4] = Next(k[3], _mm_aeskeygenassist_si128(k[3], 0x08));
  k[5] = Next(k[4], _mm_aeskeygenassist_si128(k[4], 0x10));
  k[6] = Next(k[5], _mm_aeskeygenassist_si128(k[5], 0x20));
  k[7] = Next(k[6], _mm_aeskeygenassist_si128(k[6], 0x40));
  k[8] = Next(k[7], _mm_aeskeygenassist_si128(k[7], 0x80));
  k[9] = Next(k[8], _mm_aeskeygenassist_si128(k[8], 0x1b));
  k[10] = Next(k[9], _mm_aeskeygenassist_si128(k[9], 0x36));
  for (int i = 0; i < 11; i++) _mm_store_si128(reinterpret_cast<__m128i*>(rk + 16 * i), k[i]);
}

__attribute__((target("aes,sse4.1"))) inline __m128i EncNi(const uint8_t* rk, __m128i x) {
  const __m128i* k = reinterpret_cast<const __m128i*>(rk);
  x = _mm_xor_si128(x, _mm_load_si128(k));
  for (int i = 1; i < 10; i++) x = _mm_aesenc_si128(x, _mm_load_si128(k + i));
  return _mm_aesenclast_si128(x, _mm_load_si128(k + 10));
}

__attribute__((target("aes,sse4.1"))) void ChainNi(const uint8_t* rk, uint8_t* state,
                                                   const uint8_t* b, size_t n) {
  __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  for (size_t i = 0; i < n; i++)
    s = EncNi(rk, _mm_xor_si128(s, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * i))));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), s);
}

// K chains in step; a lane whose blocks have run out encrypts its state in vain and keeps it.
template <int K>
__attribute__((target("aes,sse4.1"))) void ChainNiMany(const uint8_t* rk, const AesLane* l) {
  const __m128i* rkv = reinterpret_cast<const __m128i*>(rk);
  __m128i key[11];
  for (int r = 0; r < 11; r++) key[r] = _mm_load_si128(rkv + r);
  __m128i s[K];
  size_t most = 0;
  for (int j = 0; j < K; j++) {
    s[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(l[j].state));
    if (l[j].n > most) most = l[j].n;
  }
  for (size_t i = 0; i < most; i++) {
    __m128i x[K];
    for (int j = 0; j < K; j++) {
      __m128i b = i < l[j].n
                      ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(l[j].blocks + 16 * i))
                      : _mm_setzero_si128();
      x[j] = _mm_xor_si128(_mm_xor_si128(s[j], b), key[0]);
    }
    for (int r = 1; r < 10; r++)
      for (int j = 0; j < K; j++) x[j] = _mm_aesenc_si128(x[j], key[r]);
    for (int j = 0; j < K; j++) {
      x[j] = _mm_aesenclast_si128(x[j], key[10]);
      if (i < l[j].n) s[j] = x[j];
    }
  }
  for (int j = 0; j < K; j++) _mm_storeu_si128(reinterpret_cast<__m128i*>(l[j].state), s[j]);
}
#endif

#if defined(CT_AES_ARM)
// SubWord through AESE with a zero round key: a word repeated in all four columns is left in
// place by ShiftRows, so AESE is SubBytes on it.
__attribute__((target("+crypto"))) uint32_t SubWord(uint32_t w) {
  uint8x16_t v = vaeseq_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vdupq_n_u8(0));
  return vgetq_lane_u32(vreinterpretq_u32_u8(v), 0);
}

// FIPS 197 §5.2 on little-endian words (byte 0 of the key is the low byte of word 0).
__attribute__((target("+crypto"))) void ExpandCe(const uint8_t key[16], uint8_t* rk) {
  static const uint8_t kRcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
  uint32_t w[44];
  std::memcpy(w, key, 16);
  for (int i = 4; i < 44; i++) {
    uint32_t t = w[i - 1];
    if (i % 4 == 0) {
      uint32_t s = SubWord(t);  // SubWord(RotWord(t)) = RotWord(SubWord(t)), bytewise
      t = ((s >> 8) | (s << 24)) ^ kRcon[i / 4 - 1];
    }
    w[i] = w[i - 4] ^ t;
  }
  std::memcpy(rk, w, sizeof w);
}

__attribute__((target("+crypto"))) inline uint8x16_t EncCe(const uint8_t* rk, uint8x16_t x) {
  for (int i = 0; i < 9; i++) x = vaesmcq_u8(vaeseq_u8(x, vld1q_u8(rk + 16 * i)));
  x = vaeseq_u8(x, vld1q_u8(rk + 16 * 9));
  return veorq_u8(x, vld1q_u8(rk + 16 * 10));
}

__attribute__((target("+crypto"))) void ChainCe(const uint8_t* rk, uint8_t* state, const uint8_t* b,
                                                size_t n) {
  uint8x16_t s = vld1q_u8(state);
  for (size_t i = 0; i < n; i++) s = EncCe(rk, veorq_u8(s, vld1q_u8(b + 16 * i)));
  vst1q_u8(state, s);
}

template <int K>
__attribute__((target("+crypto"))) void ChainCeMany(const uint8_t* rk, const AesLane* l) {
  uint8x16_t key[11];
  for (int r = 0; r < 11; r++) key[r] = vld1q_u8(rk + 16 * r);
  uint8x16_t s[K];
  size_t most = 0;
  for (int j = 0; j < K; j++) {
    s[j] = vld1q_u8(l[j].state);
    if (l[j].n > most) most = l[j].n;
  }
  for (size_t i = 0; i < most; i++) {
    uint8x16_t x[K];
    for (int j = 0; j < K; j++)
      x[j] = i < l[j].n ? veorq_u8(s[j], vld1q_u8(l[j].blocks + 16 * i)) : s[j];
    for (int r = 0; r < 9; r++)
      for (int j = 0; j < K; j++) x[j] = vaesmcq_u8(vaeseq_u8(x[j], key[r]));
    for (int j = 0; j < K; j++) {
      x[j] = veorq_u8(vaeseq_u8(x[j], key[9]), key[10]);
      if (i < l[j].n) s[j] = x[j];
    }
  }
  for (int j = 0; j < K; j++) vst1q_u8(l[j].state, s[j]);
}
#endif

}  // namespace

const char* Aes128::Backend() {
  switch (Chosen()) {
    case Path::kAesNi:
      return "aes-ni";
    case Path::kArmCe:
      return "armv8-ce";
    default:
      return "openssl";
  }
}

Aes128::Aes128() {
  if (Chosen() == Path::kOpenSsl) {
    evp_ = EVP_CIPHER_CTX_new();
    if (evp_ && (EVP_EncryptInit_ex(evp_, EVP_aes_128_ecb(), nullptr, nullptr, nullptr) != 1 ||
                 EVP_CIPHER_CTX_set_padding(evp_, 0) != 1)) {
      EVP_CIPHER_CTX_free(evp_);
      evp_ = nullptr;
    }
  }
}

Aes128::~Aes128() { EVP_CIPHER_CTX_free(evp_); }

bool Aes128::Set(const uint8_t key[16]) {
  switch (Chosen()) {
#if defined(CT_AES_X86)
    case Path::kAesNi:
      ExpandNi(key, rk_);
      return ok_ = true;
#endif
#if defined(CT_AES_ARM)
    case Path::kArmCe:
      ExpandCe(key, rk_);
      return ok_ = true;
#endif
    default:
      return ok_ = evp_ && EVP_EncryptInit_ex(evp_, nullptr, nullptr, key, nullptr) == 1;
  }
}

void Aes128::Encrypt(const uint8_t in[16], uint8_t out[16]) {
  uint8_t s[16] = {};  // E(x): the chain of one block from a zero state
  Chain(s, in, 1);
  std::memcpy(out, s, 16);
}

void Aes128::Chain(uint8_t state[16], const uint8_t* blocks, size_t n) {
  switch (Chosen()) {
#if defined(CT_AES_X86)
    case Path::kAesNi:
      ChainNi(rk_, state, blocks, n);
      return;
#endif
#if defined(CT_AES_ARM)
    case Path::kArmCe:
      ChainCe(rk_, state, blocks, n);
      return;
#endif
    default:
      for (size_t i = 0; i < n; i++) {
        uint8_t x[16];
        for (int j = 0; j < 16; j++) x[j] = state[j] ^ blocks[16 * i + j];
        int len = 0;
        if (!ok_ || EVP_EncryptUpdate(evp_, state, &len, x, 16) != 1 || len != 16)
          std::memset(state, 0, 16);  // never reached with a key set; a zero tag never verifies
      }
  }
}

void Aes128::ChainMany(const AesLane* l, int k) {
  switch (Chosen()) {
#if defined(CT_AES_X86)
    case Path::kAesNi:
      if (k == 1) ChainNi(rk_, l[0].state, l[0].blocks, l[0].n);
      if (k == 2) ChainNiMany<2>(rk_, l);
      if (k == 3) ChainNiMany<3>(rk_, l);
      if (k == 4) ChainNiMany<4>(rk_, l);
      return;
#endif
#if defined(CT_AES_ARM)
    case Path::kArmCe:
      if (k == 1) ChainCe(rk_, l[0].state, l[0].blocks, l[0].n);
      if (k == 2) ChainCeMany<2>(rk_, l);
      if (k == 3) ChainCeMany<3>(rk_, l);
      if (k == 4) ChainCeMany<4>(rk_, l);
      return;
#endif
    default:
      for (int j = 0; j < k; j++) Chain(l[j].state, l[j].blocks, l[j].n);
  }
}

void Aes128::Ctr(const uint8_t ctr[16], const uint8_t* in, size_t len, uint8_t* out) {
  // Up to four counter blocks at once, each E(0 ^ counter): independent lanes of one block.
  uint32_t low =
      (static_cast<uint32_t>(ctr[12]) << 24) | (ctr[13] << 16) | (ctr[14] << 8) | ctr[15];
  uint8_t c[kMaxLanes][16], k[kMaxLanes][16];
  AesLane lanes[kMaxLanes];
  for (size_t at = 0; at < len;) {
    int n = 0;
    for (; n < kMaxLanes && at + 16 * n < len; n++, low++) {
      std::memcpy(c[n], ctr, 12);
      c[n][12] = static_cast<uint8_t>(low >> 24);
      c[n][13] = static_cast<uint8_t>(low >> 16);
      c[n][14] = static_cast<uint8_t>(low >> 8);
      c[n][15] = static_cast<uint8_t>(low);
      std::memset(k[n], 0, 16);
      lanes[n] = {k[n], c[n], 1};
    }
    ChainMany(lanes, n);
    for (int b = 0; b < n && at < len; b++) {
      size_t m = len - at < 16 ? len - at : 16;
      for (size_t j = 0; j < m; j++) out[at + j] = in[at + j] ^ k[b][j];
      at += m;
    }
  }
}

}  // namespace ct

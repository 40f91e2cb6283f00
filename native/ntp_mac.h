// Symmetric-key MACs for NTP packets in native code, through the OpenSSL
// that Node itself exports: HASH(key || data) for MD5/SHA*, AES-CMAC for
// AES (RFC 8573). Same results as src/ntp/auth.ts (tested against it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace ct {

enum class KeyType : uint8_t { kMd5, kSha1, kSha256, kSha384, kSha512, kAes128, kAes256, kCount };
// Their names in src/ntp/auth.ts, by value (exported with the layouts, layout.cc).
constexpr const char* kKeyTypeNames[] = {"MD5",    "SHA1",   "SHA256", "SHA384",
                                         "SHA512", "AES128", "AES256"};
static_assert(sizeof(kKeyTypeNames) / sizeof(kKeyTypeNames[0]) ==
                  static_cast<size_t>(KeyType::kCount),
              "a key type without a name");

struct NtpKey {
  KeyType type;
  std::vector<uint8_t> secret;
};

class KeyTable {
 public:
  void Clear() { keys_.clear(); }
  void Add(uint32_t id, NtpKey key) { keys_[id] = std::move(key); }
  const NtpKey* Find(uint32_t id) const {
    auto it = keys_.find(id);
    return it == keys_.end() ? nullptr : &it->second;
  }
  bool empty() const { return keys_.empty(); }

 private:
  std::unordered_map<uint32_t, NtpKey> keys_;
};

// Writes the full digest of `data` under `key` into out (64 bytes room);
// returns its length, or 0 on failure.
size_t ComputeDigest(const NtpKey& key, const uint8_t* data, size_t len, uint8_t* out);

// Constant-time comparison of n bytes.
bool DigestEqual(const uint8_t* a, const uint8_t* b, size_t n);

}  // namespace ct

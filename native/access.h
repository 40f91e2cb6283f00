// Who may ask: allow/deny CIDR lists for IPv4 and IPv6 (deny wins; an empty
// allow list allows all), and a per-address rate limit in a fixed-size table
// (bounded memory, O(1) per packet) that also rations Kiss-o'-Death replies.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace ct {

struct Cidr {
  uint8_t addr[16];  // IPv4 as ::ffff:a.b.c.d
  uint8_t prefix;    // in the 128-bit space
};

// 16-byte form of a peer: IPv4 mapped into ::ffff:0:0/96.
inline void MapAddress(const uint8_t* raw, int family, uint8_t out[16]) {
  if (family == 4) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, raw, 4);
  } else {
    std::memcpy(out, raw, 16);
  }
}

class AccessList {
 public:
  void Set(std::vector<Cidr> allow, std::vector<Cidr> deny) {
    allow_ = std::move(allow);
    deny_ = std::move(deny);
  }
  bool Allowed(const uint8_t addr[16]) const {
    for (const Cidr& c : deny_)
      if (Match(c, addr)) return false;
    if (allow_.empty()) return true;
    for (const Cidr& c : allow_)
      if (Match(c, addr)) return true;
    return false;
  }

 private:
  static bool Match(const Cidr& c, const uint8_t a[16]) {
    int full = c.prefix / 8, rest = c.prefix % 8;
    if (std::memcmp(c.addr, a, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (c.addr[full] & mask) == (a[full] & mask);
  }
  std::vector<Cidr> allow_, deny_;
};

struct RateLimitConfig {
  bool enabled = false;
  double interval_s = 0.125;  // mean spacing a client may keep up indefinitely
  double burst = 16;          // requests a quiet client may send at once
  double kod_interval_s = 1;  // at most one KoD per client per this long
};

enum class RateVerdict { kPass, kKod, kDrop };

class RateLimiter {
 public:
  // The hash is salted per process so a sender cannot aim collisions at a victim's slot.
  explicit RateLimiter(size_t slots = 16384) : table_(slots), salt_(std::random_device{}()) {}
  void Configure(const RateLimitConfig& c) { cfg_ = c; }
  const RateLimitConfig& config() const { return cfg_; }

  // A token bucket per address; a colliding address takes the slot over,
  // so memory never grows with the number of clients.
  RateVerdict Check(const uint8_t addr[16], double now_s) {
    if (!cfg_.enabled) return RateVerdict::kPass;
    Entry& e = Claim(addr, now_s);
    e.tokens += (now_s - e.last_s) / cfg_.interval_s;
    if (e.tokens > cfg_.burst) e.tokens = cfg_.burst;
    e.last_s = now_s;
    if (e.tokens >= 1) {
      e.tokens -= 1;
      return RateVerdict::kPass;
    }
    return TakeKod(e, now_s) ? RateVerdict::kKod : RateVerdict::kDrop;
  }

  // Whether a KoD (e.g. DENY) may go to this address now.
  bool KodAllowed(const uint8_t addr[16], double now_s) {
    Entry& e = Claim(addr, now_s);
    return TakeKod(e, now_s);
  }

 private:
  struct Entry {
    uint8_t addr[16];
    bool used = false;
    double tokens = 0;
    double last_s = 0;
    double last_kod_s = -1e18;
  };
  // The address's slot; a colliding address takes it over with a full bucket.
  Entry& Claim(const uint8_t addr[16], double now_s) {
    Entry& e = table_[Hash(addr) % table_.size()];
    if (!e.used || std::memcmp(e.addr, addr, 16) != 0) {
      std::memcpy(e.addr, addr, 16);
      e.used = true;
      e.tokens = cfg_.burst;
      e.last_s = now_s;
      e.last_kod_s = -1e18;
    }
    return e;
  }
  bool TakeKod(Entry& e, double now_s) {
    if (now_s - e.last_kod_s < cfg_.kod_interval_s) return false;
    e.last_kod_s = now_s;
    return true;
  }
  uint64_t Hash(const uint8_t a[16]) const {
    uint64_t h = 1469598103934665603ULL ^ salt_;  // FNV-1a, salted
    for (int i = 0; i < 16; i++) h = (h ^ a[i]) * 1099511628211ULL;
    return h;
  }
  RateLimitConfig cfg_;
  std::vector<Entry> table_;
  uint64_t salt_;
};

}  // namespace ct

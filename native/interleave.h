// The server's memory for interleaved mode (RFC 9769): per answered request
// that asked in interleaved form, its RX timestamp as sent (the key a client
// echoes as origin) and the kernel TX stamp of the reply, once the error
// queue gives it. Fixed size, set-associative (4 ways), the oldest entry of a
// set goes first; no allocation after Resize(). No N-API: unit- and
// fuzz-testable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ct {

class InterleaveTable {
 public:
  static constexpr size_t kWays = 4;

  // Room for about `entries` replies (rounded up to whole sets); 0 turns interleaving off.
  void Resize(size_t entries);
  bool enabled() const { return !sets_.empty(); }
  size_t capacity() const { return sets_.size() * kWays; }
  // The size last asked for (Resize's argument).
  size_t requested() const { return requested_; }

  // The reply to the request from peer (PeerHash) received at rx_ntp goes out with TX stamp id
  // tx_id.
  void Expect(uint64_t rx_ntp, uint32_t peer, uint32_t tx_id);
  // The kernel stamped TX id tx_id at tx_ntp (node time, NTP format); false when no entry waits for
  // it.
  bool Stamp(uint32_t tx_id, uint64_t tx_ntp);
  // The TX time of the reply to the request received at rx_ntp, removed so it is served once; 0
  // when unknown, evicted or not stamped yet. A key asked for by another peer finds nothing.
  uint64_t Take(uint64_t rx_ntp, uint32_t peer);
  // Forgets everything: after a clock step RX and TX stamps are no longer on one time line.
  void Flush();

 private:
  struct Entry {
    uint64_t rx_ntp = 0;  // 0: free
    uint64_t tx_ntp = 0;  // 0: not stamped yet
    uint32_t tx_id = 0;
    uint32_t peer = 0;
    uint32_t seq = 0;  // insertion order, for oldest-out
  };
  // Stamp ids in flight, by id modulo its size: which RX key each one belongs to.
  struct Waiting {
    uint32_t tx_id = 0;
    uint64_t rx_ntp = 0;
  };
  Entry* Find(uint64_t rx_ntp);
  size_t SetOf(uint64_t rx_ntp) const;

  std::vector<Entry> sets_;  // sets_.size() / kWays sets
  std::vector<Waiting> waiting_;
  uint32_t seq_ = 0;
  size_t requested_ = 0;
};

}  // namespace ct

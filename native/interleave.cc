#include "interleave.h"

namespace ct {

void InterleaveTable::Resize(size_t entries) {
  sets_.clear();
  waiting_.clear();
  requested_ = entries;
  if (entries == 0) return;
  size_t sets = 1;
  while (sets * kWays < entries) sets <<= 1;
  sets_.assign(sets * kWays, Entry{});
  waiting_.assign(sets * kWays, Waiting{});
  seq_ = 0;
}

size_t InterleaveTable::SetOf(uint64_t rx_ntp) const {
  // The low bits of an RX stamp are clock noise, the high bits the second: mix both.
  uint64_t h = rx_ntp * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(h >> 32) & (sets_.size() / kWays - 1);
}

InterleaveTable::Entry* InterleaveTable::Find(uint64_t rx_ntp) {
  if (sets_.empty() || rx_ntp == 0) return nullptr;
  Entry* set = &sets_[SetOf(rx_ntp) * kWays];
  for (size_t w = 0; w < kWays; w++)
    if (set[w].rx_ntp == rx_ntp) return &set[w];
  return nullptr;
}

void InterleaveTable::Expect(uint64_t rx_ntp, uint32_t peer, uint32_t tx_id) {
  if (sets_.empty() || rx_ntp == 0) return;
  Entry* set = &sets_[SetOf(rx_ntp) * kWays];
  Entry* slot = &set[0];
  for (size_t w = 0; w < kWays; w++) {
    if (set[w].rx_ntp == 0 || set[w].rx_ntp == rx_ntp) {
      slot = &set[w];
      break;
    }
    if (static_cast<int32_t>(set[w].seq - slot->seq) < 0) slot = &set[w];
  }
  *slot = Entry{rx_ntp, 0, tx_id, peer, seq_++};
  waiting_[tx_id % waiting_.size()] = Waiting{tx_id, rx_ntp};
}

bool InterleaveTable::Stamp(uint32_t tx_id, uint64_t tx_ntp) {
  if (waiting_.empty()) return false;
  Waiting& w = waiting_[tx_id % waiting_.size()];
  if (w.rx_ntp == 0 || w.tx_id != tx_id) return false;
  Entry* e = Find(w.rx_ntp);
  w = Waiting{};
  if (!e || e->tx_id != tx_id) return true;  // ours, but evicted meanwhile
  e->tx_ntp = tx_ntp == 0 ? 2 : tx_ntp;      // never 0: that means "not stamped"
  return true;
}

uint64_t InterleaveTable::Take(uint64_t rx_ntp, uint32_t peer) {
  Entry* e = Find(rx_ntp);
  if (!e || e->tx_ntp == 0 || e->peer != peer) return 0;
  uint64_t tx = e->tx_ntp;
  *e = Entry{};
  return tx;
}

void InterleaveTable::Flush() {
  for (Entry& e : sets_) e = Entry{};
  for (Waiting& w : waiting_) w = Waiting{};
}

}  // namespace ct

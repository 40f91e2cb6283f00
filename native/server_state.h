// What the native responder says about the server and how it maps kernel
// stamps to node time. JS sets it whole (src/native/server.ts); the
// responder copies it once per batch.
#pragma once

#include <cstdint>

#include "ntp_time.h"

namespace ct {

struct ServerState {
  uint8_t leap = 3;
  uint8_t stratum = 16;
  int8_t precision = -20;
  uint32_t refid = 0;
  int64_t reference_ns = 0;  // node time of the last update; 0 = never
  bool has_reference = false;
  uint32_t root_delay = 0;        // NTP short format
  double root_dispersion_ns = 0;  // at reference_ns; grows by PHI per second after
  // Clock model: node = ref_node + (sys - ref_sys) * (1 + freq_ppm / 1e6).
  int64_t ref_sys_ns = 0;
  int64_t ref_node_ns = 0;
  double freq_ppm = 0;
  uint32_t step_epoch = 0;  // changes on every step of the node clock

  int64_t NodeNs(int64_t sys_ns) const {
    int64_t elapsed = sys_ns - ref_sys_ns;
    return ref_node_ns + elapsed +
           static_cast<int64_t>(static_cast<double>(elapsed) * freq_ppm * 1e-6);
  }
  bool Synced() const { return leap != 3 && stratum < 16; }
};

}  // namespace ct

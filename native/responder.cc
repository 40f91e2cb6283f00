#include "responder.h"

#include <cmath>
#include <cstring>

#include "big_endian.h"
namespace ct {
namespace {

constexpr size_t kHeader = 48;
constexpr size_t kMinMac = 20, kMaxV4Mac = 24, kMaxMac = 4 + 64;  // RFC 7822 §7.5
constexpr size_t kMinEf = 16, kMinLastEf = 28;                    // RFC 7822 §3
constexpr double kPhi = 15e-6;                                    // RFC 5905 §7.2

// Where the MAC starts (== len when there is none), following the same
// rules as src/ntp/packet.ts decodePacket; false when malformed.
bool FindMac(const uint8_t* b, size_t len, int version, size_t* mac_at) {
  size_t at = kHeader, rest = len - kHeader;
  if (rest == 4) {  // crypto-NAK: no use in a request, but well-formed
    if (Get32(b + at) != 0) return false;
    *mac_at = at;
    return true;
  }
  if (version == 4) {
    while (rest > kMaxV4Mac) {
      size_t ef = (static_cast<size_t>(b[at + 2]) << 8) | b[at + 3];
      if (ef < kMinEf || ef % 4 != 0 || ef > rest) return false;
      if (ef == rest && ef < kMinLastEf) return false;
      at += ef;
      rest -= ef;
    }
    if (rest > 0 && rest < kMinMac) return false;
  } else if (rest > 0 && (rest < kMinMac || rest > kMaxMac)) {
    return false;
  }
  *mac_at = at;
  return true;
}

}  // namespace

Verdict Responder::Handle(const uint8_t* req, size_t len, bool truncated, const uint8_t addr16[16],
                          int64_t rx_node_ns, double now_s, uint8_t* out, PendingResponse* pending,
                          uint64_t* counters) {
  counters[kReceived]++;
  if (truncated) {
    counters[kDropTruncated]++;
    return Verdict::kDrop;
  }
  // RFC 5905 §7.3 header sanity: length, version 1..4, mode not reserved.
  int version = (len >= 1) ? (req[0] >> 3) & 7 : 0;
  int mode = (len >= 1) ? req[0] & 7 : 0;
  if (len < kHeader || len % 4 != 0 || version < 1 || version > 4 || mode == 0) {
    counters[kDropMalformed]++;
    return Verdict::kDrop;
  }
  if (mode == 6 || mode == 7) {  // control and private: never answered (amplification vectors)
    counters[kDropUnsupportedMode]++;
    return Verdict::kDrop;
  }
  if (mode != 3 && mode != 1) {
    counters[kSlowPath]++;
    return Verdict::kSlowPath;
  }
  size_t mac_at;
  if (!FindMac(req, len, version, &mac_at)) {
    counters[kDropMalformed]++;
    return Verdict::kDrop;
  }

  const char* kod = nullptr;
  if (!access.Allowed(addr16)) {
    if (!config.deny_kod || !limiter.KodAllowed(addr16, now_s)) {
      counters[kDropDenied]++;
      return Verdict::kDrop;
    }
    kod = "DENY";
  } else {
    RateVerdict rv = limiter.Check(addr16, now_s);
    if (rv == RateVerdict::kDrop) {
      counters[kDropRateLimited]++;
      return Verdict::kDrop;
    }
    if (rv == RateVerdict::kKod) kod = "RATE";
  }

  *pending = PendingResponse{};
  size_t mac_len = len - mac_at;
  // NTS (RFC 8915 §5.7): a request with a cookie is authenticated by its fields, not a MAC. A
  // NAK answers a cookie or authenticator that fails; KoDs to NTS requests are authenticated too.
  NtsVerdict nv = NtsVerdict::kPlain;
  if (nts.enabled() && mode == 3 && version == 4 && mac_at > kHeader) {
    size_t nts_len = 0;
    nv = nts.Check(req, mac_at, mac_len > 0, out, kMaxResponse, &nts_len, &pending->nts);
    if (nv == NtsVerdict::kDrop) {
      counters[kDropNts]++;
      return Verdict::kDrop;
    }
    if (nv == NtsVerdict::kNak) kod = "NTSN";
    if (nv != NtsVerdict::kPlain) pending->len = nts_len;
  }
  // Authentication (RFC 5905 §7.3 MAC) of a request NTS has not answered for. A bad or
  // unknown-key MAC is dropped, as chrony does: a crypto-NAK would tell a prober which key ids
  // exist.
  if (nv == NtsVerdict::kPlain && mac_len >= kMinMac) {
    uint32_t key_id = Get32(req + mac_at);
    const NtpKey* key = keys.Find(key_id);
    uint8_t digest[64];
    size_t full = key ? ComputeDigest(*key, req, mac_at, digest) : 0;
    size_t got = mac_len - 4;
    bool ok = full > 0 && got >= 16 && got <= full && (got == full || got == kMaxV4Mac - 4) &&
              DigestEqual(digest, req + mac_at + 4, got);
    if (!ok) {
      counters[kDropBadMac]++;
      return Verdict::kDrop;
    }
    pending->key = key;
    pending->key_id = key_id;
    pending->digest_len = got;  // same size as the request's: never larger
    pending->len = kHeader + 4 + got;
  } else if (nv == NtsVerdict::kPlain && config.require_auth) {
    counters[kDropUnauthenticated]++;
    return Verdict::kDrop;
  }

  const ServerState& s = state;
  bool synced = s.Synced();
  uint8_t leap = (synced && !kod) ? s.leap : 3;
  out[0] = static_cast<uint8_t>((leap << 6) | (version << 3) | (mode == 3 ? 4 : 2));
  out[1] = kod ? 0 : (synced ? s.stratum : 16);
  out[2] = req[2];  // poll echoed
  out[3] = static_cast<uint8_t>(s.precision);
  Put32(out + 4, s.root_delay);
  double disp = s.root_dispersion_ns;
  if (s.has_reference && rx_node_ns > s.reference_ns)
    disp += kPhi * static_cast<double>(rx_node_ns - s.reference_ns);
  // Rounded half up, as the TS reference (src/ntp/wire.ts, Math.round) does;
  // disp ≥ 0, so truncation plus the exact fraction test is llround without its libm call.
  int64_t disp_ns = static_cast<int64_t>(disp);
  if (disp - static_cast<double>(disp_ns) >= 0.5) disp_ns++;
  Put32(out + 8, NsToNtpShort(disp_ns));
  if (kod) {
    std::memcpy(out + 12, kod, 4);
  } else {
    Put32(out + 12, s.refid);
  }
  Put64(out + 16, reference_ntp_);
  std::memcpy(out + 24, req + 40, 8);  // origin = the request's transmit
  // The lowest bit of a receive stamp is set and of a basic transmit stamp clear (as chrony
  // does), so a request's origin tells whether it names one of our RX stamps (RFC 9769 §3).
  uint64_t rx_ntp = UnixNsToNtp64(rx_node_ns) | 1;
  Put64(out + 32, rx_ntp);
  std::memset(out + 40, 0, 8);
  // RFC 9769 §3: a request in interleaved form is NTPv4 and its origin is one of our RX stamps
  // (low bit set) while its receive and transmit differ. Its reply is stamped and kept; and if
  // the reply to the request that origin names was stamped, this answer carries that TX time,
  // with origin = the request's receive (the client's RX stamp of that reply).
  if (!kod && mode == 3 && version == 4 && interleave.enabled() && (req[31] & 1) &&
      std::memcmp(req + 32, req + 40, 8) != 0) {
    pending->rx_key = rx_ntp;
    pending->peer_hash = PeerHash(addr16);
    pending->tx_interleaved = interleave.Take(Get64(req + 24), pending->peer_hash);
    if (pending->tx_interleaved != 0) std::memcpy(out + 24, req + 32, 8);
  }
  if (nv == NtsVerdict::kNak)
    counters[kNtsNak]++;
  else if (kod)
    counters[std::strcmp(kod, "RATE") == 0 ? kKodRate : kKodDeny]++;
  else
    counters[kAnswered]++;
  if (pending->tx_interleaved != 0) counters[kAnsweredInterleaved]++;
  if (nv == NtsVerdict::kNts) counters[kAnsweredNts]++;
  return Verdict::kAnswer;
}

uint32_t PeerHash(const uint8_t addr16[16]) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (int i = 0; i < 16; i++) h = (h ^ addr16[i]) * 16777619u;
  return h;
}

void Responder::SetState(const ServerState& s) {
  state = s;
  if (s.step_epoch != step_epoch_) interleave.Flush();
  step_epoch_ = s.step_epoch;
  reference_ntp_ = s.has_reference ? UnixNsToNtp64(s.reference_ns) : 0;
}

bool Responder::Finish(uint8_t* out, const PendingResponse& p, uint64_t tx_ntp) {
  Put64(out + 40, p.tx_interleaved != 0 ? p.tx_interleaved : tx_ntp & ~1ull);
  if (p.nts.plain_len != 0) return nts.Seal(out, p.nts);
  if (!p.key) return true;
  uint8_t digest[64];
  ComputeDigest(*p.key, out, kHeader, digest);
  Put32(out + kHeader, p.key_id);
  std::memcpy(out + kHeader + 4, digest, p.digest_len);
  return true;
}

}  // namespace ct

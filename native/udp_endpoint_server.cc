// The server side of UdpEndpoint: the native NTP responder run over each
// received batch, and the setters JS uses to configure it. Linux only.
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "errors.h"
#include "udp_endpoint.h"

namespace ct {

size_t UdpEndpoint::Respond(int n) {
  Responder& r = *responder_;
  struct timespec mono;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  double now_s = static_cast<double>(mono.tv_sec) + mono.tv_nsec * 1e-9;
  size_t js = 0, out = 0;
  for (int i = 0; i < n; i++) {
    uint8_t* rec_p = rx_slab_ + i * stride_;
    uint32_t len;
    std::memcpy(&len, rec_p + rec::kLen, 4);
    uint32_t flags;
    std::memcpy(&flags, rec_p + rec::kFlags, 4);
    int64_t rx_sys;
    std::memcpy(&rx_sys, rec_p + rec::kRxNs, 8);
    uint8_t addr16[16];
    MapAddress(rec_p + rec::kPeerAddr, rec_p[rec::kFamily], addr16);
    uint8_t* resp = &resp_buf_[out * kMaxResponse];
    Verdict v = r.Handle(rec_p + rec::kHeader, len, (flags & rec::kFlagTruncated) != 0, addr16,
                         r.state.NodeNs(rx_sys), now_s, resp, &resp_pending_[out], counters_);
    if (v == Verdict::kSlowPath) {
      if (js != static_cast<size_t>(i))
        std::memcpy(rx_slab_ + js * stride_, rec_p, rec::kHeader + len);
      js++;
    } else if (v == Verdict::kAnswer) {
      struct msghdr& h = resp_msgs_[out].msg_hdr;
      h = {};
      h.msg_name = &rx_addrs_[i];
      h.msg_namelen =
          rx_addrs_[i].ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      resp_iovs_[out] = {resp, resp_pending_[out].len};  // an NTS answer's length is final here
      h.msg_iov = &resp_iovs_[out];
      h.msg_iovlen = 1;
      out++;
      uint8_t* ctrl = &resp_ctrl_[(out - 1) * kCtrlBytes];
      // Interleaved mode: this reply's kernel TX stamp is kept for the client's next request.
      bool stamp = resp_pending_[out - 1].rx_key != 0 && tx_stamps_;
      if (!stamp) resp_pending_[out - 1].rx_key = 0;
      // On a wildcard bind, answer from the address the request was sent to
      // (multi-homed hosts); a socket bound to one address needs no cmsg.
      if (!wildcard_ && !stamp) continue;
      std::memset(ctrl, 0, kCtrlBytes);
      h.msg_control = ctrl;
      if (!wildcard_) {
        h.msg_controllen = AppendTxStampRequest(ctrl, kCtrlBytes);
        continue;
      }
      struct cmsghdr* c = reinterpret_cast<struct cmsghdr*>(ctrl);
      uint32_t ifindex;
      std::memcpy(&ifindex, rec_p + rec::kIfIndex, 4);
      if (rx_addrs_[i].ss_family == AF_INET) {
        struct in_pktinfo pi = {};
        std::memcpy(&pi.ipi_spec_dst, rec_p + rec::kLocalAddr, 4);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        h.msg_controllen = CMSG_SPACE(sizeof pi);
      } else {
        struct in6_pktinfo pi = {};
        std::memcpy(&pi.ipi6_addr, rec_p + rec::kLocalAddr, 16);
        pi.ipi6_ifindex = ifindex;
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof pi);
        std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        h.msg_controllen = CMSG_SPACE(sizeof pi);
      }
      if (stamp)
        h.msg_controllen +=
            AppendTxStampRequest(ctrl + h.msg_controllen, kCtrlBytes - h.msg_controllen);
    }
  }
  if (out > 0) {
    // The transmit timestamp, as late as possible: just before the send.
    uint64_t tx = UnixNsToNtp64(r.state.NodeNs(RealtimeNowNs()));
    // An answer that cannot be sealed (OpenSSL failed) is not sent: the ones after it move up.
    size_t kept = 0;
    for (size_t j = 0; j < out; j++) {
      if (!r.Finish(&resp_buf_[j * kMaxResponse], resp_pending_[j], tx)) {
        counters_[kSendErrors]++;
        continue;
      }
      if (kept != j) {
        resp_msgs_[kept] = resp_msgs_[j];
        resp_pending_[kept] = resp_pending_[j];
      }
      kept++;
    }
    out = kept;
    size_t sent = 0;
    while (sent < out) {
      int k = sendmmsg(fd_, resp_msgs_.data() + sent, static_cast<unsigned>(out - sent), 0);
      if (k <= 0) {
        counters_[kSendErrors] += out - sent;
        break;
      }
      // The kernel numbers stamped sends in order (OPT_ID): the replies sent are the ids taken.
      for (size_t j = sent; j < sent + static_cast<size_t>(k); j++) {
        const PendingResponse& p = resp_pending_[j];
        if (p.rx_key == 0) continue;
        r.interleave.Expect(p.rx_key, p.peer_hash, next_tx_id_++);
        tx_outstanding_++;
      }
      sent += static_cast<size_t>(k);
    }
  }
  return js;
}

Napi::Value UdpEndpoint::EnableResponder(const Napi::CallbackInfo& info) {
  if (!responder_) {
    responder_ = std::make_unique<Responder>();
    resp_buf_.assign(slots_ * kMaxResponse, 0);
    resp_ctrl_.assign(slots_ * kCtrlBytes, 0);
    resp_pending_.resize(slots_);
    resp_msgs_.resize(slots_);
    resp_iovs_.resize(slots_);
  }
  // Optional: count into memory JS shares with other threads (a Uint8Array
  // over a SharedArrayBuffer), so a thread pool's counters are read by the
  // main thread without a message per read. One writer per block: this
  // endpoint's loop.
  if (info.Length() > 0 && info[0].IsTypedArray()) {
    Napi::Uint8Array shared = info[0].As<Napi::Uint8Array>();
    // Whole, aligned uint64 counters, or the writes below run past the block or fault on ARM.
    if (shared.ByteLength() < kCounterCount * sizeof(uint64_t) ||
        reinterpret_cast<uintptr_t>(shared.Data()) % alignof(uint64_t) != 0)
      ThrowErrno(info.Env(), EINVAL, "enableResponder");
    std::memcpy(shared.Data(), counters_, kCounterCount * sizeof(uint64_t));
    counters_ = reinterpret_cast<uint64_t*>(shared.Data());
    shared_counters_ref_ = Napi::Persistent(shared);
  }
  return info.Env().Undefined();
}

namespace {
int64_t BigOr(const Napi::Object& o, const char* k, int64_t def) {
  Napi::Value v = o.Get(k);
  bool lossless;
  return v.IsBigInt() ? v.As<Napi::BigInt>().Int64Value(&lossless) : def;
}
double NumOr(const Napi::Object& o, const char* k, double def) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}
std::vector<Cidr> ToCidrs(const Napi::Value& v) {
  auto bytes = v.As<Napi::Uint8Array>();  // 17 bytes each: address (16, v4 mapped) + prefix
  std::vector<Cidr> out(bytes.ByteLength() / 17);
  for (size_t i = 0; i < out.size(); i++) {
    std::memcpy(out[i].addr, bytes.Data() + i * 17, 16);
    out[i].prefix = std::min<uint8_t>(bytes.Data()[i * 17 + 16],
                                      128);  // a prefix past the address would read past it
  }
  return out;
}
}  // namespace

// setServerState({ leap, stratum, precision, refid, referenceNs|null, rootDelay,
//   rootDispersionNs, refSysNs, refNodeNs, freqPpm }): all fields at once.
Napi::Value UdpEndpoint::SetServerState(const Napi::CallbackInfo& info) {
  if (responder_) {
    Napi::Object o = info[0].As<Napi::Object>();
    ServerState s;
    s.leap = static_cast<uint8_t>(NumOr(o, "leap", 3));
    s.stratum = static_cast<uint8_t>(NumOr(o, "stratum", 16));
    s.precision = static_cast<int8_t>(NumOr(o, "precision", -20));
    s.refid = static_cast<uint32_t>(NumOr(o, "refid", 0));
    s.has_reference = o.Get("referenceNs").IsBigInt();
    s.reference_ns = BigOr(o, "referenceNs", 0);
    s.root_delay = static_cast<uint32_t>(NumOr(o, "rootDelay", 0));
    s.root_dispersion_ns = NumOr(o, "rootDispersionNs", 0);
    s.ref_sys_ns = BigOr(o, "refSysNs", 0);
    s.ref_node_ns = BigOr(o, "refNodeNs", 0);
    s.freq_ppm = NumOr(o, "freqPpm", 0);
    s.step_epoch = static_cast<uint32_t>(NumOr(o, "stepEpoch", 0));
    responder_->SetState(s);
  }
  return info.Env().Undefined();
}

// setAccess(allow: Uint8Array, deny: Uint8Array, denyKod: boolean)
Napi::Value UdpEndpoint::SetAccess(const Napi::CallbackInfo& info) {
  if (responder_) {
    responder_->access.Set(ToCidrs(info[0]), ToCidrs(info[1]));
    responder_->config.deny_kod = info[2].ToBoolean();
  }
  return info.Env().Undefined();
}

// setRateLimit({ enabled, intervalS, burst, kodIntervalS })
Napi::Value UdpEndpoint::SetRateLimit(const Napi::CallbackInfo& info) {
  if (responder_) {
    Napi::Object o = info[0].As<Napi::Object>();
    RateLimitConfig c;
    c.enabled = o.Get("enabled").ToBoolean();
    c.interval_s = NumOr(o, "intervalS", c.interval_s);
    c.burst = NumOr(o, "burst", c.burst);
    c.kod_interval_s = NumOr(o, "kodIntervalS", c.kod_interval_s);
    responder_->limiter.Configure(c);
  }
  return info.Env().Undefined();
}

// setKeys([[id, typeIndex, secret: Uint8Array], ...]); typeIndex follows KeyType.
Napi::Value UdpEndpoint::SetKeys(const Napi::CallbackInfo& info) {
  if (responder_) {
    auto arr = info[0].As<Napi::Array>();
    responder_->keys.Clear();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      auto e = arr.Get(i).As<Napi::Array>();
      auto secret = e.Get(2u).As<Napi::Uint8Array>();
      NtpKey k{static_cast<KeyType>(e.Get(1u).As<Napi::Number>().Uint32Value()),
               std::vector<uint8_t>(secret.Data(), secret.Data() + secret.ByteLength())};
      responder_->keys.Add(e.Get(0u).As<Napi::Number>().Uint32Value(), std::move(k));
    }
  }
  return info.Env().Undefined();
}

// setNtsKeys([[id, key: Uint8Array(32)], ...]): the NTS master keys, newest first; [] turns NTS
// off.
Napi::Value UdpEndpoint::SetNtsKeys(const Napi::CallbackInfo& info) {
  if (responder_) {
    auto arr = info[0].As<Napi::Array>();
    std::vector<NtsMasterKey> keys(std::min<size_t>(arr.Length(), kNtsMasterKeys));
    for (uint32_t i = 0; i < keys.size(); i++) {
      auto e = arr.Get(i).As<Napi::Array>();
      keys[i].id = e.Get(0u).As<Napi::Number>().Uint32Value();
      std::memcpy(keys[i].key, e.Get(1u).As<Napi::Uint8Array>().Data(), kSivKeyBytes);
    }
    responder_->nts.SetKeys(keys.data(), keys.size());
    OPENSSL_cleanse(keys.data(), keys.size() * sizeof(NtsMasterKey));
  }
  return info.Env().Undefined();
}

// setResponderConfig({ requireAuth, interleavedEntries })
Napi::Value UdpEndpoint::SetResponderConfig(const Napi::CallbackInfo& info) {
  if (responder_) {
    Napi::Object o = info[0].As<Napi::Object>();
    responder_->config.require_auth = o.Get("requireAuth").ToBoolean();
    // Interleaved mode's table: resized (and so emptied) only when its size changes.
    size_t entries = static_cast<size_t>(NumOr(o, "interleavedEntries", 0));
    if (entries != responder_->interleave.requested()) responder_->interleave.Resize(entries);
  }
  return info.Env().Undefined();
}

}  // namespace ct

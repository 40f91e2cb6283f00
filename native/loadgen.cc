// The NTP load generator behind `clocktower bench` (in the spirit of
// ntpperf): NTPv4 client requests from several source ports via sendmmsg,
// replies read with recvmmsg and kernel RX stamps, each reply checked (mode
// 4, origin = one of our in-flight transmit timestamps). Closed loop (a
// window in flight) or open loop (a fixed rate). Runs on a libuv worker
// thread; always bounded by its duration. With `interleaved`, each request
// after the first replies of a socket is in interleaved form (RFC 9769 §3):
// origin = the receive stamp of an earlier reply, receive = our sequence
// number (an interleaved reply echoes it as origin), transmit = its
// complement (a basic reply echoes that). With `nts` (RFC 8915 §5), every
// request carries a unique identifier, the one cookie given (a server keeps
// no state per client, so one cookie serves a whole run) and an
// authenticator sealed under C2S; a reply counts as valid only when it
// carries our identifier and its authenticator opens under S2C (an NTS NAK
// counts as a KoD).
#include <arpa/inet.h>
#include <errno.h>
#include <napi.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "big_endian.h"
#include "errors.h"
#include "nts_aead.h"
#include "timestamps.h"

namespace ct {
namespace {

constexpr size_t kRing = 1 << 16;  // in-flight slots per socket
constexpr int kSubBuckets = 64;    // log-linear latency histogram
constexpr int kBuckets = 48 * kSubBuckets;

int64_t Now(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int Bucket(int64_t ns) {
  if (ns < kSubBuckets) return static_cast<int>(std::max<int64_t>(ns, 0));
  int exp = 63 - __builtin_clzll(static_cast<uint64_t>(ns));  // >= 6
  int sub = static_cast<int>((ns >> (exp - 6)) & (kSubBuckets - 1));
  return std::min(kBuckets - 1, (exp - 5) * kSubBuckets + sub);
}
int64_t BucketValue(int b) {
  if (b < kSubBuckets) return b;
  int exp = b / kSubBuckets + 5;
  int sub = b % kSubBuckets;
  return (static_cast<int64_t>(kSubBuckets + sub) << (exp - 6));
}

struct Options {
  std::string address;
  int port = 123;
  int family = AF_INET;
  int sockets = 4;
  int window = 64;
  double rate_pps = 0;  // 0: closed loop
  int64_t duration_ns = 1000000000;
  int64_t timeout_ns = 200000000;
  int batch = 32;
  bool interleaved = false;
  // NTS: empty cookie = off.
  std::vector<uint8_t> nts_cookie;
  uint8_t nts_c2s[32] = {}, nts_s2c[32] = {};
};

constexpr size_t kNtsUid = 32;
constexpr size_t kMaxRequest = 48 + 4 + kNtsUid + 4 + 1024 + 4 + 4 + 16 + 16;
constexpr size_t kMaxReply = 1280;

struct Result {
  uint64_t sent = 0, valid = 0, invalid = 0, kod = 0, lost = 0, interleaved = 0;
  int64_t elapsed_ns = 0;
  std::vector<uint64_t> hist = std::vector<uint64_t>(kBuckets, 0);
  std::string error;
  int err = 0;
};

struct Sock {
  int fd = -1;
  uint64_t base = 0;
  uint64_t next = 0, tail = 0;  // sequence numbers: [tail, next) may be in flight
  uint32_t inflight = 0;
  std::vector<int64_t> sent_ns = std::vector<int64_t>(kRing);
  std::vector<uint8_t> state = std::vector<uint8_t>(kRing);  // 1 in flight, 0 done
  // Interleaved mode: receive stamps of replies not yet named by a request (a ring, oldest first).
  std::vector<uint64_t> keys = std::vector<uint64_t>(kRing);
  uint64_t keys_head = 0, keys_tail = 0;
  std::vector<uint8_t> xl_form =
      std::vector<uint8_t>(kRing);  // 1: that request was in interleaved form
};

void Run(const Options& o, Result* r) {
  sockaddr_storage dst = {};
  socklen_t dst_len;
  if (o.family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&dst);
    a->sin_family = AF_INET;
    a->sin_port = htons(o.port);
    inet_pton(AF_INET, o.address.c_str(), &a->sin_addr);
    dst_len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&dst);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(o.port);
    inet_pton(AF_INET6, o.address.c_str(), &a->sin6_addr);
    dst_len = sizeof *a;
  }
  std::mt19937_64 rng(std::random_device{}());
  std::vector<Sock> socks(o.sockets);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < o.sockets; i++) {
    Sock& s = socks[i];
    s.base = rng();
    s.fd = socket(o.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0 || connect(s.fd, reinterpret_cast<sockaddr*>(&dst), dst_len) != 0) {
      r->err = errno;
      r->error = "connect";
      break;
    }
    int buf = 4 << 20;
    setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    EnableRxStamps(s.fd);
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  }
  const int B = o.batch;
  const bool nts = !o.nts_cookie.empty();
  const size_t rx_size = nts ? kMaxReply : 128;
  std::vector<uint8_t> out(B * kMaxRequest), in(B * rx_size), ctrl(B * 128);
  SivKey c2s, s2c;
  if (nts && (!c2s.Set(o.nts_c2s) || !s2c.Set(o.nts_s2c))) {
    r->err = EINVAL;
    r->error = "AES-SIV keys";
  }
  std::vector<uint8_t> nts_plain(kMaxReply);
  // The request's NTS fields after the header: the identifier (its first 8 bytes the
  // request's id, so replies to other requests never match), the cookie, the authenticator.
  auto seal_nts = [&](uint8_t* p, uint64_t id) -> size_t {
    uint8_t* f = p + 48;
    Put16(f, 0x0104);
    Put16(f + 2, 4 + kNtsUid);
    std::memset(f + 4, 0x5a, kNtsUid);
    Put64(f + 4, id);
    f += 4 + kNtsUid;
    size_t cookie_len = (o.nts_cookie.size() + 3) & ~static_cast<size_t>(3);
    Put16(f, 0x0204);
    Put16(f + 2, 4 + cookie_len);
    std::memset(f + 4, 0, cookie_len);
    std::memcpy(f + 4, o.nts_cookie.data(), o.nts_cookie.size());
    f += 4 + cookie_len;
    size_t ad = static_cast<size_t>(f - p);
    Put16(f, 0x0404);
    Put16(f + 2, 4 + 4 + 16 + 16);
    Put16(f + 4, 16);
    Put16(f + 6, 16);
    Put64(f + 8, id);  // the nonce: unique per request (SIV does not need it random)
    Put64(f + 16, ~id);
    SivPart parts[2] = {{p, ad}, {f + 8, 16}};
    c2s.Seal(parts, 2, nullptr, 0, f + 24);
    return ad + 40;
  };
  // A reply to an NTS request: our identifier, and the authenticator, last, opens under S2C.
  auto check_nts = [&](const uint8_t* p, size_t len, uint64_t id) -> bool {
    size_t at = 48;
    bool uid_ok = false;
    while (at + 4 <= len) {
      size_t flen = Get16(p + at + 2);
      if (flen < 4 || at + flen > len) return false;
      uint16_t type = Get16(p + at);
      if (type == 0x0104) {
        uint8_t want[8];
        Put64(want, id);
        uid_ok = flen == 4 + kNtsUid && std::memcmp(p + at + 4, want, 8) == 0;
      } else if (type == 0x0404) {
        if (!uid_ok || at + flen != len || flen < 8) return false;
        size_t nonce = Get16(p + at + 4), sealed = Get16(p + at + 6);
        size_t nonce_pad = (nonce + 3) & ~static_cast<size_t>(3);
        if (sealed < 16 || 8 + nonce_pad + sealed > flen) return false;
        SivPart parts[2] = {{p, at}, {p + at + 8, nonce}};
        return s2c.Open(parts, 2, p + at + 8 + nonce_pad, sealed, nts_plain.data());
      }
      at += flen;
    }
    return false;
  };
  std::vector<struct mmsghdr> smsg(B), rmsg(B);
  std::vector<struct iovec> siov(B), riov(B);
  const int per_sock_window = std::max(1, (o.window + o.sockets - 1) / o.sockets);

  auto send_batch = [&](Sock& s, int n) {
    int64_t t = Now(CLOCK_REALTIME);
    for (int k = 0; k < n; k++) {
      uint8_t* p = &out[k * kMaxRequest];
      std::memset(p, 0, 48);
      p[0] = (4 << 3) | 3;
      uint64_t id = s.base + s.next + k;
      bool xl = o.interleaved && s.keys_tail < s.keys_head;
      s.xl_form[(s.next + k) & (kRing - 1)] = xl;
      if (xl) {
        Put64(p + 24, s.keys[s.keys_tail++ & (kRing - 1)]);
        Put64(p + 32, id);
        Put64(p + 40, ~id);
      } else {
        Put64(p + 40, id);
      }
      siov[k] = {p, nts ? seal_nts(p, id) : 48};
      smsg[k].msg_hdr = {};
      smsg[k].msg_hdr.msg_iov = &siov[k];
      smsg[k].msg_hdr.msg_iovlen = 1;
    }
    int m = sendmmsg(s.fd, smsg.data(), n, 0);
    if (m <= 0) return;
    for (int k = 0; k < m; k++) {
      size_t slot = (s.next + k) & (kRing - 1);
      s.sent_ns[slot] = t;
      s.state[slot] = 1;
    }
    s.next += m;
    s.inflight += m;
    r->sent += m;
  };
  auto expire = [&](Sock& s, int64_t now) {
    while (s.tail < s.next) {
      size_t slot = s.tail & (kRing - 1);
      if (s.state[slot] == 1) {
        if (now - s.sent_ns[slot] < o.timeout_ns) break;
        s.state[slot] = 0;
        s.inflight--;
        r->lost++;
      }
      s.tail++;
    }
  };
  auto receive = [&](Sock& s) {
    for (;;) {
      for (int k = 0; k < B; k++) {
        riov[k] = {&in[k * rx_size], rx_size};
        rmsg[k].msg_hdr = {};
        rmsg[k].msg_hdr.msg_iov = &riov[k];
        rmsg[k].msg_hdr.msg_iovlen = 1;
        rmsg[k].msg_hdr.msg_control = &ctrl[k * 128];
        rmsg[k].msg_hdr.msg_controllen = 128;
      }
      int m = recvmmsg(s.fd, rmsg.data(), B, MSG_DONTWAIT, nullptr);
      if (m <= 0) return;
      int64_t user = 0;
      for (int k = 0; k < m; k++) {
        const uint8_t* p = &in[k * rx_size];
        // A basic reply to a request in interleaved form echoes the complement of the sequence
        // number.
        uint64_t origin = Get64(p + 24);
        uint64_t seq = origin - s.base;
        bool xleave = true;
        if (!(seq >= s.tail && seq < s.next)) {
          seq = ~origin - s.base;
          xleave = false;
        }
        // A reply is interleaved when it echoes our receive field (the sequence number, not its
        // complement) and the request was in interleaved form: its transmit then carries the
        // earlier reply's TX stamp.
        size_t slot = seq & (kRing - 1);
        bool ours = rmsg[k].msg_len >= 48 && seq >= s.tail && seq < s.next && s.state[slot] == 1;
        if (!ours || (p[0] & 7) != 4) {
          r->invalid++;
          continue;
        }
        s.state[slot] = 0;
        s.inflight--;
        if (p[1] == 0) {
          r->kod++;
          continue;
        }
        if (nts && !check_nts(p, rmsg[k].msg_len, seq + s.base)) {
          r->invalid++;
          continue;
        }
        int64_t rx;
        StampSource src;
        if (!ParseRxStamp(&rmsg[k].msg_hdr, &rx, &src))
          rx = user ? user : (user = Now(CLOCK_REALTIME));
        r->valid++;
        if (o.interleaved) {
          if (xleave && s.xl_form[slot]) r->interleaved++;
          if (s.keys_head - s.keys_tail < kRing)
            s.keys[s.keys_head++ & (kRing - 1)] = Get64(p + 32);
        }
        r->hist[Bucket(rx - s.sent_ns[slot])]++;
      }
    }
  };

  int64_t start = Now(CLOCK_MONOTONIC);
  int64_t end = start + o.duration_ns;
  int rr = 0;
  while (r->err == 0) {
    int64_t now = Now(CLOCK_MONOTONIC);
    if (now >= end) break;
    if (o.rate_pps <= 0) {
      for (Sock& s : socks) {
        int room = per_sock_window - static_cast<int>(s.inflight);
        while (room > 0 && s.next - s.tail < kRing - B) {
          int n = std::min(room, B);
          send_batch(s, n);
          room -= n;
        }
      }
    } else {
      uint64_t due = static_cast<uint64_t>(o.rate_pps * (now - start) * 1e-9);
      while (r->sent < due) {
        Sock& s = socks[rr++ % o.sockets];
        int n = static_cast<int>(std::min<uint64_t>(due - r->sent, B));
        if (s.next - s.tail >= kRing - B) break;
        uint64_t before = r->sent;
        send_batch(s, n);
        if (r->sent == before) break;
      }
    }
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, o.rate_pps > 0 ? 0 : 1);
    for (int i = 0; i < n; i++) receive(socks[evs[i].data.u32]);
    int64_t rt = Now(CLOCK_REALTIME);
    for (Sock& s : socks) expire(s, rt);
  }
  r->elapsed_ns = Now(CLOCK_MONOTONIC) - start;
  // Drain: replies still in flight get their timeout to arrive.
  int64_t drain_end = Now(CLOCK_MONOTONIC) + o.timeout_ns;
  while (Now(CLOCK_MONOTONIC) < drain_end) {
    uint32_t inflight = 0;
    for (Sock& s : socks) inflight += s.inflight;
    if (inflight == 0) break;
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, 1);
    for (int i = 0; i < n; i++) receive(socks[evs[i].data.u32]);
  }
  for (Sock& s : socks) {
    r->lost += s.inflight;
    if (s.fd >= 0) close(s.fd);
  }
  close(ep);
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, Options o)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), o_(std::move(o)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { Run(o_, &r_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (r_.err) {
      deferred_.Reject(ErrnoError(env, r_.err, r_.error.c_str()).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("sent", static_cast<double>(r_.sent));
    o.Set("valid", static_cast<double>(r_.valid));
    o.Set("invalid", static_cast<double>(r_.invalid));
    o.Set("kod", static_cast<double>(r_.kod));
    o.Set("lost", static_cast<double>(r_.lost));
    o.Set("interleaved", static_cast<double>(r_.interleaved));
    o.Set("elapsedNs", static_cast<double>(r_.elapsed_ns));
    // Percentiles from the histogram (upper edge of the bucket holding the rank).
    Napi::Object lat = Napi::Object::New(env);
    const double qs[] = {0.5, 0.99, 0.999};
    const char* names[] = {"p50", "p99", "p999"};
    for (int q = 0; q < 3; q++) {
      uint64_t rank = static_cast<uint64_t>(qs[q] * static_cast<double>(r_.valid));
      uint64_t acc = 0;
      int64_t v = 0;
      for (int b = 0; b < kBuckets; b++) {
        acc += r_.hist[b];
        if (acc > rank) {
          v = BucketValue(b + 1);
          break;
        }
      }
      lat.Set(names[q], static_cast<double>(v));
    }
    o.Set("latencyNs", lat);
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  Options o_;
  Result r_;
};

// runLoad({ address, port, family, sockets, window, ratePps, durationMs, timeoutMs, batch,
// interleaved, nts?: { cookie, c2s, s2c } }) ->
// Promise
Napi::Value RunLoad(const Napi::CallbackInfo& info) {
  Napi::Object a = info[0].As<Napi::Object>();
  Options o;
  o.address = a.Get("address").As<Napi::String>().Utf8Value();
  o.port = a.Get("port").As<Napi::Number>().Int32Value();
  o.family = a.Get("family").As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  o.sockets = a.Get("sockets").As<Napi::Number>().Int32Value();
  o.window = a.Get("window").As<Napi::Number>().Int32Value();
  o.rate_pps = a.Get("ratePps").As<Napi::Number>().DoubleValue();
  o.duration_ns = static_cast<int64_t>(a.Get("durationMs").As<Napi::Number>().DoubleValue() * 1e6);
  o.timeout_ns = static_cast<int64_t>(a.Get("timeoutMs").As<Napi::Number>().DoubleValue() * 1e6);
  o.batch = a.Get("batch").As<Napi::Number>().Int32Value();
  o.interleaved = a.Get("interleaved").ToBoolean();
  // JS validates (src/tools/bench.ts): a cookie of 1..1024 bytes, 32-byte keys.
  Napi::Value nts = a.Get("nts");
  if (nts.IsObject()) {
    Napi::Object n = nts.As<Napi::Object>();
    auto cookie = n.Get("cookie").As<Napi::Uint8Array>();
    o.nts_cookie.assign(cookie.Data(), cookie.Data() + cookie.ByteLength());
    std::memcpy(o.nts_c2s, n.Get("c2s").As<Napi::Uint8Array>().Data(), 32);
    std::memcpy(o.nts_s2c, n.Get("s2c").As<Napi::Uint8Array>().Data(), 32);
  }
  auto* w = new LoadWorker(info.Env(), std::move(o));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitLoadGen(Napi::Env env, Napi::Object exports) {
  exports.Set("runLoad", Napi::Function::New(env, RunLoad));
}

}  // namespace ct

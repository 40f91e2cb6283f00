// libFuzzer target: the native responder (request parse, access, rate
// limit, MAC verification, response build and signing) on arbitrary bytes.
// The first 8 bytes choose the configuration; the rest is the datagram.
// Checked: answers only to modes 1 and 3, never larger than the request,
// modes 6 and 7 never answered, the counters add up. Interleaved mode is on
// (a small table): a reply kept for interleaving is stamped at once, so a
// later input naming its RX stamp is answered interleaved, and such an
// answer echoes the request's receive field and carries the stamp. NTS is on
// (one master key, the one scripts/fuzz-seeds.ts seals its NTS seeds' cookies
// under): an NTS answer must open under the S2C key inside the request's
// cookie, carry the request's unique identifier, and be no larger than it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../nts_aead.h"
#include "../responder.h"

using namespace ct;

namespace {
void Require(bool ok) {
  if (!ok) __builtin_trap();
}

Responder& Shared() {
  // One responder across inputs, as in a server: the rate table fills and wraps.
  static Responder& r = *[] {
    auto* p = new Responder;  // never freed: lives as long as the fuzzer
    Responder& x = *p;
    // Keys 1 and 2 are the ones the seed corpus was signed with (scripts/fuzz-seeds.ts).
    const char* md5 = "fuzzseedmd5";
    x.keys.Add(1, NtpKey{KeyType::kMd5, std::vector<uint8_t>(md5, md5 + 11)});
    x.keys.Add(
        2, NtpKey{KeyType::kSha1, {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                                   0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33}});
    x.keys.Add(3, NtpKey{KeyType::kAes128, std::vector<uint8_t>(16, 0xa5)});
    x.keys.Add(4, NtpKey{KeyType::kSha512, std::vector<uint8_t>(33, 0x11)});
    x.keys.Add(5, NtpKey{KeyType::kAes256, std::vector<uint8_t>(32, 0x22)});
    x.interleave.Resize(8);
    NtsMasterKey mk{0x4e545331, {}};
    std::memset(mk.key, 0x5a, sizeof mk.key);
    x.nts.SetKeys(&mk, 1);
    return p;
  }();
  return r;
}
// The first extension field of this type (the responder answered: the fields are well formed).
const uint8_t* FindField(const uint8_t* req, int type) {
  size_t at = 48;
  while (((req[at] << 8) | req[at + 1]) != type) at += (req[at + 2] << 8) | req[at + 3];
  return req + at;
}

// An NTS answer: the identifier echoed, the authenticator last, opening under the request
// cookie's S2C (the cookie opened here with the master key, independently of the responder).
void CheckNts(const uint8_t* req, const uint8_t* out, const PendingResponse& p) {
  Require(p.nts.plain_len > 0 && p.len > p.nts.ad_len);
  size_t uid_len = ((out[50] << 8) | out[51]) - 4u;
  const uint8_t* uid = FindField(req, 0x0104);
  Require(out[48] == 0x01 && out[49] == 0x04 && uid_len == ((uid[2] << 8) | uid[3]) - 4u &&
          std::memcmp(out + 52, uid + 4, uid_len) == 0);
  Require(p.nts.ad_len == 48 + 4 + uid_len);
  const uint8_t* cookie = FindField(req, 0x0204) + 4;
  uint8_t master[32], plain[68];
  std::memset(master, 0x5a, sizeof master);
  SivPart cparts[2] = {{cookie, 4}, {cookie + 4, 16}};
  Require(SivOpen(master, cparts, 2, cookie + 20, 84, plain));
  const uint8_t* a = out + p.nts.ad_len;
  Require(a[0] == 0x04 && a[1] == 0x04);
  size_t sealed_len = (a[6] << 8) | a[7];
  Require(p.nts.ad_len + 8 + 16 + sealed_len == p.len);
  SivPart parts[2] = {{out, p.nts.ad_len}, {a + 8, 16}};
  static uint8_t inner[2048];
  Require(sealed_len - 16 <= sizeof inner);
  Require(SivOpen(plain + 36, parts, 2, a + 24, sealed_len, inner));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  Responder& r = Shared();
  uint8_t mode_bits = data[0];
  r.config.deny_kod = mode_bits & 1;
  r.config.require_auth = mode_bits & 2;
  RateLimitConfig rl;
  rl.enabled = mode_bits & 4;
  rl.interval_s = 0.001 + (data[1] & 0x0f) * 0.01;
  rl.burst = 1 + (data[1] >> 4);
  rl.kod_interval_s = 0.5;
  r.limiter.Configure(rl);
  // An access list from two bytes: deny one /prefix, allow another.
  std::vector<Cidr> allow, deny;
  if (mode_bits & 8) {
    Cidr c{};
    c.addr[10] = c.addr[11] = 0xff;
    c.addr[12] = data[2];
    c.prefix = static_cast<uint8_t>(96 + (data[3] % 33));
    (mode_bits & 16 ? deny : allow).push_back(c);
  }
  r.access.Set(allow, deny);
  ServerState st;
  st.leap = data[4] & 3;
  st.stratum = data[5] % 17;
  st.has_reference = data[6] & 1;
  st.reference_ns = 1'700'000'000'000'000'000LL;
  st.root_dispersion_ns = data[6] * 1000.0;
  r.SetState(st);
  uint8_t addr16[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, data[7]};

  const uint8_t* req = data + 8;
  size_t len = size - 8;
  static double now_s = 0;
  now_s += 0.001;
  uint8_t out[kMaxResponse];
  PendingResponse pending;
  uint64_t counters[kCounterCount] = {};
  Verdict v = r.Handle(req, len, false, addr16, 1'800'000'000'000'000'000LL, now_s, out, &pending,
                       counters);
  Require(counters[kReceived] == 1);
  int mode = len > 0 ? req[0] & 7 : 0;
  if (v == Verdict::kAnswer) {
    Require(mode == 3 || mode == 1);
    Require(pending.len <= len);  // no amplification
    Require(r.Finish(out, pending, 0x0123456789abcdefULL));
    Require((out[0] & 7) == (mode == 3 ? 4 : 2));
    Require(out[39] & 1);  // receive stamps carry the low bit
    if (pending.tx_interleaved != 0) {
      // Interleaved: origin = request receive, transmit = the kept stamp.
      Require(mode == 3 && std::memcmp(out + 24, req + 32, 8) == 0);
      Require(counters[kAnsweredInterleaved] == 1);
    } else {
      Require(std::memcmp(out + 24, req + 40, 8) == 0);  // origin = request transmit
      Require((out[47] & 1) == 0);                       // basic transmit: low bit clear
    }
    Require(counters[kAnswered] + counters[kKodRate] + counters[kKodDeny] + counters[kNtsNak] == 1);
    if (counters[kAnsweredNts] == 1) CheckNts(req, out, pending);
    // The server stamps a reply kept for interleaving as it leaves.
    static uint32_t tx_id = 0;
    if (pending.rx_key != 0) {
      r.interleave.Expect(pending.rx_key, pending.peer_hash, tx_id);
      r.interleave.Stamp(tx_id++, 0x0123456789abcdeeULL);
    }
  } else {
    Require(counters[kAnswered] == 0);
  }
  if (mode == 6 || mode == 7) Require(v == Verdict::kDrop);
  return 0;
}

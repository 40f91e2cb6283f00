#include "timestamps.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

#include "cmsg.h"

namespace ct {
namespace {

// Old (native long) and new (64-bit) layouts of the stamp payloads.
struct OldTs {
  long sec;
  long frac;
};
struct NewTs {
  int64_t sec;
  int64_t frac;
};

template <typename T>
int64_t ToNs(const unsigned char* data, int64_t frac_scale) {
  T t;
  std::memcpy(&t, data, sizeof t);
  // Unsigned: a garbage stamp wraps (defined) instead of overflowing (UB).
  return static_cast<int64_t>(static_cast<uint64_t>(t.sec) * 1000000000ULL +
                              static_cast<uint64_t>(t.frac) * static_cast<uint64_t>(frac_scale));
}

bool TrySetInt(int fd, int level, int opt, int value) {
  return setsockopt(fd, level, opt, &value, sizeof value) == 0;
}

constexpr int kTxReportFlags =
    SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
// Linux 6.12+: without it, SOF_TIMESTAMPING_SOFTWARE also reports every
// received datagram's software stamp a second time (an SCM_TIMESTAMPING
// cmsg beside SO_TIMESTAMPNS's), ~3 % of a server's kernel instructions per
// reply. Older headers lack the name; older kernels refuse the bit (EINVAL).
constexpr int kOptRxFilter = 1 << 17;

}  // namespace

StampSource EnableRxStamps(int fd) {
  if (TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) return kStampKernelNs;
#ifdef SO_TIMESTAMPNS_OLD
  if (SO_TIMESTAMPNS_OLD != SO_TIMESTAMPNS && TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMPNS_OLD, 1))
    return kStampKernelNs;
#endif
  if (TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMP, 1)) return kStampKernelUs;
#ifdef SO_TIMESTAMP_OLD
  if (SO_TIMESTAMP_OLD != SO_TIMESTAMP && TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMP_OLD, 1))
    return kStampKernelUs;
#endif
  return kStampUser;
}

bool EnableTxStampIds(int fd) {
  return TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMPING, kTxReportFlags | kOptRxFilter) ||
         TrySetInt(fd, SOL_SOCKET, SO_TIMESTAMPING, kTxReportFlags);
}

size_t AppendTxStampRequest(uint8_t* buf, size_t cap) {
  size_t space = CMSG_SPACE(sizeof(uint32_t));
  if (cap < space) return 0;
  std::memset(buf, 0, space);
  struct cmsghdr* c = reinterpret_cast<struct cmsghdr*>(buf);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SO_TIMESTAMPING;
  c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
  uint32_t flags = SOF_TIMESTAMPING_TX_SOFTWARE;
  std::memcpy(CMSG_DATA(c), &flags, sizeof flags);
  return space;
}

bool ParseRxStamp(const struct msghdr* msg, int64_t* ns, StampSource* source) {
  bool found_us = false;
  int64_t us_ns = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c;
       c = CMSG_NXTHDR(const_cast<struct msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    const unsigned char* d = CMSG_DATA(c);
    size_t n = CmsgPayload(msg, c);
    int t = c->cmsg_type;
#ifdef SO_TIMESTAMPNS_NEW
    if (t == SO_TIMESTAMPNS_NEW && n >= sizeof(NewTs)) {
      *ns = ToNs<NewTs>(d, 1);
      *source = kStampKernelNs;
      return true;
    }
#endif
#ifdef SO_TIMESTAMPNS_OLD
    if (t == SO_TIMESTAMPNS_OLD && n >= sizeof(OldTs)) {
#else
    if (t == SO_TIMESTAMPNS && n >= sizeof(OldTs)) {
#endif
      *ns = ToNs<OldTs>(d, 1);
      *source = kStampKernelNs;
      return true;
    }
#ifdef SO_TIMESTAMP_NEW
    if (t == SO_TIMESTAMP_NEW && n >= sizeof(NewTs)) {
      us_ns = ToNs<NewTs>(d, 1000);
      found_us = true;
    }
#endif
#ifdef SO_TIMESTAMP_OLD
    if (t == SO_TIMESTAMP_OLD && n >= sizeof(OldTs)) {
#else
    if (t == SO_TIMESTAMP && n >= sizeof(OldTs)) {
#endif
      us_ns = ToNs<OldTs>(d, 1000);
      found_us = true;
    }
  }
  if (found_us) {
    *ns = us_ns;
    *source = kStampKernelUs;
  }
  return found_us;
}

namespace {
// The TX stamp and its OPT_ID key in one error-queue message: 1, or 0 for another message.
int ParseTxStamp(const struct msghdr* msg, uint32_t* id, int64_t* ns) {
  bool have_ts = false, have_id = false;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    const unsigned char* d = CMSG_DATA(c);
    size_t n = CmsgPayload(msg, c);
    if (c->cmsg_level == SOL_SOCKET) {
      // scm_timestamping: ts[0] is the software stamp.
#ifdef SO_TIMESTAMPING_NEW
      if (c->cmsg_type == SO_TIMESTAMPING_NEW && n >= 3 * sizeof(NewTs)) {
        *ns = ToNs<NewTs>(d, 1);
        have_ts = true;
        continue;
      }
#endif
#ifdef SO_TIMESTAMPING_OLD
      if (c->cmsg_type == SO_TIMESTAMPING_OLD && n >= 3 * sizeof(OldTs)) {
#else
      if (c->cmsg_type == SO_TIMESTAMPING && n >= 3 * sizeof(OldTs)) {
#endif
        *ns = ToNs<OldTs>(d, 1);
        have_ts = true;
      }
    } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
               (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      struct sock_extended_err ee;
      if (n < sizeof ee) continue;
      std::memcpy(&ee, d, sizeof ee);
      if (ee.ee_errno == ENOMSG && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
        *id = ee.ee_data;
        have_id = true;
      }
    }
  }
  return have_ts && have_id && *ns != 0 ? 1 : 0;
}
}  // namespace

int ReadTxStamps(int fd, TxStamp* out, int max) {
  constexpr int kBatch = 32;
  constexpr size_t kCtrl = 256;
  alignas(struct cmsghdr) unsigned char ctrl[kBatch][kCtrl];
  struct mmsghdr msgs[kBatch];
  int want = max < kBatch ? max : kBatch;
  for (int i = 0; i < want; i++) {
    msgs[i].msg_hdr = {};
    msgs[i].msg_hdr.msg_control = ctrl[i];
    msgs[i].msg_hdr.msg_controllen = kCtrl;
  }
  // TSONLY stamps carry no payload: no iovec needed. One call for a batch: a server in interleaved
  // mode has a stamp per reply to read.
  int got = recvmmsg(fd, msgs, static_cast<unsigned>(want), MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
  if (got < 0) return -1;
  int n = 0;
  for (int i = 0; i < got; i++) {
    out[n].valid = ParseTxStamp(&msgs[i].msg_hdr, &out[n].id, &out[n].ns) == 1;
    n++;
  }
  return n;
}

}  // namespace ct

#include "udp_endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "addresses.h"
#include "errors.h"

namespace ct {
namespace {

constexpr int kMaxRounds =
    16;  // recvmmsg rounds per wakeup, so one busy socket cannot starve the loop

void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(uint8_t* p, int64_t v) { std::memcpy(p, &v, 8); }

}  // namespace

int64_t RealtimeNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

Napi::Function UdpEndpoint::Define(Napi::Env env) {
  return DefineClass(
      env, "UdpEndpoint",
      {InstanceMethod("send", &UdpEndpoint::Send),
       InstanceMethod("sendBatch", &UdpEndpoint::SendBatch),
       InstanceMethod("localAddress", &UdpEndpoint::LocalAddress),
       InstanceMethod("close", &UdpEndpoint::Close), InstanceMethod("setRef", &UdpEndpoint::SetRef),
       InstanceMethod("enableResponder", &UdpEndpoint::EnableResponder),
       InstanceMethod("setServerState", &UdpEndpoint::SetServerState),
       InstanceMethod("setAccess", &UdpEndpoint::SetAccess),
       InstanceMethod("setRateLimit", &UdpEndpoint::SetRateLimit),
       InstanceMethod("setKeys", &UdpEndpoint::SetKeys),
       InstanceMethod("setResponderConfig", &UdpEndpoint::SetResponderConfig),
       InstanceMethod("setNtsKeys", &UdpEndpoint::SetNtsKeys),
       InstanceMethod("setBroadcast", &UdpEndpoint::SetBroadcast),
       InstanceMethod("setMembership", &UdpEndpoint::SetMembership),
       InstanceMethod("setMulticastSend", &UdpEndpoint::SetMulticastSend)});
}

// new UdpEndpoint({ family, address, port, slots, maxDatagram, reusePort,
//                   ipv6Only, txSlots, rcvbuf }, onRx(count), onTx(count))
UdpEndpoint::UdpEndpoint(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<UdpEndpoint>(info), env_(info.Env()) {
  Napi::Object o = info[0].As<Napi::Object>();
  family_ = o.Get("family").As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  std::string address = o.Get("address").As<Napi::String>().Utf8Value();
  uint32_t port = o.Get("port").As<Napi::Number>().Uint32Value();
  slots_ = o.Get("slots").As<Napi::Number>().Uint32Value();
  size_t max_datagram = o.Get("maxDatagram").As<Napi::Number>().Uint32Value();
  tx_slots_ = o.Get("txSlots").As<Napi::Number>().Uint32Value();
  bool reuse_port = o.Get("reusePort").ToBoolean();
  bool v6only = o.Get("ipv6Only").ToBoolean();
  uint32_t rcvbuf = o.Get("rcvbuf").As<Napi::Number>().Uint32Value();
  on_rx_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_tx_ = Napi::Persistent(info[2].As<Napi::Function>());

  sockaddr_storage ss;
  socklen_t sslen;
  if (!ParseAddress(address, port, family_, &ss, &sslen)) ThrowErrno(env_, EINVAL, "inet_pton");

  fd_ = socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) ThrowErrno(env_, errno, "socket");
  int one = 1;
  if (reuse_port) setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // A bigger receive queue rides out a stalled loop (a GC, a busy moment) at
  // high packet rates; the kernel doubles the request and caps it at rmem_max.
  if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (family_ == AF_INET) {
    wildcard_ = reinterpret_cast<sockaddr_in*>(&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  } else {
    wildcard_ = IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
  }
  // Arrival address and interface: only a wildcard bind needs them (to answer
  // from the address asked); elsewhere the kernel would build the cmsg for
  // every datagram for nothing (~2 % of a server's instructions per reply).
  if (family_ == AF_INET6) {
    int v = v6only ? 1 : 0;
    setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v);
    if (wildcard_) setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  } else if (wildcard_) {
    setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }
  if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), sslen) != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    ThrowErrno(env_, err, "bind");
  }
  rx_source_ = EnableRxStamps(fd_);
  tx_stamps_ = EnableTxStampIds(fd_);

  // The socket is watched through a private epoll set: libuv's uv_poll stops
  // a handle on POLLERR, which is exactly how the kernel announces TX stamps
  // on the error queue. The epoll fd itself only ever reports "readable".
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;  // EPOLLERR is always reported
  if (epfd_ < 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_, &ev) != 0) {
    int err = errno;
    ShutDown();
    ThrowErrno(env_, err, "epoll_ctl");
  }
  watched_ = true;

  stride_ = (rec::kHeader + max_datagram + 7) & ~static_cast<size_t>(7);
  Napi::ArrayBuffer rx = Napi::ArrayBuffer::New(env_, slots_ * stride_);
  Napi::ArrayBuffer tx = Napi::ArrayBuffer::New(env_, tx_slots_ * kTxRecord);
  rx_slab_ = static_cast<uint8_t*>(rx.Data());
  tx_slab_ = static_cast<uint8_t*>(tx.Data());
  rx_slab_ref_ = Napi::Persistent(rx);
  tx_slab_ref_ = Napi::Persistent(tx);
  Napi::ArrayBuffer counters = Napi::ArrayBuffer::New(env_, kCounterCount * sizeof(uint64_t));
  counters_ = static_cast<uint64_t*>(counters.Data());
  std::memset(counters_, 0, kCounterCount * sizeof(uint64_t));
  counters_ref_ = Napi::Persistent(counters);
  info.This().As<Napi::Object>().Set("counters", counters);
  info.This().As<Napi::Object>().Set("rxSlab", rx);
  info.This().As<Napi::Object>().Set("txSlab", tx);
  info.This().As<Napi::Object>().Set("stride", static_cast<double>(stride_));
  info.This().As<Napi::Object>().Set("rxStampSource", static_cast<double>(rx_source_));
  info.This().As<Napi::Object>().Set("txStamps", tx_stamps_);
  int got_rcvbuf = 0;
  socklen_t got_len = sizeof got_rcvbuf;
  getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &got_rcvbuf, &got_len);
  info.This().As<Napi::Object>().Set("rcvbuf", static_cast<double>(got_rcvbuf));

  rx_msgs_.resize(slots_);
  rx_iovs_.resize(slots_);
  rx_addrs_.resize(slots_);
  rx_ctrl_.resize(slots_ * kCtrlBytes);
  for (size_t i = 0; i < slots_; i++) {
    rx_iovs_[i].iov_base = rx_slab_ + i * stride_ + rec::kHeader;
    rx_iovs_[i].iov_len = stride_ - rec::kHeader;
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  poll_ = new uv_poll_t;
  uv_poll_init(loop, poll_, epfd_);
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnPoll);
  napi_add_env_cleanup_hook(env_, OnCleanup, this);
  hooked_ = true;
  Ref();  // an open endpoint stays alive, like a dgram socket
}

UdpEndpoint::~UdpEndpoint() { ShutDown(); }

void UdpEndpoint::OnCleanup(void* arg) {
  // Environment teardown (process exit, worker end): close quietly.
  auto* self = static_cast<UdpEndpoint*>(arg);
  self->hooked_ = false;  // Node drops the hook itself once it has run
  self->ShutDown();
}

void UdpEndpoint::ShutDown() {
  if (hooked_) napi_remove_env_cleanup_hook(env_, OnCleanup, this);
  hooked_ = false;
  if (closed_) return;
  closed_ = true;
  if (poll_) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (epfd_ >= 0) ::close(epfd_);
  if (fd_ >= 0) ::close(fd_);
  epfd_ = fd_ = -1;
}

Napi::Value UdpEndpoint::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    ShutDown();
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value UdpEndpoint::SetRef(const Napi::CallbackInfo& info) {
  if (poll_) {
    if (info[0].ToBoolean())
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  return info.Env().Undefined();
}

void UdpEndpoint::OnPoll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<UdpEndpoint*>(handle->data);
  if (!self || status < 0) return;
  Napi::HandleScope scope(self->env_);
  self->Ref();  // JS may close and drop us inside a callback
  // Off the socket's wait queue while draining: a registered epoll entry
  // runs a locked wake-up callback for every datagram that arrives, even
  // when nobody waits (≈ 190 instructions a datagram under load, the gap to
  // a poll() loop); removed, arrivals cost nothing until we re-register,
  // which reports at once if anything is still queued.
  self->Watch(false);
  // JS can detach the slab (a transfer): its memory is then no longer ours to write. Close instead.
  if (self->rx_slab_ref_.Value().IsDetached()) {
    self->ShutDown();
    self->Unref();
    return;
  }
  if (self->tx_outstanding_ > 0) self->DrainErrQueue();
  bool any = !self->closed_ && self->DrainRx();
  // A wakeup with no datagram was for the error queue or a socket error:
  // draining reads and clears both, so a level-triggered report cannot spin.
  if (!any && !self->closed_ && self->tx_outstanding_ == 0) self->DrainErrQueue();
  if (!self->closed_) self->Watch(true);
  self->Unref();
}

void UdpEndpoint::Watch(bool on) {
  if (on == watched_ || epfd_ < 0) return;
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  epoll_ctl(epfd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd_, on ? &ev : nullptr);
  watched_ = on;
}

void UdpEndpoint::CallJs(Napi::FunctionReference& fn, uint32_t count) {
  try {
    fn.MakeCallback(Value(), {Napi::Number::New(env_, count)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
  }
}

bool UdpEndpoint::DrainRx() {
  bool any = false;
  for (int round = 0; round < kMaxRounds && !closed_; round++) {
    // Interleaved mode: stamps of the replies just sent, before requests that name them are read.
    if (round > 0 && tx_outstanding_ > 0 && responder_) DrainErrQueue();
    for (size_t i = 0; i < slots_; i++) {
      struct msghdr& h = rx_msgs_[i].msg_hdr;
      h.msg_name = &rx_addrs_[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &rx_iovs_[i];
      h.msg_iovlen = 1;
      h.msg_control = &rx_ctrl_[i * kCtrlBytes];
      h.msg_controllen = kCtrlBytes;
      h.msg_flags = 0;
    }
    int n = recvmmsg(fd_, rx_msgs_.data(), static_cast<unsigned>(slots_), MSG_DONTWAIT, nullptr);
    if (n <= 0) return any;  // EAGAIN, or an error the next wakeup will see again
    any = true;
    int64_t user_ns = 0;
    for (int i = 0; i < n; i++) {
      uint8_t* r = rx_slab_ + i * stride_;
      const struct msghdr& h = rx_msgs_[i].msg_hdr;
      Put32(r + rec::kLen, rx_msgs_[i].msg_len);
      Put32(r + rec::kFlags, (h.msg_flags & MSG_TRUNC) ? rec::kFlagTruncated : 0);
      int64_t ns;
      StampSource src;
      if (!ParseRxStamp(&h, &ns, &src)) {
        if (user_ns == 0) user_ns = RealtimeNowNs();
        ns = user_ns;
        src = kStampUser;
      }
      Put64(r + rec::kRxNs, ns);
      r[rec::kSource] = src;
      WritePeer(r, rx_addrs_[i]);
      // IP_PKTINFO is asked for on wildcard binds only: elsewhere there is no
      // cmsg to find, and the walk (a libc call per cmsg) is skipped.
      if (wildcard_)
        WriteLocal(r, &h);
      else
        ClearLocal(r);
    }
    size_t for_js = responder_ ? Respond(n) : static_cast<size_t>(n);
    if (for_js > 0) CallJs(on_rx_, static_cast<uint32_t>(for_js));
    if (static_cast<size_t>(n) < slots_) return any;
  }
  return any;
}

void UdpEndpoint::DrainErrQueue() {
  size_t count = 0;
  TxStamp stamps[32];
  for (;;) {
    int got = ReadTxStamps(fd_, stamps, 32);
    if (got <= 0) {
      // Nothing queued: clear a pending socket error so epoll stops reporting it.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      break;
    }
    for (int k = 0; k < got; k++) {
      if (!stamps[k].valid) continue;
      uint32_t id = stamps[k].id;
      int64_t ns = stamps[k].ns;
      if (tx_outstanding_ > 0) tx_outstanding_--;
      // A reply the responder stamped for interleaved mode: kept natively, in node time.
      if (responder_ &&
          responder_->interleave.Stamp(id, UnixNsToNtp64(responder_->state.NodeNs(ns)) & ~1ull))
        continue;
      uint8_t* r = tx_slab_ + count * kTxRecord;
      Put32(r + txrec::kId, id);
      r[txrec::kSource] = kStampKernelTx;
      Put64(r + txrec::kNs, ns);
      if (++count == tx_slots_) {
        CallJs(on_tx_, static_cast<uint32_t>(count));
        count = 0;
        if (closed_) return;
      }
    }
    if (got < 32) break;
  }
  if (count) CallJs(on_tx_, static_cast<uint32_t>(count));
}

bool UdpEndpoint::ResolvePeer(const Napi::Value& addr, uint32_t port, sockaddr_storage* ss,
                              socklen_t* len) {
  return ParseAddress(addr.As<Napi::String>().Utf8Value(), port, family_, ss, len);
}

// send(data: Uint8Array, port, address, wantTxStamp) -> TX stamp id, or -1
// when no stamp was asked for.
Napi::Value UdpEndpoint::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowErrno(env, EBADF, "sendmsg");
  auto data = info[0].As<Napi::Uint8Array>();
  sockaddr_storage ss;
  socklen_t sslen;
  if (!ResolvePeer(info[2], info[1].As<Napi::Number>().Uint32Value(), &ss, &sslen))
    ThrowErrno(env, EINVAL, "inet_pton");
  bool stamp = tx_stamps_ && info[3].ToBoolean();
  struct iovec iov = {data.Data(), data.ByteLength()};
  alignas(struct cmsghdr) uint8_t ctrl[CMSG_SPACE(sizeof(uint32_t))];
  struct msghdr msg = {};
  msg.msg_name = &ss;
  msg.msg_namelen = sslen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (stamp) {
    msg.msg_control = ctrl;
    msg.msg_controllen = AppendTxStampRequest(ctrl, sizeof ctrl);
  }
  // The driver takes the TX stamp and then, before the datagram goes on, queues
  // it on the error queue and wakes the socket's waiters: through our epoll set
  // and libuv's (nested) that took ≈ 2 µs more after a second idle, all of it
  // between T1 and the real departure (+1 µs on every offset; loopback and
  // veth, 1 s polls). Off the interest list there is no one to wake; put back,
  // epoll reports at once whatever came meanwhile.
  bool rewatch = stamp && watched_;
  if (rewatch) Watch(false);
  int sent = static_cast<int>(sendmsg(fd_, &msg, 0));
  int err = errno;
  if (rewatch) Watch(true);
  if (sent < 0) ThrowErrno(env, err, "sendmsg");
  if (!stamp) return Napi::Number::New(env, -1);
  tx_outstanding_++;
  return Napi::Number::New(env, static_cast<double>(next_tx_id_++));
}

// sendBatch(data: Uint8Array, lengths: Uint32Array, ports: Uint16Array,
// addresses: string[]) -> datagrams sent. Consecutive datagrams of `data`;
// one port/address for all when those arrays have a single entry. Unstamped.
Napi::Value UdpEndpoint::SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowErrno(env, EBADF, "sendmmsg");
  auto data = info[0].As<Napi::Uint8Array>();
  auto lengths = info[1].As<Napi::Uint32Array>();
  auto ports = info[2].As<Napi::Uint16Array>();
  auto addrs = info[3].As<Napi::Array>();
  size_t n = lengths.ElementLength();
  // The wrapper checks these too; a caller of the binding itself must not make us read past `data`.
  if (ports.ElementLength() == 0 || addrs.Length() == 0 ||
      (ports.ElementLength() != 1 && ports.ElementLength() < n) ||
      (addrs.Length() != 1 && addrs.Length() < n))
    ThrowErrno(env, EINVAL, "sendmmsg");
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += lengths[i];
  if (total > data.ByteLength()) ThrowErrno(env, EINVAL, "sendmmsg");
  tx_msgs_.resize(n);
  tx_iovs_.resize(n);
  tx_addrs_.resize(n);
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t pi = ports.ElementLength() == 1 ? 0 : i;
    uint32_t ai = addrs.Length() == 1 ? 0 : static_cast<uint32_t>(i);
    socklen_t sslen;
    if (i == 0 || pi != 0 || ai != 0) {
      if (!ResolvePeer(addrs.Get(ai), ports[pi], &tx_addrs_[i], &sslen))
        ThrowErrno(env, EINVAL, "inet_pton");
    } else {
      tx_addrs_[i] = tx_addrs_[0];
      sslen = tx_msgs_[0].msg_hdr.msg_namelen;
    }
    tx_iovs_[i] = {data.Data() + off, lengths[i]};
    off += lengths[i];
    struct msghdr& h = tx_msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &tx_addrs_[i];
    h.msg_namelen = sslen;
    h.msg_iov = &tx_iovs_[i];
    h.msg_iovlen = 1;
  }
  size_t sent = 0;
  while (sent < n) {
    int r = sendmmsg(fd_, tx_msgs_.data() + sent, static_cast<unsigned>(n - sent), 0);
    if (r < 0) {
      if (sent > 0 && (errno == EAGAIN || errno == ENOBUFS)) break;
      ThrowErrno(env, errno, "sendmmsg");
    }
    sent += static_cast<size_t>(r);
  }
  return Napi::Number::New(env, static_cast<double>(sent));
}

Napi::Value UdpEndpoint::LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowErrno(env, EBADF, "getsockname");
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    ThrowErrno(env, errno, "getsockname");
  char text[INET6_ADDRSTRLEN] = {};
  Napi::Object o = Napi::Object::New(env);
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    o.Set("family", 4);
    o.Set("port", ntohs(sin->sin_port));
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    o.Set("family", 6);
    o.Set("port", ntohs(sin6->sin6_port));
  }
  o.Set("address", text);
  return o;
}

void InitUdpEndpoint(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpEndpoint", UdpEndpoint::Define(env));
}

}  // namespace ct

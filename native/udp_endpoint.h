// A UDP endpoint on the env's libuv loop: kernel RX/TX timestamps, batched
// receive into a JS-owned slab of flat records, single and batched send.
// Linux only.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "record.h"
#include "responder.h"
#include "timestamps.h"

namespace ct {

// TX stamp records: u32 id, u8 source, 3 pad, i64 ns.
namespace txrec {
constexpr size_t kId = 0;
constexpr size_t kSource = 4;
constexpr size_t kNs = 8;
}  // namespace txrec
constexpr size_t kTxRecord = 16;
// Control-message room per slot: an NS stamp and pktinfo fit easily.
constexpr size_t kCtrlBytes = 256;

int64_t RealtimeNowNs();

class UdpEndpoint : public Napi::ObjectWrap<UdpEndpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit UdpEndpoint(const Napi::CallbackInfo& info);
  ~UdpEndpoint() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendBatch(const Napi::CallbackInfo& info);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  // The native NTP server (responder.h); off until enableResponder().
  Napi::Value EnableResponder(const Napi::CallbackInfo& info);
  Napi::Value SetServerState(const Napi::CallbackInfo& info);
  Napi::Value SetAccess(const Napi::CallbackInfo& info);
  Napi::Value SetRateLimit(const Napi::CallbackInfo& info);
  Napi::Value SetKeys(const Napi::CallbackInfo& info);
  Napi::Value SetResponderConfig(const Napi::CallbackInfo& info);
  Napi::Value SetNtsKeys(const Napi::CallbackInfo& info);
  // Broadcast and multicast (udp_endpoint_multicast.cc).
  Napi::Value SetBroadcast(const Napi::CallbackInfo& info);
  Napi::Value SetMembership(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastSend(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnCleanup(void* arg);
  // Returns whether any datagram was read.
  bool DrainRx();
  // Runs the responder over a received batch: answers go out in one
  // sendmmsg, slow-path records move to the front; returns how many remain for JS.
  size_t Respond(int n);
  void DrainErrQueue();
  // Puts the socket on (true) or takes it off (false) its epoll set; no-op when already so.
  void Watch(bool on);
  void CallJs(Napi::FunctionReference& fn, uint32_t count);
  void ShutDown();
  bool ResolvePeer(const Napi::Value& addr, uint32_t port, sockaddr_storage* ss, socklen_t* len);

  Napi::Env env_;
  int fd_ = -1;
  int epfd_ = -1;
  bool watched_ = false;  // fd_ is on epfd_'s interest list
  int family_ = AF_INET;
  uv_poll_t* poll_ = nullptr;
  bool closed_ = false;
  bool hooked_ = false;    // env cleanup hook registered
  bool wildcard_ = false;  // bound to 0.0.0.0 / ::, so replies must name their source address
  StampSource rx_source_ = kStampUser;
  bool tx_stamps_ = false;
  uint32_t next_tx_id_ = 0;
  uint32_t tx_outstanding_ = 0;  // stamped sends whose stamp has not been read

  // Receive side: the slab is a JS ArrayBuffer so records stay readable
  // from JS with no copy; the headers below are preallocated once.
  Napi::Reference<Napi::ArrayBuffer> rx_slab_ref_;
  Napi::Reference<Napi::ArrayBuffer> tx_slab_ref_;
  uint8_t* rx_slab_ = nullptr;
  uint8_t* tx_slab_ = nullptr;
  size_t slots_ = 0;
  size_t stride_ = 0;
  size_t tx_slots_ = 0;
  std::vector<struct mmsghdr> rx_msgs_;
  std::vector<struct iovec> rx_iovs_;
  std::vector<sockaddr_storage> rx_addrs_;
  std::vector<uint8_t> rx_ctrl_;
  // Send side scratch, grown on demand and reused.
  std::vector<struct mmsghdr> tx_msgs_;
  std::vector<struct iovec> tx_iovs_;
  std::vector<sockaddr_storage> tx_addrs_;

  // Server side: counters live in a JS ArrayBuffer (read as BigUint64Array,
  // no call per read); response buffers are preallocated per slot.
  std::unique_ptr<Responder> responder_;
  Napi::Reference<Napi::ArrayBuffer> counters_ref_;
  Napi::Reference<Napi::Uint8Array> shared_counters_ref_;
  uint64_t* counters_ = nullptr;
  std::vector<uint8_t> resp_buf_;
  std::vector<uint8_t> resp_ctrl_;
  std::vector<PendingResponse> resp_pending_;
  std::vector<struct mmsghdr> resp_msgs_;
  std::vector<struct iovec> resp_iovs_;

  Napi::FunctionReference on_rx_;
  Napi::FunctionReference on_tx_;
};

}  // namespace ct

// Broadcast and multicast options of a UdpEndpoint: SO_BROADCAST for NTP
// broadcast servers, group membership and the sending interface, hop limit
// and loopback for NTP multicast and the cluster's discovery group.
// JS (src/native/udp.ts) validates the arguments; these calls trust them.
#include <arpa/inet.h>
#include <errno.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "udp_endpoint.h"

namespace ct {
namespace {

// IPv4 options also work on a dual-stack AF_INET6 socket (Linux passes
// SOL_IP through), so the level follows the group's family, not the socket's.
void SetInt(Napi::Env env, int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) ThrowErrno(env, errno, what);
}

// An IPv4 interface named by address uses the classic ip_mreq / in_addr forms,
// the ones every kernel and emulator translates (qemu-user for aarch64 passes
// ip_mreqn's index on as garbage); ip_mreqn only when an index is asked for.
void SetIpv4Option(Napi::Env env, int fd, int name, const std::string& group,
                   const std::string& if_addr, uint32_t if_index, const char* what) {
  struct in_addr iface = {};
  if (!if_addr.empty()) inet_pton(AF_INET, if_addr.c_str(), &iface);
  struct in_addr multiaddr = {};
  inet_pton(AF_INET, group.c_str(), &multiaddr);
  int rc;
  if (if_index != 0) {
    struct ip_mreqn m = {};
    m.imr_multiaddr = multiaddr;
    m.imr_address = iface;
    m.imr_ifindex = static_cast<int>(if_index);
    rc = setsockopt(fd, IPPROTO_IP, name, &m, sizeof m);
  } else if (name == IP_MULTICAST_IF) {
    rc = setsockopt(fd, IPPROTO_IP, name, &iface, sizeof iface);
  } else {
    struct ip_mreq m = {};
    m.imr_multiaddr = multiaddr;
    m.imr_interface = iface;
    rc = setsockopt(fd, IPPROTO_IP, name, &m, sizeof m);
  }
  if (rc != 0) ThrowErrno(env, errno, what);
}

}  // namespace

// setBroadcast(on)
Napi::Value UdpEndpoint::SetBroadcast(const Napi::CallbackInfo& info) {
  if (fd_ < 0) ThrowErrno(env_, EBADF, "setsockopt");
  SetInt(env_, fd_, SOL_SOCKET, SO_BROADCAST, info[0].ToBoolean() ? 1 : 0,
         "setsockopt(SO_BROADCAST)");
  return env_.Undefined();
}

// setMembership(join, family, group, ifAddr, ifIndex): IPv4 joins name the
// interface by address or index; IPv6 joins by index (0: the kernel's choice).
Napi::Value UdpEndpoint::SetMembership(const Napi::CallbackInfo& info) {
  if (fd_ < 0) ThrowErrno(env_, EBADF, "setsockopt");
  bool join = info[0].ToBoolean();
  int family = info[1].As<Napi::Number>().Int32Value();
  std::string group = info[2].As<Napi::String>().Utf8Value();
  std::string if_addr = info[3].As<Napi::String>().Utf8Value();
  uint32_t if_index = info[4].As<Napi::Number>().Uint32Value();
  if (family == 4) {
    SetIpv4Option(env_, fd_, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, group, if_addr,
                  if_index,
                  join ? "setsockopt(IP_ADD_MEMBERSHIP)" : "setsockopt(IP_DROP_MEMBERSHIP)");
  } else {
    struct ipv6_mreq m = {};
    inet_pton(AF_INET6, group.c_str(), &m.ipv6mr_multiaddr);
    m.ipv6mr_interface = if_index;
    if (setsockopt(fd_, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &m, sizeof m) != 0)
      ThrowErrno(env_, errno,
                 join ? "setsockopt(IPV6_JOIN_GROUP)" : "setsockopt(IPV6_LEAVE_GROUP)");
  }
  return env_.Undefined();
}

// setMulticastSend(family, ifAddr, ifIndex, hops, loop): where multicast
// sends leave, how far they go, and whether this host hears its own.
Napi::Value UdpEndpoint::SetMulticastSend(const Napi::CallbackInfo& info) {
  if (fd_ < 0) ThrowErrno(env_, EBADF, "setsockopt");
  int family = info[0].As<Napi::Number>().Int32Value();
  std::string if_addr = info[1].As<Napi::String>().Utf8Value();
  uint32_t if_index = info[2].As<Napi::Number>().Uint32Value();
  int hops = info[3].As<Napi::Number>().Int32Value();
  int loop = info[4].ToBoolean() ? 1 : 0;
  if (family == 4) {
    SetIpv4Option(env_, fd_, IP_MULTICAST_IF, "0.0.0.0", if_addr, if_index,
                  "setsockopt(IP_MULTICAST_IF)");
    SetInt(env_, fd_, IPPROTO_IP, IP_MULTICAST_TTL, hops, "setsockopt(IP_MULTICAST_TTL)");
    SetInt(env_, fd_, IPPROTO_IP, IP_MULTICAST_LOOP, loop, "setsockopt(IP_MULTICAST_LOOP)");
  } else {
    SetInt(env_, fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(if_index),
           "setsockopt(IPV6_MULTICAST_IF)");
    SetInt(env_, fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops, "setsockopt(IPV6_MULTICAST_HOPS)");
    SetInt(env_, fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop, "setsockopt(IPV6_MULTICAST_LOOP)");
  }
  return env_.Undefined();
}

}  // namespace ct

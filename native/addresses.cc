#include "addresses.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstdlib>
#include <cstring>

#include "cmsg.h"
#include "record.h"

namespace ct {
namespace {
void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
}  // namespace

bool ParseAddress(const std::string& text, uint32_t port, int family, sockaddr_storage* ss,
                  socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *sin;
    return inet_pton(AF_INET, text.c_str(), &sin->sin_addr) == 1;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  *len = sizeof *sin6;
  std::string host = text;
  size_t pct = host.find('%');
  if (pct != std::string::npos) {
    std::string scope = host.substr(pct + 1);
    host.resize(pct);
    char* end = nullptr;
    unsigned long n = std::strtoul(scope.c_str(), &end, 10);
    sin6->sin6_scope_id =
        (end && *end == '\0' && !scope.empty()) ? n : if_nametoindex(scope.c_str());
    if (sin6->sin6_scope_id == 0) return false;
  }
  if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) return true;
  struct in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1) return false;
  sin6->sin6_addr.s6_addr[10] = 0xff;
  sin6->sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
  return true;
}

void WritePeer(uint8_t* r, const sockaddr_storage& ss) {
  std::memset(r + rec::kPeerAddr, 0, 16);
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    std::memcpy(r + rec::kPeerAddr, &sin->sin_addr, 4);
    Put16(r + rec::kPeerPort, ntohs(sin->sin_port));
    r[rec::kFamily] = 4;
    Put32(r + rec::kScopeId, 0);
  } else {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(r + rec::kPeerAddr, &sin6->sin6_addr, 16);
    Put16(r + rec::kPeerPort, ntohs(sin6->sin6_port));
    r[rec::kFamily] = 6;
    Put32(r + rec::kScopeId, sin6->sin6_scope_id);
  }
}

void ClearLocal(uint8_t* r) {
  std::memset(r + rec::kLocalAddr, 0, 16);
  Put32(r + rec::kIfIndex, 0);
}

void WriteLocal(uint8_t* r, const struct msghdr* msg) {
  ClearLocal(r);
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c;
       c = CMSG_NXTHDR(const_cast<struct msghdr*>(msg), c)) {
    size_t n = CmsgPayload(msg, c);
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        n >= sizeof(struct in_pktinfo)) {
      struct in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      std::memcpy(r + rec::kLocalAddr, &pi.ipi_addr, 4);
      Put32(r + rec::kIfIndex, pi.ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               n >= sizeof(struct in6_pktinfo)) {
      struct in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      std::memcpy(r + rec::kLocalAddr, &pi.ipi6_addr, 16);
      Put32(r + rec::kIfIndex, pi.ipi6_ifindex);
    }
  }
}

}  // namespace ct

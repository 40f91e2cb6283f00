// Socket addresses: text to sockaddr for sends, and the peer / local
// address fields of a received record (udp_endpoint.h rec::). Linux only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace ct {

// Parses "a.b.c.d", "x::y" or "fe80::1%eth0" for a socket of `family`
// (IPv4 text on an IPv6 socket becomes ::ffff:a.b.c.d).
bool ParseAddress(const std::string& text, uint32_t port, int family, sockaddr_storage* ss,
                  socklen_t* len);
// Writes a received datagram's source into its record.
void WritePeer(uint8_t* record, const sockaddr_storage& ss);
// Writes the interface and destination address (IP_PKTINFO / IPV6_PKTINFO) into the record.
void WriteLocal(uint8_t* record, const struct msghdr* msg);
// No local address known (the record's local address and ifindex zeroed).
void ClearLocal(uint8_t* record);

}  // namespace ct

// libFuzzer target: decoding what recvmmsg hands back into a slab record —
// the control messages (RX stamps in every format, IP_PKTINFO / IPV6_PKTINFO)
// and the peer address. The kernel writes these, but a parser that trusts a
// cmsg_len must not read past the control buffer whatever it says.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../addresses.h"
#include "../record.h"
#include "../timestamps.h"

using namespace ct;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The control buffer is exactly the input (less one byte), in its own
  // allocation so ASan sees any read past its end; aligned as the kernel's.
  size_t ctrl_len = size - 1;
  std::vector<uint64_t> ctrl((ctrl_len + 7) / 8 + 1);
  std::memcpy(ctrl.data(), data + 1, ctrl_len);
  uint8_t* exact = new uint8_t[ctrl_len > 0 ? ctrl_len : 1];
  std::memcpy(exact, data + 1, ctrl_len);
  struct msghdr msg = {};
  msg.msg_control = exact;
  msg.msg_controllen = ctrl_len;
  int64_t ns = 0;
  StampSource source = kStampUser;
  ParseRxStamp(&msg, &ns, &source);
  uint8_t record[rec::kHeader] = {};
  WriteLocal(record, &msg);
  delete[] exact;

  sockaddr_storage ss = {};
  std::memcpy(&ss, data + 1, ctrl_len < sizeof ss ? ctrl_len : sizeof ss);
  ss.ss_family = (data[0] & 1) ? AF_INET6 : AF_INET;
  WritePeer(record, ss);
  if (record[rec::kFamily] != 4 && record[rec::kFamily] != 6) __builtin_trap();
  return 0;
}

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (an
// AF_UNIX path, or an abstract name written with a leading '@'). Node has no
// AF_UNIX datagram sockets, so the daemon's READY=1 and STATUS= lines go
// through here. JS checks the path's length and the message; native trusts them.
#include <napi.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "errors.h"

namespace ct {
namespace {

Napi::Value NotifySocketSend(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string msg = info[1].As<Napi::String>().Utf8Value();
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket");
  ssize_t n = sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL,
                     reinterpret_cast<struct sockaddr*>(&sa), len);
  int err = errno;
  close(fd);
  if (n < 0) ThrowErrno(info.Env(), err, "sendto");
  return info.Env().Undefined();
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notifySocketSend", Napi::Function::New(env, NotifySocketSend));
  exports.Set("notifySocketPathMax", Napi::Number::New(env, sizeof(sockaddr_un::sun_path)));
}

}  // namespace ct

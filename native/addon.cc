// Module entry: each concern registers its own exports.
#include <napi.h>

namespace ct {
void InitNtpTime(Napi::Env env, Napi::Object exports);
#ifdef CLOCKTOWER_LINUX
void InitClock(Napi::Env env, Napi::Object exports);
void InitUdpEndpoint(Napi::Env env, Napi::Object exports);
void InitLoadGen(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitLayout(Napi::Env env, Napi::Object exports);
#endif
}  // namespace ct

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ct::InitNtpTime(env, exports);
#ifdef CLOCKTOWER_LINUX
  ct::InitClock(env, exports);
  ct::InitUdpEndpoint(env, exports);
  ct::InitLoadGen(env, exports);
  ct::InitNotify(env, exports);
  ct::InitLayout(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(clocktower, Init)

// Module entry of the tools addon (build/Release/tools/, prebuilds/*/tools/):
// the load generator behind `clocktower bench` and the NTP fixed-point
// conversions as JS functions, which the tests and benches hold against the
// TypeScript reference. Not loaded by the daemon.
#include <napi.h>

namespace ct {
void InitNtpTime(Napi::Env env, Napi::Object exports);
#ifdef CLOCKTOWER_LINUX
void InitLoadGen(Napi::Env env, Napi::Object exports);
#endif
}  // namespace ct

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ct::InitNtpTime(env, exports);
#ifdef CLOCKTOWER_LINUX
  ct::InitLoadGen(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(clocktower_tools, Init)

// Module entry of the production addon: the packet engine and the clock
// driver. Each concern registers its own exports. The load generator and the
// conversion bindings are tools, in their own addon (tools_addon.cc).
#include <napi.h>

namespace ct {
#ifdef CLOCKTOWER_LINUX
void InitClock(Napi::Env env, Napi::Object exports);
void InitUdpEndpoint(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitLayout(Napi::Env env, Napi::Object exports);
void InitNtsAead(Napi::Env env, Napi::Object exports);
#endif
}  // namespace ct

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef CLOCKTOWER_LINUX
  ct::InitClock(env, exports);
  ct::InitUdpEndpoint(env, exports);
  ct::InitNotify(env, exports);
  ct::InitLayout(env, exports);
  ct::InitNtsAead(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(clocktower, Init)

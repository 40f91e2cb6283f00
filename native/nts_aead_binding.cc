// JS entry points for AES-SIV (nts_aead.h): sivSeal(key, parts[], plain) and
// sivOpen(key, parts[], sealed), and aesBackend, the AES path in use (aes128.h).
// src/native/nts-aead.ts validates: a 32-byte key, an array of Uint8Arrays, a sealed text of at
// least 16 bytes.
#include <napi.h>

#include <vector>

#include "nts_aead.h"

namespace ct {
namespace {

std::vector<SivPart> Parts(const Napi::Array& a) {
  std::vector<SivPart> parts(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto b = a.Get(i).As<Napi::Uint8Array>();
    parts[i] = {b.Data(), b.ByteLength()};
  }
  return parts;
}

// One key object per JS thread, re-keyed per call (its contexts made once).
SivKey& Keyed(const Napi::Uint8Array& key) {
  thread_local SivKey k;
  k.Set(key.Data());
  return k;
}

Napi::Value JsSeal(const Napi::CallbackInfo& info) {
  auto key = info[0].As<Napi::Uint8Array>();
  auto parts = Parts(info[1].As<Napi::Array>());
  auto plain = info[2].As<Napi::Uint8Array>();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), plain.ByteLength() + kSivTagBytes);
  if (!Keyed(key).Seal(parts.data(), parts.size(), plain.Data(), plain.ByteLength(), out.Data())) {
    auto e =
        Napi::Error::New(info.Env(), "AES-SIV sealing failed in OpenSSL (no AES-128-CBC/CTR?)");
    e.Set("code", Napi::String::New(info.Env(), "ERR_NTS_AEAD"));
    throw e;
  }
  return out;
}

Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  auto key = info[0].As<Napi::Uint8Array>();
  auto parts = Parts(info[1].As<Napi::Array>());
  auto sealed = info[2].As<Napi::Uint8Array>();
  auto plain = Napi::Buffer<uint8_t>::New(info.Env(), sealed.ByteLength() - kSivTagBytes);
  if (!Keyed(key).Open(parts.data(), parts.size(), sealed.Data(), sealed.ByteLength(),
                       plain.Data()))
    return info.Env().Null();
  return plain;
}

}  // namespace

void InitNtsAead(Napi::Env env, Napi::Object exports) {
  exports.Set("sivSeal", Napi::Function::New(env, JsSeal, "sivSeal"));
  exports.Set("sivOpen", Napi::Function::New(env, JsOpen, "sivOpen"));
  exports.Set("aesBackend", Napi::String::New(env, Aes128::Backend()));
}

}  // namespace ct

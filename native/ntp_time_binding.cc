// JS entry points for NTP fixed point (ntp_time.h). Arguments were validated
// by src/native/ntp-time.ts; this file only converts.
#include <napi.h>

#include "ntp_time.h"

namespace ct {
namespace {

int64_t I64(const Napi::Value& v) {
  bool lossless;
  return v.As<Napi::BigInt>().Int64Value(&lossless);
}
uint64_t U64(const Napi::Value& v) {
  bool lossless;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

Napi::Value UnixToNtp(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), UnixNsToNtp64(I64(info[0])));
}
Napi::Value NtpToUnix(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), Ntp64ToUnixNs(U64(info[0]), I64(info[1])));
}
Napi::Value DurationToNtp(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), DurationNsToNtp64(I64(info[0])));
}
Napi::Value NtpToDuration(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), Ntp64ToDurationNs(U64(info[0])));
}
Napi::Value NsToShort(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), NsToNtpShort(I64(info[0])));
}
Napi::Value ShortToNs(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), NtpShortToNs(info[0].As<Napi::Number>().Uint32Value()));
}

// Batch forms: (input typed array, output typed array of the same length).
void UnixToNtpBatch(const Napi::CallbackInfo& info) {
  auto in = info[0].As<Napi::TypedArrayOf<int64_t>>();
  auto out = info[1].As<Napi::TypedArrayOf<uint64_t>>();
  if (out.ElementLength() < in.ElementLength())
    throw Napi::RangeError::New(info.Env(), "output shorter than input");
  const int64_t* src = in.Data();
  uint64_t* dst = out.Data();
  for (size_t i = 0, n = in.ElementLength(); i < n; i++) dst[i] = UnixNsToNtp64(src[i]);
}
void NtpToUnixBatch(const Napi::CallbackInfo& info) {
  auto in = info[0].As<Napi::TypedArrayOf<uint64_t>>();
  auto out = info[1].As<Napi::TypedArrayOf<int64_t>>();
  if (out.ElementLength() < in.ElementLength())
    throw Napi::RangeError::New(info.Env(), "output shorter than input");
  int64_t pivot = I64(info[2]);
  const uint64_t* src = in.Data();
  int64_t* dst = out.Data();
  for (size_t i = 0, n = in.ElementLength(); i < n; i++) dst[i] = Ntp64ToUnixNs(src[i], pivot);
}

}  // namespace

void InitNtpTime(Napi::Env env, Napi::Object exports) {
  exports.Set("unixNsToNtp64", Napi::Function::New(env, UnixToNtp));
  exports.Set("ntp64ToUnixNs", Napi::Function::New(env, NtpToUnix));
  exports.Set("durationNsToNtp64", Napi::Function::New(env, DurationToNtp));
  exports.Set("ntp64ToDurationNs", Napi::Function::New(env, NtpToDuration));
  exports.Set("nsToNtpShort", Napi::Function::New(env, NsToShort));
  exports.Set("ntpShortToNs", Napi::Function::New(env, ShortToNs));
  exports.Set("unixNsToNtp64Batch", Napi::Function::New(env, UnixToNtpBatch));
  exports.Set("ntp64ToUnixNsBatch", Napi::Function::New(env, NtpToUnixBatch));
}

}  // namespace ct

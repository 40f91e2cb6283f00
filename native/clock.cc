// The clock driver's native half: reads of CLOCK_REALTIME/MONOTONIC_RAW and
// adjtimex. This is the only code in clocktower that can change the system
// clock; src/native/clock.ts builds and validates every write.
#include <napi.h>
#include <sys/timex.h>
#include <time.h>

#include <cerrno>

#include "errors.h"

namespace ct {
namespace {

Napi::Value ReadClock(const Napi::CallbackInfo& info, clockid_t id) {
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) ThrowErrno(info.Env(), errno, "clock_gettime");
  return Napi::BigInt::New(
      info.Env(),
      static_cast<int64_t>(static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec));
}
Napi::Value Realtime(const Napi::CallbackInfo& info) { return ReadClock(info, CLOCK_REALTIME); }
Napi::Value MonotonicRaw(const Napi::CallbackInfo& info) {
  return ReadClock(info, CLOCK_MONOTONIC_RAW);
}

Napi::Object TimexToObject(Napi::Env env, const struct timex& tx, int state) {
  Napi::Object o = Napi::Object::New(env);
  bool nano = (tx.status & STA_NANO) != 0;
  o.Set("state", state);
  o.Set("status", static_cast<double>(tx.status));
  o.Set("offsetNs", static_cast<double>(tx.offset) * (nano ? 1 : 1000));
  o.Set("freqScaled", static_cast<double>(tx.freq));  // ppm * 2^16
  o.Set("maxErrorUs", static_cast<double>(tx.maxerror));
  o.Set("estErrorUs", static_cast<double>(tx.esterror));
  o.Set("constant", static_cast<double>(tx.constant));
  o.Set("precisionUs", static_cast<double>(tx.precision));
  o.Set("toleranceScaled", static_cast<double>(tx.tolerance));
  o.Set("tickUs", static_cast<double>(tx.tick));
  o.Set("tai", static_cast<double>(tx.tai));
  int64_t time_ns = static_cast<int64_t>(tx.time.tv_sec) * 1000000000LL +
                    static_cast<int64_t>(tx.time.tv_usec) * (nano ? 1 : 1000);
  o.Set("timeNs", Napi::BigInt::New(env, time_ns));
  return o;
}

Napi::Value AdjtimexRead(const Napi::CallbackInfo& info) {
  struct timex tx = {};
  int state = adjtimex(&tx);
  if (state < 0) ThrowErrno(info.Env(), errno, "adjtimex");
  return TimexToObject(info.Env(), tx, state);
}

// One adjtimex call with the fields JS chose: { modes, offset, freq,
// maxerror, esterror, status, constant, timeSec, timeNsec }. Needs
// CAP_SYS_TIME for any mode that writes; without it the kernel says EPERM.
Napi::Value AdjtimexWrite(const Napi::CallbackInfo& info) {
  Napi::Object in = info[0].As<Napi::Object>();
  auto num = [&](const char* k) -> int64_t {
    Napi::Value v = in.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : 0;
  };
  struct timex tx = {};
  tx.modes = static_cast<unsigned int>(num("modes"));
  tx.offset = num("offset");
  tx.freq = num("freq");
  tx.maxerror = num("maxerror");
  tx.esterror = num("esterror");
  tx.status = static_cast<int>(num("status"));
  tx.constant = num("constant");
  if (tx.modes & ADJ_SETOFFSET) {
    Napi::Value s = in.Get("timeSec");
    bool lossless;
    tx.time.tv_sec = s.IsBigInt() ? s.As<Napi::BigInt>().Int64Value(&lossless) : 0;
    tx.time.tv_usec = num("timeNsec");  // ns when ADJ_NANO is set
  }
  int state = adjtimex(&tx);
  if (state < 0) ThrowErrno(info.Env(), errno, "adjtimex");
  return TimexToObject(info.Env(), tx, state);
}

}  // namespace

void InitClock(Napi::Env env, Napi::Object exports) {
  exports.Set("clockRealtimeNs", Napi::Function::New(env, Realtime));
  exports.Set("clockMonotonicRawNs", Napi::Function::New(env, MonotonicRaw));
  exports.Set("adjtimexRead", Napi::Function::New(env, AdjtimexRead));
  exports.Set("adjtimexWrite", Napi::Function::New(env, AdjtimexWrite));
  Napi::Object c = Napi::Object::New(env);
  c.Set("ADJ_OFFSET", ADJ_OFFSET);
  c.Set("ADJ_FREQUENCY", ADJ_FREQUENCY);
  c.Set("ADJ_MAXERROR", ADJ_MAXERROR);
  c.Set("ADJ_ESTERROR", ADJ_ESTERROR);
  c.Set("ADJ_STATUS", ADJ_STATUS);
  c.Set("ADJ_TIMECONST", ADJ_TIMECONST);
  c.Set("ADJ_SETOFFSET", ADJ_SETOFFSET);
  c.Set("ADJ_NANO", ADJ_NANO);
  c.Set("ADJ_OFFSET_SINGLESHOT", ADJ_OFFSET_SINGLESHOT);
  c.Set("STA_PLL", STA_PLL);
  c.Set("STA_INS", STA_INS);
  c.Set("STA_DEL", STA_DEL);
  c.Set("STA_UNSYNC", STA_UNSYNC);
  c.Set("STA_FREQHOLD", STA_FREQHOLD);
  c.Set("STA_NANO", STA_NANO);
  exports.Set("adjtimexConstants", c);
}

}  // namespace ct

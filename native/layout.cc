// The layouts JS reads out of shared memory or passes by index: the RX record,
// the TX stamp record, the stamp sources, the server's counter slots and the
// key types. Exported as `layouts` so src/native/layouts.ts can check its own
// offsets against these when the addon loads, instead of trusting two copies.
#include <napi.h>

#include "ntp_mac.h"
#include "record.h"
#include "responder.h"
#include "timestamps.h"
#include "udp_endpoint.h"

namespace ct {

static Napi::Array Names(Napi::Env env, const char* const* names, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

void InitLayout(Napi::Env env, Napi::Object exports) {
  auto num = [&](size_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object record = Napi::Object::New(env);
  record.Set("len", num(rec::kLen));
  record.Set("flags", num(rec::kFlags));
  record.Set("rxNs", num(rec::kRxNs));
  record.Set("peerAddr", num(rec::kPeerAddr));
  record.Set("peerPort", num(rec::kPeerPort));
  record.Set("family", num(rec::kFamily));
  record.Set("source", num(rec::kSource));
  record.Set("scopeId", num(rec::kScopeId));
  record.Set("ifIndex", num(rec::kIfIndex));
  record.Set("localAddr", num(rec::kLocalAddr));
  record.Set("header", num(rec::kHeader));
  record.Set("flagTruncated", num(rec::kFlagTruncated));

  Napi::Object tx = Napi::Object::New(env);
  tx.Set("id", num(txrec::kId));
  tx.Set("source", num(txrec::kSource));
  tx.Set("ns", num(txrec::kNs));
  tx.Set("bytes", num(kTxRecord));

  Napi::Object sources = Napi::Object::New(env);
  sources.Set("User", num(kStampUser));
  sources.Set("KernelUs", num(kStampKernelUs));
  sources.Set("KernelNs", num(kStampKernelNs));
  sources.Set("KernelTx", num(kStampKernelTx));

  Napi::Object layouts = Napi::Object::New(env);
  layouts.Set("record", record);
  layouts.Set("txRecord", tx);
  layouts.Set("stampSources", sources);
  layouts.Set("serverCounters", Names(env, kCounterNames, kCounterCount));
  layouts.Set("keyTypes", Names(env, kKeyTypeNames, static_cast<size_t>(KeyType::kCount)));
  exports.Set("layouts", layouts);
}

}  // namespace ct

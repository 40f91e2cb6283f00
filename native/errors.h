// Native errors carry the errno name as `.code` (EADDRINUSE, EPERM...), like
// Node's own system errors, so TypeScript can branch on it.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstring>
#include <string>

namespace ct {

inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  const char* code = uv_err_name(-err);
  std::string msg = std::string(code) + ": " + std::strerror(err) + ", " + syscall;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  throw ErrnoError(env, err, syscall);
}

}  // namespace ct

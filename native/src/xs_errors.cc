#include "xs_errors.h"

#include <cstring>

namespace memcoop {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32 (Debian 12 has 2.36)
  return name ? name : "EUNKNOWN";
}

Napi::Error MakeXsError(Napi::Env env, int err, const std::string& op, const std::string& path) {
  std::string msg = "xenstore " + op + (path.empty() ? "" : " " + path) + ": " + strerror(err) +
                    " (" + ErrnoName(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("op", Napi::String::New(env, op));
  e.Set("path", Napi::String::New(env, path));
  return e;
}

}  // namespace memcoop

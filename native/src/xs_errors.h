// JS errors for failed Xen library calls: `code` (the errno name), `errno` (negative, as Node's
// own system errors), `op` (the operation) and `path` (the XenStore path or socket).
#pragma once
#include <napi.h>
#include <string>

namespace memcoop {

const char* ErrnoName(int err);
Napi::Error MakeXsError(Napi::Env env, int err, const std::string& op, const std::string& path);

}  // namespace memcoop

// memcoop's Xen addon: XenStore through libxenstore (XsHandle) and, where libxenctrl was found at
// build time, the few hypercalls a Dom0 balancer needs (XcHandle).
#include <napi.h>

#include "xc_handle.h"
#include "xs_handle.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("XsHandle", memcoop::XsHandle::Init(env));
#ifdef MEMCOOP_HAVE_XENCTRL
  exports.Set("XcHandle", memcoop::XcHandle::Init(env));
  exports.Set("hasXenctrl", Napi::Boolean::New(env, true));
#else
  exports.Set("hasXenctrl", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(memcoop_xen, Init)

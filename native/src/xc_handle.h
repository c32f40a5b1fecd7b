// libxenctrl: host free memory and domain sizes, and raising a domain's max pages. Only a real
// Xen (with /dev/xen/privcmd) can answer; elsewhere open() throws an error whose code is
// XENCTRL_UNAVAILABLE, which the Xen host takes as the signal to use its stand-in.
// These calls are hypercalls through an ioctl, with no I/O to wait on, so they are synchronous.
#pragma once
#include <napi.h>

#ifdef MEMCOOP_HAVE_XENCTRL
extern "C" {
#include <xenctrl.h>
}
#include <string>

namespace memcoop {

struct CapturingLogger {
  xentoollog_logger vtable;  // must be first: libxenctrl calls through it
  std::string last;          // the last message, for the JS error
};

class XcHandle : public Napi::ObjectWrap<XcHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit XcHandle(const Napi::CallbackInfo& info);
  ~XcHandle() override;

 private:
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Physinfo(const Napi::CallbackInfo& info);
  Napi::Value DomainList(const Napi::CallbackInfo& info);
  Napi::Value SetMaxMem(const Napi::CallbackInfo& info);
  xc_interface* Need(Napi::Env env, const char* op);
  void CloseNow();
  static void OnEnvCleanup(void* arg);

  CapturingLogger logger_;
  xc_interface* xch_ = nullptr;
  bool hookAdded_ = false;
};

}  // namespace memcoop
#endif

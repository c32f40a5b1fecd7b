#include "xc_handle.h"

#ifdef MEMCOOP_HAVE_XENCTRL
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

#include "xs_errors.h"

namespace memcoop {

namespace {

// Ceiling on domains listed in one call (Xen's own limit on domids is 0x7FF0; a host runs far
// fewer, and xl list asks in batches of this order).
constexpr unsigned int MAX_DOMAINS_PER_CALL = 1024;

void LogMessage(xentoollog_logger* l, xentoollog_level level, int errnoval, const char* context,
                const char* format, va_list al) {
  auto* self = reinterpret_cast<CapturingLogger*>(l);
  char buf[512];
  vsnprintf(buf, sizeof buf, format, al);
  std::string msg = context ? std::string(context) + ": " + buf : std::string(buf);
  if (errnoval >= 0) msg += std::string(": ") + strerror(errnoval);
  if (level >= XTL_WARN) self->last = msg;  // kept for the error, never printed
}

void LogProgress(xentoollog_logger*, const char*, const char*, int, unsigned long, unsigned long) {}
void LogDestroy(xentoollog_logger*) {}

Napi::Error XcError(Napi::Env env, int err, const std::string& op, const std::string& detail) {
  Napi::Error e = MakeXsError(env, err, op, "");
  e.Set("message", Napi::String::New(env, "xenctrl " + op + ": " + (detail.empty() ? strerror(err) : detail)));
  return e;
}

}  // namespace

Napi::Function XcHandle::Init(Napi::Env env) {
  return DefineClass(env, "XcHandle",
                     {
                         InstanceMethod<&XcHandle::Open>("open"),
                         InstanceMethod<&XcHandle::Close>("close"),
                         InstanceMethod<&XcHandle::Physinfo>("physinfo"),
                         InstanceMethod<&XcHandle::DomainList>("domainList"),
                         InstanceMethod<&XcHandle::SetMaxMem>("setMaxMem"),
                     });
}

XcHandle::XcHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XcHandle>(info) {
  logger_.vtable.vmessage = LogMessage;
  logger_.vtable.progress = LogProgress;
  logger_.vtable.destroy = LogDestroy;
}

XcHandle::~XcHandle() {
  CloseNow();
}

void XcHandle::CloseNow() {
  if (xch_ != nullptr) xc_interface_close(xch_);
  xch_ = nullptr;
}

void XcHandle::OnEnvCleanup(void* arg) { static_cast<XcHandle*>(arg)->CloseNow(); }

// open(): throws {code: 'XENCTRL_UNAVAILABLE', errno, message} when there is no hypervisor.
Napi::Value XcHandle::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (xch_ != nullptr) return env.Undefined();
  logger_.last.clear();
  errno = 0;
  xch_ = xc_interface_open(&logger_.vtable, &logger_.vtable, 0);
  if (xch_ == nullptr) {
    int err = errno != 0 ? errno : ENODEV;
    std::string why = logger_.last.empty() ? strerror(err) : logger_.last;
    Napi::Error e = Napi::Error::New(env, "libxenctrl cannot reach a Xen hypervisor here (" + why + ")");
    e.Set("code", Napi::String::New(env, "XENCTRL_UNAVAILABLE"));
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("op", Napi::String::New(env, "xc_interface_open"));
    throw e;
  }
  if (!hookAdded_) {
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
    hookAdded_ = true;
  }
  return env.Undefined();
}

Napi::Value XcHandle::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  if (hookAdded_) {
    napi_remove_env_cleanup_hook(info.Env(), OnEnvCleanup, this);
    hookAdded_ = false;
  }
  return info.Env().Undefined();
}

xc_interface* XcHandle::Need(Napi::Env env, const char* op) {
  if (xch_ == nullptr) throw MakeXsError(env, EBADF, op, "");
  logger_.last.clear();
  return xch_;
}

// physinfo(): {totalPages, freePages} (the TS side converts pages to KiB)
Napi::Value XcHandle::Physinfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  xc_interface* xch = Need(env, "physinfo");
  xc_physinfo_t pi;
  memset(&pi, 0, sizeof pi);
  if (xc_physinfo(xch, &pi) != 0) throw XcError(env, errno, "physinfo", logger_.last);
  Napi::Object o = Napi::Object::New(env);
  o.Set("totalPages", Napi::Number::New(env, static_cast<double>(pi.total_pages)));
  o.Set("freePages", Napi::Number::New(env, static_cast<double>(pi.free_pages)));
  return o;
}

// domainList(firstDomid?): [{domid, totPages, maxPages, dying, shutdown}]
Napi::Value XcHandle::DomainList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  xc_interface* xch = Need(env, "domain_getinfolist");
  uint32_t first = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  std::vector<xc_domaininfo_t> infos(MAX_DOMAINS_PER_CALL);
  int n = xc_domain_getinfolist(xch, first, MAX_DOMAINS_PER_CALL, infos.data());
  if (n < 0) throw XcError(env, errno, "domain_getinfolist", logger_.last);
  Napi::Array a = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) {
    const auto& d = infos[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("domid", Napi::Number::New(env, d.domain));
    o.Set("totPages", Napi::Number::New(env, static_cast<double>(d.tot_pages)));
    o.Set("maxPages", Napi::Number::New(env, static_cast<double>(d.max_pages)));
    o.Set("dying", Napi::Boolean::New(env, (d.flags & XEN_DOMINF_dying) != 0));
    o.Set("shutdown", Napi::Boolean::New(env, (d.flags & XEN_DOMINF_shutdown) != 0));
    a.Set(i, o);
  }
  return a;
}

// setMaxMem(domid, maxKiB): raise (or lower) a domain's max pages before moving its target.
Napi::Value XcHandle::SetMaxMem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  xc_interface* xch = Need(env, "domain_setmaxmem");
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "setMaxMem(domid, maxKiB) takes two numbers");
  uint32_t domid = info[0].As<Napi::Number>().Uint32Value();
  int64_t kib = info[1].As<Napi::Number>().Int64Value();
  if (kib < 0) throw Napi::RangeError::New(env, "maxKiB must not be negative");
  if (xc_domain_setmaxmem(xch, domid, static_cast<uint64_t>(kib)) != 0)
    throw XcError(env, errno, "domain_setmaxmem", logger_.last);
  return env.Undefined();
}

}  // namespace memcoop
#endif

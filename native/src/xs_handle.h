// One libxenstore connection as a JS object. Requests run on the libuv thread pool (each returns
// a promise); watch events arrive through a uv_poll on xs_fileno and are delivered on the JS
// thread. libxenstore serialises requests on one handle itself (its request mutex) and runs its
// own reader thread once a watch exists, so the addon adds no thread of its own.
#pragma once
#include <napi.h>
#include <uv.h>

extern "C" {
#include <xenstore.h>
}

#include <vector>

namespace memcoop {

struct XsRequest;  // one request, alone or in a batch (xs_handle.cc)

class XsHandle : public Napi::ObjectWrap<XsHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit XsHandle(const Napi::CallbackInfo& info);
  ~XsHandle() override;

  struct xs_handle* Raw() const { return xsh_; }
  void OpStarted() { ++pending_; }
  void OpFinished() { --pending_; }
  // Completes a requested close once no request is in flight and the poll handle is closed.
  void MaybeFinishClose();

 private:
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Directory(const Napi::CallbackInfo& info);
  Napi::Value Mkdir(const Napi::CallbackInfo& info);
  Napi::Value Rm(const Napi::CallbackInfo& info);
  Napi::Value GetPermissions(const Napi::CallbackInfo& info);
  Napi::Value SetPermissions(const Napi::CallbackInfo& info);
  Napi::Value TransactionStart(const Napi::CallbackInfo& info);
  Napi::Value TransactionEnd(const Napi::CallbackInfo& info);
  Napi::Value Watch(const Napi::CallbackInfo& info);
  Napi::Value Unwatch(const Napi::CallbackInfo& info);
  Napi::Value SetWatchRef(const Napi::CallbackInfo& info);
  Napi::Value Batch(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // Runs one request in its own pool job; a rejected promise if the handle cannot take it.
  Napi::Value Send(Napi::Env env, XsRequest&& r);
  // Returns a rejected promise if the handle cannot take a request, else an empty value.
  Napi::Value Unusable(Napi::Env env, const char* op, const std::string& path);
  int EnsurePoll(Napi::Env env);
  void StopPoll();
  void DeliverWatchEvents();
  void CallOnWatch(Napi::Env env, std::initializer_list<napi_value> args);
  void RemoveCleanupHook();

  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnPollClosed(uv_handle_t* handle);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg);

  struct xs_handle* xsh_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool pollClosing_ = false;
  bool pollRef_ = true;
  bool closing_ = false;
  bool envGone_ = false;
  int pending_ = 0;
  std::vector<Napi::Promise::Deferred> closeWaiters_;
  Napi::FunctionReference onWatch_;
  std::unique_ptr<Napi::AsyncContext> watchContext_;
  napi_async_cleanup_hook_handle cleanupHook_ = nullptr;
};

}  // namespace memcoop

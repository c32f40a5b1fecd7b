#include "xs_handle.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xs_errors.h"

namespace memcoop {

namespace {

// ---- argument readers (the TS wrapper validates too; these keep a bad call from crashing) ----

std::string PathArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

xs_transaction_t TxArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "transaction id must be a number");
  return info[i].As<Napi::Number>().Uint32Value();
}

// ---- one request on the thread pool ----

// Base of every request: holds the raw libxenstore handle (never the wrapper, which the GC may
// collect at teardown), keeps the JS object alive through a reference while in flight, and
// turns errno into a rejected promise on the JS thread.
class XsOp : public Napi::AsyncWorker {
 public:
  XsOp(XsHandle* owner, const Napi::Object& self, const char* op, std::string path)
      : Napi::AsyncWorker(self.Env(), "memcoop:xenstore"),
        xsh_(owner->Raw()),
        owner_(owner),
        self_(Napi::Persistent(self)),
        deferred_(Napi::Promise::Deferred::New(self.Env())),
        op_(op),
        path_(std::move(path)) {
    owner_->OpStarted();
  }

  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  // Runs on a pool thread; returns false with errno set on failure.
  virtual bool Run() = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  struct xs_handle* xsh_;

 private:
  void Execute() override {
    errno = 0;
    if (!Run()) err_ = errno != 0 ? errno : EIO;
  }

  void OnOK() override {
    Napi::Env env = Env();
    owner_->OpFinished();
    try {
      if (err_ != 0)
        deferred_.Reject(MakeXsError(env, err_, op_, path_).Value());
      else
        deferred_.Resolve(Result(env));
    } catch (const Napi::Error&) {
      // Only when the environment is terminating (worker.terminate()): no JS is left to tell.
    }
    owner_->MaybeFinishClose();
  }

  void OnError(const Napi::Error& e) override {
    owner_->OpFinished();
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
      // as above
    }
    owner_->MaybeFinishClose();
  }

  XsHandle* owner_;
  Napi::ObjectReference self_;  // keeps the handle's JS object (and so owner_) alive meanwhile
  Napi::Promise::Deferred deferred_;
  std::string op_;
  std::string path_;
  int err_ = 0;
};

}  // namespace

// ---- one request, alone or in a batch ----

enum RequestKind : uint32_t {
  kRead = 0, kWrite = 1, kMkdir = 2, kSetPerms = 3, kDirectory = 4, kRm = 5, kStart = 6, kEnd = 7, kGetPerms = 8
};
const char* const kRequestNames[] = {"read", "write", "mkdir", "set_permissions", "directory", "rm",
                                     "transaction_start", "transaction_end", "get_permissions"};

// One xenstore request: what it asks (kind, path, value) and, once run, its answer.
struct XsRequest {
  explicit XsRequest(RequestKind k) : kind(k) {}
  RequestKind kind;
  std::string path;
  int64_t txRef = 0;  // >= 0: a transaction id (0: none); < 0 (in a batch): -1-k, begun by request k
  bool abort = false;  // kEnd
  std::vector<char> data;
  std::vector<struct xs_permissions> perms;
  // outcome
  bool ran = false;
  int err = 0;
  xs_transaction_t tx = XBT_NULL;  // kStart's result
  std::vector<char> value;
  std::vector<std::string> names;
};

namespace {

// Sends `r` on transaction `tx` and keeps its answer in `r`; false with errno set on failure.
// The one place each request kind is spoken: single requests and batches both come here.
bool RunRequest(struct xs_handle* xsh, xs_transaction_t tx, XsRequest& r) {
  switch (r.kind) {
    case kRead: {
      unsigned int len = 0;
      void* v = xs_read(xsh, tx, r.path.c_str(), &len);
      if (!v) return false;
      r.value.assign(static_cast<char*>(v), static_cast<char*>(v) + len);
      free(v);
      return true;
    }
    case kWrite:
      return xs_write(xsh, tx, r.path.c_str(), r.data.data(), static_cast<unsigned int>(r.data.size()));
    case kMkdir:
      return xs_mkdir(xsh, tx, r.path.c_str());
    case kSetPerms:
      return xs_set_permissions(xsh, tx, r.path.c_str(), r.perms.data(), static_cast<unsigned int>(r.perms.size()));
    case kGetPerms: {
      unsigned int n = 0;
      struct xs_permissions* p = xs_get_permissions(xsh, tx, r.path.c_str(), &n);
      if (!p) return false;
      r.perms.assign(p, p + n);
      free(p);
      return true;
    }
    case kDirectory: {
      unsigned int n = 0;
      char** d = xs_directory(xsh, tx, r.path.c_str(), &n);
      if (!d) return false;
      for (unsigned int i = 0; i < n; i++) r.names.emplace_back(d[i]);
      free(d);
      return true;
    }
    case kRm:
      return xs_rm(xsh, tx, r.path.c_str());
    case kStart:
      r.tx = xs_transaction_start(xsh);
      return r.tx != XBT_NULL;
    case kEnd:
      // EAGAIN here means another writer touched what the transaction read; the TS helper retries.
      return xs_transaction_end(xsh, tx, r.abort);
  }
  errno = EINVAL;
  return false;
}

// A successful request's answer as JS: a Buffer for a read, string[] for a directory, the id for
// a kStart, [{id, perms}] for kGetPerms, else undefined.
Napi::Value RequestValue(Napi::Env env, const XsRequest& r) {
  switch (r.kind) {
    case kRead:
      return Napi::Buffer<char>::Copy(env, r.value.data(), r.value.size());
    case kDirectory: {
      Napi::Array a = Napi::Array::New(env, r.names.size());
      for (size_t i = 0; i < r.names.size(); i++) a.Set(i, Napi::String::New(env, r.names[i]));
      return a;
    }
    case kStart:
      return Napi::Number::New(env, r.tx);
    case kGetPerms: {
      Napi::Array a = Napi::Array::New(env, r.perms.size());
      for (size_t i = 0; i < r.perms.size(); i++) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("id", Napi::Number::New(env, r.perms[i].id));
        o.Set("perms", Napi::Number::New(env, r.perms[i].perms));
        a.Set(i, o);
      }
      return a;
    }
    default:
      return env.Undefined();
  }
}

// One request in its own pool job (its transaction is an id, never a reference).
class RequestOp : public XsOp {
 public:
  RequestOp(XsHandle* o, const Napi::Object& s, XsRequest r)
      : XsOp(o, s, kRequestNames[r.kind], r.path), r_(std::move(r)) {}
  bool Run() override { return RunRequest(xsh_, static_cast<xs_transaction_t>(r_.txRef), r_); }
  Napi::Value Result(Napi::Env env) override { return RequestValue(env, r_); }

 private:
  XsRequest r_;
};

class WatchOp : public XsOp {
 public:
  WatchOp(XsHandle* o, const Napi::Object& s, std::string path, std::string token, bool add)
      : XsOp(o, s, add ? "watch" : "unwatch", path), key_(std::move(path)), token_(std::move(token)), add_(add) {}
  bool Run() override {
    return add_ ? xs_watch(xsh_, key_.c_str(), token_.c_str())
                : xs_unwatch(xsh_, key_.c_str(), token_.c_str());
  }

 private:
  std::string key_;
  std::string token_;
  bool add_;
};

// Several requests in one pool job: one thread-pool round trip instead of one per request (at
// 1,000 guests the job hops, each waking a pool thread and then the JS thread, cost more than
// xenstored's answers). Requests still go to xenstored one at a time, in order. Each request
// names its transaction: an id, 0 for none, or -1-k for the transaction begun by request k of
// this batch (a kStart), so transactions of many callers begin, run and end in one job. Within
// a transaction, a request that failed makes the later ones of that transaction skip (a read
// that found nothing, ENOENT, is an answer, not a failure); other transactions go on.
class BatchOp : public XsOp {
 public:
  BatchOp(XsHandle* o, const Napi::Object& s, std::vector<XsRequest> items)
      : XsOp(o, s, "batch", ""), items_(std::move(items)) {}
  bool Run() override {
    std::vector<std::pair<xs_transaction_t, int>> failed;  // transactions whose later requests skip, and why
    for (auto& it : items_) {
      xs_transaction_t tx = XBT_NULL;
      if (it.txRef >= 0) {
        tx = static_cast<xs_transaction_t>(it.txRef);
      } else {
        size_t k = static_cast<size_t>(-1 - it.txRef);
        const XsRequest& start = items_[k];  // checked in Batch(): k < this item's index
        if (!start.ran || start.err != 0) continue;  // its transaction never began: skip
        tx = start.tx;
      }
      if (tx != XBT_NULL) {
        auto f = std::find_if(failed.begin(), failed.end(), [tx](const auto& p) { return p.first == tx; });
        if (f != failed.end()) {
          // An end still ends it, as an abort, failing with what failed it: never a commit of
          // a transaction that lost a request, and never a transaction left open.
          if (it.kind == kEnd) {
            it.ran = true;
            xs_transaction_end(xsh_, tx, true);
            it.err = f->second;
          }
          continue;
        }
      }
      errno = 0;
      it.ran = true;
      if (!RunRequest(xsh_, tx, it)) {
        it.err = errno != 0 ? errno : EIO;
        bool answer = it.kind == kRead && it.err == ENOENT;
        if (tx != XBT_NULL && !answer && it.kind != kEnd) failed.emplace_back(tx, it.err);
      }
    }
    return true;
  }
  // One result per request: its value (RequestValue), its Error, or null if it was skipped.
  Napi::Value Result(Napi::Env env) override {
    Napi::Array results = Napi::Array::New(env, items_.size());
    for (size_t k = 0; k < items_.size(); k++) {
      const auto& it = items_[k];
      results.Set(k, !it.ran            ? env.Null()
                     : it.err != 0      ? MakeXsError(env, it.err, kRequestNames[it.kind], it.path).Value()
                                        : RequestValue(env, it));
    }
    return results;
  }

 private:
  std::vector<XsRequest> items_;
};

std::vector<struct xs_permissions> PermsArg(Napi::Env env, const Napi::Value& value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "permissions must be an array");
  auto arr = value.As<Napi::Array>();
  std::vector<struct xs_permissions> perms;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) throw Napi::TypeError::New(env, "each permission must be {id, perms}");
    auto o = v.As<Napi::Object>();
    if (!o.Get("id").IsNumber() || !o.Get("perms").IsNumber())
      throw Napi::TypeError::New(env, "each permission must be {id, perms}");
    struct xs_permissions p;
    p.id = o.Get("id").As<Napi::Number>().Uint32Value();
    p.perms = o.Get("perms").As<Napi::Number>().Uint32Value();
    perms.push_back(p);
  }
  return perms;
}

// (path, token) of watch and unwatch.
std::pair<std::string, std::string> WatchArgs(const Napi::CallbackInfo& info) {
  auto path = PathArg(info, 0);
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "token must be a string");
  return {std::move(path), info[1].As<Napi::String>().Utf8Value()};
}

// A request of `kind` on (tx, path) from the call's first two arguments.
XsRequest TxPathArgs(const Napi::CallbackInfo& info, RequestKind kind) {
  XsRequest r(kind);
  r.txRef = TxArg(info, 0);
  r.path = PathArg(info, 1);
  return r;
}

}  // namespace

// ---- the handle ----

Napi::Function XsHandle::Init(Napi::Env env) {
  return DefineClass(env, "XsHandle",
                     {
                         InstanceMethod<&XsHandle::Open>("open"),
                         InstanceMethod<&XsHandle::Read>("read"),
                         InstanceMethod<&XsHandle::Write>("write"),
                         InstanceMethod<&XsHandle::Directory>("directory"),
                         InstanceMethod<&XsHandle::Mkdir>("mkdir"),
                         InstanceMethod<&XsHandle::Rm>("rm"),
                         InstanceMethod<&XsHandle::GetPermissions>("getPermissions"),
                         InstanceMethod<&XsHandle::SetPermissions>("setPermissions"),
                         InstanceMethod<&XsHandle::TransactionStart>("transactionStart"),
                         InstanceMethod<&XsHandle::TransactionEnd>("transactionEnd"),
                         InstanceMethod<&XsHandle::Watch>("watch"),
                         InstanceMethod<&XsHandle::Unwatch>("unwatch"),
                         InstanceMethod<&XsHandle::SetWatchRef>("setWatchRef"),
                         InstanceMethod<&XsHandle::Batch>("batch"),
                         InstanceMethod<&XsHandle::Close>("close"),
                     });
}

// new XsHandle(onWatch: (err: Error | null, path: string, token: string) => void)
XsHandle::XsHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XsHandle>(info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "onWatch must be a function");
  onWatch_ = Napi::Persistent(info[0].As<Napi::Function>());
  watchContext_ = std::make_unique<Napi::AsyncContext>(info.Env(), "memcoop:xenstore-watch");
}

XsHandle::~XsHandle() {
  // Reached when the JS object is collected without close(), or at environment teardown.
  if (poll_ != nullptr && !pollClosing_) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
    poll_ = nullptr;
  } else if (poll_ != nullptr) {
    // A close already pending (StopPoll) would call back into this object after it is freed:
    // OnPollClosed then only frees the handle.
    poll_->data = nullptr;
    poll_ = nullptr;
  }
  // A request still on a pool thread uses the raw handle: leave it to the OS rather than free it
  // underneath that thread (only possible at teardown, since requests keep the object alive).
  if (xsh_ != nullptr && pending_ == 0) xs_close(xsh_);
  xsh_ = nullptr;
  RemoveCleanupHook();
  if (envGone_) {
    // The environment is being torn down: these references must not be released through it.
    onWatch_.SuppressDestruct();
    watchContext_.release();
  }
}

// open(socketPath: string | undefined, socketOnly: boolean): void
// Synchronous on purpose: XENSTORED_PATH is process-wide and libxenstore reads it inside xs_open,
// so setting it, opening and restoring it must not interleave with another open. Opening is a
// connect() to a local socket or an open() of /dev/xen/xenbus; neither waits on the daemon.
Napi::Value XsHandle::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (xsh_ != nullptr || closing_) throw Napi::Error::New(env, "xenstore handle already opened");
  std::optional<std::string> socketPath;
  if (info[0].IsString()) socketPath = info[0].As<Napi::String>().Utf8Value();
  bool socketOnly = info[1].ToBoolean().Value();

  std::optional<std::string> previous;
  if (socketPath) {
    if (const char* p = getenv("XENSTORED_PATH")) previous = p;
    setenv("XENSTORED_PATH", socketPath->c_str(), 1);
  }
  std::string target = socketPath ? *socketPath : xs_daemon_socket();
  struct xs_handle* h = nullptr;
  int err = 0;
  if (socketOnly) {
    // libxenstore 4.17 ignores XS_OPEN_SOCKETONLY and falls back to the xenbus device, so check
    // that the socket exists first.
    struct stat st;
    if (stat(target.c_str(), &st) != 0)
      err = errno;
    else if (!S_ISSOCK(st.st_mode))
      err = ENOTSOCK;
  }
  if (err == 0) {
    errno = 0;
    h = xs_open(socketOnly ? XS_OPEN_SOCKETONLY : 0);
    if (h == nullptr) err = errno != 0 ? errno : ECONNREFUSED;
  }
  if (socketPath) {
    if (previous)
      setenv("XENSTORED_PATH", previous->c_str(), 1);
    else
      unsetenv("XENSTORED_PATH");
  }
  if (h == nullptr) throw MakeXsError(env, err, "open", target);
  xsh_ = h;
  napi_add_async_cleanup_hook(env, OnEnvCleanup, this, &cleanupHook_);
  return env.Undefined();
}

Napi::Value XsHandle::Unusable(Napi::Env env, const char* op, const std::string& path) {
  if (xsh_ != nullptr && !closing_) return Napi::Value();
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(MakeXsError(env, EBADF, op, path).Value());
  return d.Promise();
}

Napi::Value XsHandle::Send(Napi::Env env, XsRequest&& r) {
  if (auto u = Unusable(env, kRequestNames[r.kind], r.path); !u.IsEmpty()) return u;
  return (new RequestOp(this, Value(), std::move(r)))->Start();
}

Napi::Value XsHandle::Read(const Napi::CallbackInfo& info) { return Send(info.Env(), TxPathArgs(info, kRead)); }

Napi::Value XsHandle::Write(const Napi::CallbackInfo& info) {
  XsRequest r = TxPathArgs(info, kWrite);
  if (!info[2].IsBuffer()) throw Napi::TypeError::New(info.Env(), "value must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<char>>();
  r.data.assign(buf.Data(), buf.Data() + buf.Length());
  return Send(info.Env(), std::move(r));
}

Napi::Value XsHandle::Directory(const Napi::CallbackInfo& info) { return Send(info.Env(), TxPathArgs(info, kDirectory)); }

Napi::Value XsHandle::Mkdir(const Napi::CallbackInfo& info) { return Send(info.Env(), TxPathArgs(info, kMkdir)); }

Napi::Value XsHandle::Rm(const Napi::CallbackInfo& info) { return Send(info.Env(), TxPathArgs(info, kRm)); }

Napi::Value XsHandle::GetPermissions(const Napi::CallbackInfo& info) { return Send(info.Env(), TxPathArgs(info, kGetPerms)); }

// setPermissions(tx, path, [{id, perms}]): the first entry is the owner, whose perms apply to
// every domain not listed.
Napi::Value XsHandle::SetPermissions(const Napi::CallbackInfo& info) {
  XsRequest r = TxPathArgs(info, kSetPerms);
  r.perms = PermsArg(info.Env(), info[2]);
  return Send(info.Env(), std::move(r));
}

// batch(ops: [kind, path, tx, value?][]): Promise<results> (see BatchOp).
Napi::Value XsHandle::Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "ops must be an array");
  auto arr = info[0].As<Napi::Array>();
  std::vector<XsRequest> items;
  items.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsArray()) throw Napi::TypeError::New(env, "each op must be [kind, path, tx, value?]");
    auto op = v.As<Napi::Array>();
    if (!op.Get(0u).IsNumber() || !op.Get(1u).IsString() || !op.Get(2u).IsNumber())
      throw Napi::TypeError::New(env, "each op must be [kind, path, tx, value?]");
    uint32_t kind = op.Get(0u).As<Napi::Number>().Uint32Value();
    if (kind > kGetPerms) throw Napi::TypeError::New(env, "unknown op kind");
    XsRequest it(static_cast<RequestKind>(kind));
    it.path = op.Get(1u).As<Napi::String>().Utf8Value();
    it.txRef = op.Get(2u).As<Napi::Number>().Int64Value();
    if (it.txRef < 0) {
      int64_t k = -1 - it.txRef;
      if (k >= static_cast<int64_t>(i) || items[static_cast<size_t>(k)].kind != kStart)
        throw Napi::TypeError::New(env, "a transaction reference must name an earlier start");
    } else if (it.txRef > UINT32_MAX) {
      throw Napi::TypeError::New(env, "bad transaction id");
    }
    if (it.kind == kWrite) {
      Napi::Value b = op.Get(3u);
      if (!b.IsBuffer()) throw Napi::TypeError::New(env, "value must be a Buffer");
      auto buf = b.As<Napi::Buffer<char>>();
      it.data.assign(buf.Data(), buf.Data() + buf.Length());
    } else if (it.kind == kSetPerms) {
      it.perms = PermsArg(env, op.Get(3u));
    } else if (it.kind == kEnd) {
      it.abort = op.Get(3u).ToBoolean().Value();
    }
    items.push_back(std::move(it));
  }
  if (auto r = Unusable(env, "batch", ""); !r.IsEmpty()) return r;
  return (new BatchOp(this, Value(), std::move(items)))->Start();
}

Napi::Value XsHandle::TransactionStart(const Napi::CallbackInfo& info) { return Send(info.Env(), XsRequest(kStart)); }

Napi::Value XsHandle::TransactionEnd(const Napi::CallbackInfo& info) {
  XsRequest r(kEnd);
  r.txRef = TxArg(info, 0);
  r.abort = info[1].ToBoolean().Value();
  return Send(info.Env(), std::move(r));
}

// watch(path, token): starts the poll on xs_fileno first, so that the event xenstored sends as
// soon as the watch is registered is not missed.
Napi::Value XsHandle::Watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [path, token] = WatchArgs(info);
  if (auto r = Unusable(env, "watch", path); !r.IsEmpty()) return r;
  if (int err = EnsurePoll(env); err != 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeXsError(env, err, "watch", path).Value());
    return d.Promise();
  }
  return (new WatchOp(this, Value(), path, token, true))->Start();
}

Napi::Value XsHandle::Unwatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [path, token] = WatchArgs(info);
  if (auto r = Unusable(env, "unwatch", path); !r.IsEmpty()) return r;
  return (new WatchOp(this, Value(), path, token, false))->Start();
}

// setWatchRef(ref): whether pending watches keep the event loop (and so the process) alive.
Napi::Value XsHandle::SetWatchRef(const Napi::CallbackInfo& info) {
  pollRef_ = info[0].ToBoolean().Value();
  if (poll_ != nullptr && !pollClosing_) {
    if (pollRef_)
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  return info.Env().Undefined();
}

int XsHandle::EnsurePoll(Napi::Env env) {
  if (poll_ != nullptr) return 0;
  int fd = xs_fileno(xsh_);  // creates libxenstore's watch pipe
  if (fd < 0) return errno != 0 ? errno : EIO;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return EIO;
  auto* poll = new uv_poll_t;
  if (int r = uv_poll_init(loop, poll, fd); r != 0) {
    delete poll;
    return -r;
  }
  poll->data = this;
  if (int r = uv_poll_start(poll, UV_READABLE, OnPoll); r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll), OnPollClosed);
    return -r;
  }
  if (!pollRef_) uv_unref(reinterpret_cast<uv_handle_t*>(poll));
  poll_ = poll;
  return 0;
}

void XsHandle::OnPoll(uv_poll_t* poll, int status, int events) {
  auto* self = static_cast<XsHandle*>(poll->data);
  if (self == nullptr || self->closing_) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  if (status < 0) {
    Napi::Error e = MakeXsError(env, -status, "watch_poll", "");
    self->StopPoll();
    self->CallOnWatch(env, {e.Value(), env.Undefined(), env.Undefined()});
    return;
  }
  self->DeliverWatchEvents();
}

// Drains every queued event: libxenstore may leave the pipe unreadable while more are queued.
void XsHandle::DeliverWatchEvents() {
  Napi::Env env = Env();
  while (!closing_ && xsh_ != nullptr) {
    errno = 0;
    char** w = xs_check_watch(xsh_);
    if (w == nullptr) {
      int err = errno;
      if (err == EAGAIN) return;
      // The connection is gone (libxenstore's reader thread stops on a read error).
      StopPoll();
      Napi::Error e = MakeXsError(env, err != 0 ? err : EIO, "watch", "");
      CallOnWatch(env, {e.Value(), env.Undefined(), env.Undefined()});
      return;
    }
    Napi::String path = Napi::String::New(env, w[XS_WATCH_PATH]);
    Napi::String token = Napi::String::New(env, w[XS_WATCH_TOKEN]);
    free(w);
    CallOnWatch(env, {env.Null(), path, token});
  }
}

// MakeCallback runs the microtask queue afterwards, as any callback from the event loop must.
void XsHandle::CallOnWatch(Napi::Env env, std::initializer_list<napi_value> args) {
  try {
    onWatch_.MakeCallback(Value(), args, *watchContext_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());  // surfaces as 'uncaughtException', as in any callback
  }
}

void XsHandle::StopPoll() {
  if (poll_ == nullptr || pollClosing_) return;
  uv_poll_stop(poll_);
  pollClosing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
}

void XsHandle::OnPollClosed(uv_handle_t* handle) {
  auto* poll = reinterpret_cast<uv_poll_t*>(handle);
  auto* self = static_cast<XsHandle*>(poll->data);
  delete poll;
  if (self == nullptr) return;
  self->poll_ = nullptr;
  self->pollClosing_ = false;
  if (self->envGone_) {
    // Teardown: the hook must be removed whatever is still in flight, or Node waits for it.
    if (self->pending_ == 0 && self->xsh_ != nullptr) {
      xs_close(self->xsh_);
      self->xsh_ = nullptr;
    }
    self->RemoveCleanupHook();
    return;
  }
  Napi::HandleScope scope(self->Env());
  self->MaybeFinishClose();
}

// close(): Promise<void>, resolved once in-flight requests have finished and the handle is shut.
Napi::Value XsHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = Napi::Promise::Deferred::New(env);
  if (xsh_ == nullptr) {  // never opened, or already closed
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  closing_ = true;
  closeWaiters_.push_back(d);
  StopPoll();
  MaybeFinishClose();
  return d.Promise();
}

void XsHandle::MaybeFinishClose() {
  if (!closing_ || pending_ > 0 || poll_ != nullptr || xsh_ == nullptr) return;
  xs_close(xsh_);
  xsh_ = nullptr;
  RemoveCleanupHook();
  if (envGone_) return;
  Napi::Env env = Env();
  auto waiters = std::move(closeWaiters_);
  closeWaiters_.clear();
  for (auto& w : waiters) w.Resolve(env.Undefined());
}

void XsHandle::RemoveCleanupHook() {
  if (cleanupHook_ == nullptr) return;
  napi_remove_async_cleanup_hook(cleanupHook_);
  cleanupHook_ = nullptr;
}

// At environment teardown (process exit, worker exit): close the poll handle through the loop,
// then the connection; no JS runs from here on.
void XsHandle::OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg) {
  auto* self = static_cast<XsHandle*>(arg);
  self->envGone_ = true;
  self->closing_ = true;
  if (self->poll_ != nullptr && !self->pollClosing_) {
    uv_poll_stop(self->poll_);
    self->pollClosing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(self->poll_), OnPollClosed);
    return;  // OnPollClosed -> MaybeFinishClose -> RemoveCleanupHook
  }
  if (self->poll_ == nullptr) {
    if (self->pending_ == 0 && self->xsh_ != nullptr) {
      xs_close(self->xsh_);
      self->xsh_ = nullptr;
    }
    self->RemoveCleanupHook();
  }
}

}  // namespace memcoop

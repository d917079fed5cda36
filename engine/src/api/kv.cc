#include "api/kv.h"

#include "engine.h"
#include "kv_store.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// Cloudflare's limits.
constexpr size_t kMaxKeyBytes = 512;
constexpr size_t kMaxValueBytes = 25u << 20;
constexpr size_t kMaxMetadataBytes = 1024;
// kv.js refuses expirations from the year 4000 (KV_MAX_EXPIRATION).
constexpr double kMaxExpireAtMs = 64060588800.0 * 1000;
constexpr uint32_t kMaxOpsPerRequest = 1000;
constexpr uint32_t kMaxListLimit = 1000;

void throw_error(v8::Isolate *isolate, v8::Local<v8::Value> (*make)(v8::Local<v8::String>),
                 const std::string &msg) {
  isolate->ThrowException(make(v8_str(isolate, msg)));
}

// The checks every operation shares: a binding of this script, a request
// under its operation limit, a valid key. On success *space is "NS/ID".
bool prologue(const v8::FunctionCallbackInfo<v8::Value> &info, bool has_key,
              const std::string **space, std::string *key) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  *space = info.Length() > 0 && info[0]->IsUint32()
               ? tenant->kv_space(info[0].As<v8::Uint32>()->Value())
               : nullptr;
  if (*space == nullptr) {
    throw_error(isolate, v8::Exception::TypeError, "not a KV binding of this script");
    return false;
  }
  RequestScope *req = tenant->current_request();
  if (req != nullptr && ++req->kv_ops > kMaxOpsPerRequest) {
    throw_error(isolate, v8::Exception::Error,
                "Too many API requests by single Worker invocation: at most 1000 KV "
                "operations per request");
    return false;
  }
  if (!has_key) return true;
  if (info.Length() < 2 || !info[1]->IsString()) {
    throw_error(isolate, v8::Exception::TypeError, "KV keys are strings");
    return false;
  }
  *key = to_std_string(isolate, info[1]);
  if (key->empty() || *key == "." || *key == "..") {
    throw_error(isolate, v8::Exception::TypeError,
                "KV keys must not be empty, \".\" or \"..\"");
    return false;
  }
  if (key->size() > kMaxKeyBytes) {
    throw_error(isolate, v8::Exception::RangeError,
                "KV keys are at most 512 bytes; this one is " + std::to_string(key->size()));
    return false;
  }
  return true;
}

// The script's Error for a failed operation. What Redis itself answered
// (a Lua script's SHA and line, its wording) goes to the error log, for the
// operator; the script reads only that the store refused it.
v8::Local<v8::Value> error_value(v8::Isolate *isolate, const std::string &error) {
  std::string msg = error;
  if (msg.compare(0, 6, "QUOTA ") == 0) {
    msg = msg.substr(6);
  } else if (msg.compare(0, kKvStoreError.size(), kKvStoreError) == 0) {
    TenantIsolate::from(isolate)->log(DISPATCH_LOG_ERR,
                                      "KV: Redis answered: " + msg.substr(kKvStoreError.size()));
    msg = "the store refused the operation (the error log has why)";
  }
  return v8::Exception::Error(v8_str(isolate, "KV: " + msg));
}

v8::Local<v8::Value> shape_nothing(v8::Isolate *isolate, const KvResult &) {
  return v8::Undefined(isolate);
}

using Shape = std::function<v8::Local<v8::Value>(v8::Isolate *, const KvResult &)>;
using Done = std::function<void(KvResult, Shape)>;

// KV operations one isolate may have sent to Redis and not yet had answered;
// the rest wait in the engine, in order. Redis makes every answer in one
// piece as it runs the command: 1000 gets of a 25 MiB value sent at once
// (one request's worth) grew its output buffers past 20 GB, and the store
// of every tenant and every node stopped answering for a minute.
constexpr size_t kMaxKvInFlight = 8;

// One operation of the isolate's ended: the next waiting ones go, in a loop
// (an operation may end at once, inside its own start, when Redis is away).
void kv_next(TenantIsolate &tenant) {
  TenantIsolate::KvQueue &queue = tenant.kv_queue();
  queue.in_flight--;
  if (queue.draining) return;
  queue.draining = true;
  while (queue.in_flight < kMaxKvInFlight && !queue.waiting.empty()) {
    std::function<void()> next = std::move(queue.waiting.front());
    queue.waiting.pop_front();
    queue.in_flight++;
    next();
  }
  queue.draining = false;
}

// Starts `run` (which owns what it sends), now or once fewer than
// kMaxKvInFlight of the isolate's operations are in flight; it calls the
// store with a completion that settles the script's promise through
// complete_async. An operation whose request ended while it waited is not
// sent.
void start(const v8::FunctionCallbackInfo<v8::Value> &info, std::function<void(KvStore &, Done)> run) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  uint64_t request_id = 0, op = 0;
  v8::Local<v8::Promise> promise;
  if (!tenant->begin_async(&request_id, &op).ToLocal(&promise)) return;
  std::weak_ptr<TenantIsolate> weak = tenant->shared_from_this();
  Done done = [weak, request_id, op](KvResult result, Shape shape) {
    std::shared_ptr<TenantIsolate> self = weak.lock();
    if (!self) return;  // retired meanwhile: nobody awaits the result
    kv_next(*self);
    if (RequestScope *scope = self->engine().find(request_id)) {
      scope->kv_bytes += result.value.size();  // read (dispatch_status)
    }
    // By value: the settling may be deferred past this callback.
    self->complete_async(request_id, op, [result = std::move(result), shape](
                                 v8::Local<v8::Context> context,
                                 v8::Local<v8::Promise::Resolver> resolver) {
      v8::Isolate *iso = context->GetIsolate();
      // Resolving reads `then` of the value, where a tenant's getter may
      // run and be stopped by a limit: Nothing then, which turn() reports.
      if (!result.error.empty()) {
        if (resolver->Reject(context, error_value(iso, result.error)).IsNothing()) return;
        return;
      }
      // shape() throws (a RangeError) when the value does not fit the
      // script's memory: the script's promise rejects with it.
      v8::TryCatch try_catch(iso);
      v8::Local<v8::Value> value = shape(iso, result);
      if (try_catch.HasCaught() && !try_catch.HasTerminated()) {
        v8::Local<v8::Value> error = try_catch.Exception();
        try_catch.Reset();
        if (resolver->Reject(context, error).IsNothing()) return;
      } else if (!value.IsEmpty()) {
        if (resolver->Resolve(context, value).IsNothing()) return;
      }
    });
  };
  std::function<void()> launch = [weak, request_id, run = std::move(run), done]() {
    std::shared_ptr<TenantIsolate> self = weak.lock();
    if (!self) return;
    if (self->engine().find(request_id) == nullptr) {
      done(KvResult{}, shape_nothing);  // its request is over: nobody awaits it
      return;
    }
    run(self->engine().kv(), done);
  };
  TenantIsolate::KvQueue &queue = tenant->kv_queue();
  if (queue.in_flight < kMaxKvInFlight && queue.waiting.empty()) {
    queue.in_flight++;
    launch();
  } else {
    queue.waiting.push_back(std::move(launch));
  }
  info.GetReturnValue().Set(promise);
}

// get: null, or [ArrayBuffer value, metadata JSON or null]
v8::Local<v8::Value> shape_get(v8::Isolate *isolate, const KvResult &r) {
  if (!r.found) return v8::Null(isolate);
  v8::Local<v8::ArrayBuffer> value;
  if (!new_array_buffer(isolate, r.value.data(), r.value.size()).ToLocal(&value)) return {};
  v8::Local<v8::Value> items[] = {
      value, r.metadata.empty() ? v8::Null(isolate).As<v8::Value>()
                                : v8_str(isolate, r.metadata).As<v8::Value>()};
  return v8::Array::New(isolate, items, 2);
}

// list: [complete, cursor, name, expiration (0: none), metadata JSON or null, ...]
v8::Local<v8::Value> shape_list(v8::Isolate *isolate, const KvResult &r) {
  std::vector<v8::Local<v8::Value>> items;
  items.reserve(2 + 3 * r.keys.size());
  items.push_back(v8::Boolean::New(isolate, r.list_complete));
  items.push_back(v8_str(isolate, r.cursor));
  for (const KvEntry &e : r.keys) {
    items.push_back(v8_str(isolate, e.key));
    items.push_back(v8::Number::New(isolate, double(e.expiration)));
    items.push_back(e.metadata.empty() ? v8::Null(isolate).As<v8::Value>()
                                       : v8_str(isolate, e.metadata).As<v8::Value>());
  }
  return v8::Array::New(isolate, items.data(), items.size());
}

void kv_get(const v8::FunctionCallbackInfo<v8::Value> &info) {
  const std::string *space;
  std::string key;
  if (!prologue(info, true, &space, &key)) return;
  std::string s = *space;
  start(info, [s, key](KvStore &kv, Done done) {
    kv.get(s, key, [done](KvResult r) { done(std::move(r), shape_get); });
  });
}

void kv_put(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const std::string *space;
  std::string key;
  if (!prologue(info, true, &space, &key)) return;
  if (info.Length() < 5 || !info[2]->IsUint8Array() || !info[4]->IsNumber()) {
    throw_error(isolate, v8::Exception::TypeError, "kvPut(binding, key, bytes, metadata, expiry)");
    return;
  }
  auto bytes = info[2].As<v8::Uint8Array>();
  if (bytes->ByteLength() > kMaxValueBytes) {
    throw_error(isolate, v8::Exception::RangeError,
                "KV values are at most 25 MiB; this one is " +
                std::to_string(bytes->ByteLength()) + " bytes");
    return;
  }
  std::string value(bytes->ByteLength(), '\0');
  bytes->CopyContents(value.data(), value.size());
  if (RequestScope *req = TenantIsolate::from(isolate)->current_request()) {
    req->kv_bytes += value.size();  // written (dispatch_status)
  }
  std::string metadata = info[3]->IsString() ? to_std_string(isolate, info[3]) : "";
  if (metadata.size() > kMaxMetadataBytes) {
    throw_error(isolate, v8::Exception::RangeError,
                "KV metadata is at most 1024 bytes serialized; this is " +
                std::to_string(metadata.size()));
    return;
  }
  double at = info[4].As<v8::Number>()->Value();
  if (!(at >= 0 && at <= kMaxExpireAtMs)) {  // NaN too: no cast out of range
    throw_error(isolate, v8::Exception::TypeError, "KV put(): expiration must be before the year 4000");
    return;
  }
  int64_t expire_at = int64_t(at);
  std::string s = *space;
  start(info, [s, key, value = std::move(value), metadata, expire_at](KvStore &kv, Done done) {
    kv.put(s, key, value, metadata, expire_at,
           [done](KvResult r) { done(std::move(r), shape_nothing); });
  });
}

void kv_delete(const v8::FunctionCallbackInfo<v8::Value> &info) {
  const std::string *space;
  std::string key;
  if (!prologue(info, true, &space, &key)) return;
  std::string s = *space;
  start(info, [s, key](KvStore &kv, Done done) {
    kv.remove(s, key, [done](KvResult r) { done(std::move(r), shape_nothing); });
  });
}

void kv_list(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const std::string *space;
  std::string unused;
  if (!prologue(info, false, &space, &unused)) return;
  // A prefix or a cursor is a key's worth at most: Redis reads each
  // operation's arguments whole, in the one thread every tenant's KV, every
  // script load and the management API wait on (a list() of a 5 MB prefix
  // held it ~0.3 s, every 50 ms request of one client, no limit hit). A
  // longer prefix matches no key; a longer cursor was never given out.
  auto too_long = [&](int i) {
    return info.Length() > i && info[i]->IsString() &&
           size_t(info[i].As<v8::String>()->Length()) > kMaxKeyBytes;  // each unit a byte at least
  };
  bool no_match = too_long(1);
  if (too_long(3)) {
    throw_error(isolate, v8::Exception::TypeError, "KV list(): invalid cursor");
    return;
  }
  std::string prefix = info.Length() > 1 && info[1]->IsString() && !no_match
                           ? to_std_string(isolate, info[1]) : "";
  if (prefix.size() > kMaxKeyBytes) no_match = true;
  uint32_t limit = info.Length() > 2 && info[2]->IsUint32() ? info[2].As<v8::Uint32>()->Value()
                                                            : kMaxListLimit;
  if (limit < 1 || limit > kMaxListLimit) {
    throw_error(isolate, v8::Exception::RangeError, "list() limit is 1 to 1000");
    return;
  }
  std::string cursor = info.Length() > 3 && info[3]->IsString() ? to_std_string(isolate, info[3]) : "";
  if (cursor.size() > kMaxKeyBytes) {
    throw_error(isolate, v8::Exception::TypeError, "KV list(): invalid cursor");
    return;
  }
  if (no_match) {
    start(info, [](KvStore &, Done done) {
      KvResult none;
      none.list_complete = true;
      done(std::move(none), shape_list);
    });
    return;
  }
  std::string s = *space;
  start(info, [s, prefix, limit, cursor](KvStore &kv, Done done) {
    kv.list(s, prefix, limit, cursor, [done](KvResult r) { done(std::move(r), shape_list); });
  });
}

}  // namespace

void install_kv_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  struct {
    const char *name;
    v8::FunctionCallback fn;
  } fns[] = {{"kvGet", kv_get}, {"kvPut", kv_put}, {"kvDelete", kv_delete}, {"kvList", kv_list}};
  for (const auto &f : fns) {
    native->Set(context, v8_str(isolate, f.name),
                native_function(context, f.fn)).Check();
  }
}

}  // namespace dispatch

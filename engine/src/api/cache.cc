#include "api/cache.h"

#include <chrono>

#include "cache_store.h"
#include "engine.h"
#include "memory_budget.h"
#include "native_state.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// Bounds on what a tenant hands in: a cache name, a URL (nginx's own
// request lines stop well below), and the meta the built-ins serialise
// (status, headers of at most 128 KiB on the wire, Vary values).
constexpr size_t kMaxCacheName = 1024;
constexpr size_t kMaxUrl = 16 * 1024;
constexpr size_t kMaxMeta = 256 * 1024;
constexpr size_t kReadPiece = 64 * 1024;

struct CachePut : NativeState {
  static constexpr const char *kKind = "cache-put";
  explicit CachePut(std::unique_ptr<CacheWriter> w) : NativeState(kKind), writer(std::move(w)) {}
  std::unique_ptr<CacheWriter> writer;
};

struct CacheGet : NativeState {
  static constexpr const char *kKind = "cache-get";
  explicit CacheGet(std::unique_ptr<CacheReader> r) : NativeState(kKind), reader(std::move(r)) {}
  std::unique_ptr<CacheReader> reader;
};

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

CacheStore &store_of(v8::Isolate *isolate) { return TenantIsolate::from(isolate)->engine().cache(); }

// info[0] cache name, info[1] URL: the encoded key of this script's entry,
// or false with a TypeError thrown.
bool key_arg(const v8::FunctionCallbackInfo<v8::Value> &info, std::string *key) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 2 || !info[0]->IsString() || !info[1]->IsString()) {
    throw_type_error(isolate, "Cache: a cache name and a URL are strings");
    return false;
  }
  if (info[0].As<v8::String>()->Length() > int(kMaxCacheName)) {
    throw_type_error(isolate, "Cache: a cache name is at most 1024 characters");
    return false;
  }
  if (info[1].As<v8::String>()->Length() > int(kMaxUrl)) {
    throw_type_error(isolate, "Cache: a cache key URL is at most 16384 characters");
    return false;
  }
  std::string name = to_std_string(isolate, info[0]);
  std::string url = to_std_string(isolate, info[1]);
  if (name.size() > 4 * kMaxCacheName || url.size() > 4 * kMaxUrl) {
    throw_type_error(isolate, "Cache: the key is too long");
    return false;
  }
  *key = CacheStore::encode_key(TenantIsolate::from(isolate)->script(), name, url);
  return true;
}

void cache_enabled(const v8::FunctionCallbackInfo<v8::Value> &info) {
  info.GetReturnValue().Set(store_of(info.GetIsolate()).enabled());
}

// cachePutBegin(cacheName, url, meta, ttlMs) -> handle, or null when the
// entry cannot be stored (no cache, too large, too many at once: as on
// Workers, put() then stores nothing and says nothing).
void cache_put_begin(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  std::string key;
  if (!key_arg(info, &key)) return;
  if (info.Length() < 4 || !info[2]->IsString() || !info[3]->IsNumber()) {
    throw_type_error(isolate, "cachePutBegin(name, url, meta, ttl)");
    return;
  }
  if (info[2].As<v8::String>()->Length() > int(kMaxMeta)) {
    throw_type_error(isolate, "Cache: the response's headers are too large to cache");
    return;
  }
  double ttl = info[3].As<v8::Number>()->Value();
  if (!(ttl > 0)) {
    info.GetReturnValue().SetNull();
    return;
  }
  if (ttl > 1e15) ttl = 1e15;
  std::string meta = to_std_string(isolate, info[2]);
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  std::string err;
  auto writer = store_of(isolate).begin_put(tenant, tenant->script(), key, meta, uint64_t(ttl),
                                            &err);
  if (!writer) {
    info.GetReturnValue().SetNull();
    return;
  }
  info.GetReturnValue().Set(
      native_states(isolate).wrap(isolate, std::make_unique<CachePut>(std::move(writer))));
}

// cachePutWrite(handle, bytes) -> false once the entry will not be stored
void cache_put_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  CachePut *put = info.Length() >= 1 ? NativeStates::unwrap<CachePut>(isolate, info[0]) : nullptr;
  const char *data = nullptr;
  size_t len = 0;
  if (put == nullptr || info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len)) {
    throw_type_error(isolate, "cachePutWrite(handle, bytes)");
    return;
  }
  info.GetReturnValue().Set(put->writer->write(data, len));
}

// cachePutCommit(handle) -> whether it was stored; the handle is spent
void cache_put_commit(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  CachePut *put = info.Length() >= 1 ? NativeStates::unwrap<CachePut>(isolate, info[0]) : nullptr;
  if (put == nullptr) {
    throw_type_error(isolate, "cachePutCommit(handle)");
    return;
  }
  std::string err;
  bool stored = store_of(isolate).commit(*put->writer, &err);
  NativeStates::release(isolate, info[0]);
  info.GetReturnValue().Set(stored);
}

// cacheOpen(cacheName, url) -> null, or [handle, meta, body length, age s]
void cache_open(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  std::string key;
  if (!key_arg(info, &key)) return;
  TenantIsolate *tenant = TenantIsolate::from(isolate);
  std::string err;
  auto reader = store_of(isolate).open(tenant, key, &err);
  if (!reader) {
    info.GetReturnValue().SetNull();
    return;
  }
  uint64_t now = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
  double age = now > reader->stored_ms() ? double((now - reader->stored_ms()) / 1000) : 0;
  double length = double(reader->body_length());
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> items[] = {
      v8::Null(isolate), v8_str(isolate, reader->meta()), v8::Number::New(isolate, length),
      v8::Number::New(isolate, age)};
  items[0] = native_states(isolate).wrap(isolate, std::make_unique<CacheGet>(std::move(reader)));
  info.GetReturnValue().Set(frozen_list(context, items, 4));
}

// cacheSetRange(handle, start, end): only bytes [start, end) are read
void cache_set_range(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  CacheGet *get = info.Length() >= 1 ? NativeStates::unwrap<CacheGet>(isolate, info[0]) : nullptr;
  if (get == nullptr || info.Length() < 3 || !info[1]->IsNumber() || !info[2]->IsNumber()) {
    throw_type_error(isolate, "cacheSetRange(handle, start, end)");
    return;
  }
  double start = info[1].As<v8::Number>()->Value();
  double end = info[2].As<v8::Number>()->Value();
  double length = double(get->reader->body_length());
  if (!(start >= 0 && start <= end && end <= length)) {
    throw_type_error(isolate, "cacheSetRange: not a range of the body");
    return;
  }
  get->reader->set_range(uint64_t(start), uint64_t(end));
}

// cacheRead(handle) -> the next piece (at most 64 KiB, charged to the
// script's memory), or null at the end; the handle is spent then
void cache_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  CacheGet *get = info.Length() >= 1 ? NativeStates::unwrap<CacheGet>(isolate, info[0]) : nullptr;
  if (get == nullptr) {
    throw_type_error(isolate, "The cached body is closed");
    return;
  }
  std::string buf(kReadPiece, '\0');
  long n = get->reader->read(buf.data(), buf.size());
  if (n <= 0) {
    NativeStates::release(isolate, info[0]);
    if (n < 0) {
      throw_type_error(isolate, "The cached body could not be read");
      return;
    }
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> ab;
  if (!new_array_buffer(isolate, buf.data(), size_t(n)).ToLocal(&ab)) return;  // RangeError thrown
  info.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, size_t(n)));
}

// cacheDelete(cacheName, url) -> whether a fresh entry was there
void cache_delete(const v8::FunctionCallbackInfo<v8::Value> &info) {
  std::string key;
  if (!key_arg(info, &key)) return;
  info.GetReturnValue().Set(store_of(info.GetIsolate()).remove(key));
}

}  // namespace

void install_cache_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "cacheEnabled", cache_enabled);
  set_function(context, native, "cachePutBegin", cache_put_begin);
  set_function(context, native, "cachePutWrite", cache_put_write);
  set_function(context, native, "cachePutCommit", cache_put_commit);
  set_function(context, native, "cacheOpen", cache_open);
  set_function(context, native, "cacheSetRange", cache_set_range);
  set_function(context, native, "cacheRead", cache_read);
  set_function(context, native, "cacheDelete", cache_delete);
}

}  // namespace dispatch

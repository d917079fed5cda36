// cache.h: the native side of the Cache API (engine/js/cache.js) over
// CacheStore (cache_store.h). Every call builds the cache key in C++ from
// the calling script's own namespace and name, so no argument a tenant
// passes can reach another tenant's entries. File I/O is synchronous, in
// pieces of at most 64 KiB, on the event loop.
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.cacheEnabled(), cachePutBegin(cacheName, url, meta, ttlMs),
// cachePutWrite(handle, bytes), cachePutCommit(handle), cacheOpen(cacheName,
// url), cacheSetRange(handle, start, end), cacheRead(handle) and
// cacheDelete(cacheName, url).
void install_cache_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch

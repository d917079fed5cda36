// kv.h: the native side of KV bindings (engine/js/kv.js). Each call names
// the binding by its index among the script's own kv_namespace bindings;
// the Redis key is built in C++ (kv_store.h).
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.kvGet(binding, key), kvPut(binding, key, bytes, metadata,
// expireAtMs), kvDelete(binding, key) and kvList(binding, prefix, limit,
// cursor), each returning a promise, to the built-ins' `native`.
void install_kv_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch

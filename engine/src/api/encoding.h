// encoding.h: UTF-8 conversions the JavaScript built-ins lean on (bodies,
// URL percent-encoding); V8 does them far faster than JavaScript could.
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.encodeUtf8(string) -> Uint8Array and
// native.decodeUtf8(BufferSource) -> string to the built-ins' `native`.
void install_encoding_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch

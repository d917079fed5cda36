// crypto.h: the OpenSSL half of crypto.getRandomValues and crypto.subtle
// (digest, HMAC); the WebCrypto surface itself is JavaScript (crypto.js).
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.getRandomValues(view), native.digest(name, bytes) and
// native.hmac(hashName, key, data) to the built-ins' `native`.
void install_crypto_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch

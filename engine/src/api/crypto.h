// crypto.h: the OpenSSL half of crypto.getRandomValues and crypto.subtle
// (digest, HMAC, PBKDF2, HKDF, AES-GCM/CBC/CTR/KW, ECDSA, ECDH, Ed25519,
// X25519, RSASSA-PKCS1-v1_5, RSA-PSS, RSA-OAEP); the WebCrypto surface
// itself is JavaScript (crypto.js).
#pragma once

#include <v8.h>

namespace dispatch {
// Adds native.getRandomValues(view), native.digest(name, bytes),
// native.hmac(hashName, key, data) and, for crypto.DigestStream, the
// incremental digest: native.digestCreate(name) -> handle,
// native.digestUpdate(handle, bytes, at) -> next at or -1 (4 MiB a call),
// native.digestFinish(handle) ->
// ArrayBuffer (the state is freed; native.freeNative(handle) frees it
// without a result). Names: SHA-1, SHA-256, SHA-384, SHA-512, MD5.
// Also pbkdf2, hkdf, aesCbc, aesGcm, aesCtr, aesKw, ecdsaSign, ecdsaVerify,
// and for asymmetric keys (held as DER) keyImport, keyImportJwk, keyExport,
// keyGenerate (RSA gives up when the request's CPU time runs out),
// pkeySign, pkeyVerify, deriveShared and rsaOaep: see crypto.cc; they return
// null when the operation fails.
void install_crypto_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);
}  // namespace dispatch

#include "api/crypto.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstring>
#include <memory>
#include <string>

#include "memory_budget.h"
#include "native_state.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

const EVP_MD *digest_named(const std::string &name) {
  if (name == "SHA-1") return EVP_sha1();
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  if (name == "MD5") return EVP_md5();  // digest only, as on Workers
  return nullptr;
}

struct Bytes {
  const unsigned char *data = nullptr;
  size_t len = 0;
};

bool bytes_of(v8::Local<v8::Value> value, Bytes *out) {
  const char *data = nullptr;
  if (!buffer_source_bytes(value, &data, &out->len)) return false;
  out->data = reinterpret_cast<const unsigned char *>(data);
  return true;
}

void throw_type_error(v8::Isolate *isolate, const char *msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

// Empty, with a RangeError thrown, when the budget cannot hold it.
v8::MaybeLocal<v8::ArrayBuffer> buffer_with(v8::Isolate *isolate, const unsigned char *data,
                                            size_t len) {
  return new_array_buffer(isolate, data, len);
}

// OpenSSL takes int lengths.
constexpr size_t kMaxCryptoInput = size_t(INT32_MAX);

void get_random_values(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  if (info.Length() < 1 || !info[0]->IsArrayBufferView()) {
    throw_type_error(isolate, "getRandomValues expects an ArrayBufferView");
    return;
  }
  auto view = info[0].As<v8::ArrayBufferView>();
  // WebCrypto's quota; OpenSSL takes an int besides.
  if (view->ByteLength() > 65536) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate,
        "getRandomValues: at most 65536 bytes at a time")));
    return;
  }
  unsigned char *p = static_cast<unsigned char *>(view->Buffer()->Data()) + view->ByteOffset();
  if (view->ByteLength() && RAND_bytes(p, int(view->ByteLength())) != 1) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "no randomness available")));
    return;
  }
  info.GetReturnValue().Set(info[0]);
}

void digest(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes data;
  const EVP_MD *md = info.Length() >= 2 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || !bytes_of(info[1], &data)) {
    throw_type_error(isolate, "digest expects a SHA name and bytes");
    return;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data, data.len, out, &len, md, nullptr) != 1) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "digest failed")));
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (buffer_with(isolate, out, len).ToLocal(&result)) info.GetReturnValue().Set(result);
}

void hmac(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes key, data;
  const EVP_MD *md = info.Length() >= 3 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || !bytes_of(info[1], &key) || !bytes_of(info[2], &data)) {
    throw_type_error(isolate, "hmac expects a SHA name, a key and bytes");
    return;
  }
  if (key.len > kMaxCryptoInput) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, "the HMAC key is too long")));
    return;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const unsigned char empty = 0;
  if (HMAC(md, key.len ? key.data : &empty, int(key.len), data.data, data.len, out, &len) ==
      nullptr) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "hmac failed")));
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (buffer_with(isolate, out, len).ToLocal(&result)) info.GetReturnValue().Set(result);
}

// A digest in progress (crypto.DigestStream). OpenSSL's context lives
// outside V8's view: a fixed charge covers it (EVP_MD_CTX, the hash's state
// and the provider's, all under 1 KiB for these hashes).
class DigestState : public NativeState {
 public:
  static constexpr const char *kKind = "digest";
  static constexpr size_t kCharge = 1024;

  DigestState(MemoryBudget &budget, EVP_MD_CTX *ctx)
      : NativeState(kKind), budget_(budget), ctx_(ctx) {}
  ~DigestState() override {
    EVP_MD_CTX_free(ctx_);
    budget_.refund(kCharge);
  }
  EVP_MD_CTX *ctx() { return ctx_; }

 private:
  MemoryBudget &budget_;
  EVP_MD_CTX *ctx_;
};

DigestState *digest_state_arg(const v8::FunctionCallbackInfo<v8::Value> &info) {
  DigestState *state =
      info.Length() >= 1 ? NativeStates::unwrap<DigestState>(info.GetIsolate(), info[0]) : nullptr;
  if (state == nullptr) throw_type_error(info.GetIsolate(), "The digest stream is closed");
  return state;
}

// digestCreate(name) -> handle
void digest_create(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  const EVP_MD *md = info.Length() >= 1 && info[0]->IsString()
                         ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr) {
    throw_type_error(isolate, "digestCreate expects SHA-1, SHA-256, SHA-384, SHA-512 or MD5");
    return;
  }
  MemoryBudget &budget = TenantIsolate::from(isolate)->budget();
  if (!budget.charge_collecting(DigestState::kCharge)) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate,
        "The script's memory limit has no room for another digest stream")));
    return;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  auto state = std::make_unique<DigestState>(budget, ctx);  // frees ctx and refunds
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, md, nullptr) != 1) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "digest failed")));
    return;
  }
  info.GetReturnValue().Set(native_states(isolate).wrap(isolate, std::move(state)));
}

// digestUpdate(handle, bytes)
void digest_update(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  DigestState *state = digest_state_arg(info);
  Bytes data;
  if (state == nullptr) return;
  if (info.Length() < 2 || !bytes_of(info[1], &data)) {
    throw_type_error(isolate, "The chunk must be an ArrayBuffer or an ArrayBufferView");
    return;
  }
  if (data.len && EVP_DigestUpdate(state->ctx(), data.data, data.len) != 1) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "digest failed")));
  }
}

// digestFinish(handle) -> ArrayBuffer; the state is freed.
void digest_finish(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  DigestState *state = digest_state_arg(info);
  if (state == nullptr) return;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = EVP_DigestFinal_ex(state->ctx(), out, &len) == 1;
  NativeStates::release(isolate, info[0]);
  if (!ok) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "digest failed")));
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (buffer_with(isolate, out, len).ToLocal(&result)) info.GetReturnValue().Set(result);
}


// ---- Key derivation, ciphers and ECDSA (WebCrypto beyond digest/HMAC) ----
//
// Conventions of these natives: a TypeError for arguments crypto.js never
// passes; `null` for "the operation failed" (a wrong tag or padding, key
// data that is not a key), which crypto.js turns into the DOMException the
// standard names (OperationError, DataError). Every result is allocated
// through the isolate's budget (new_array_buffer) before it is written.
// Each call runs to its end inside the native call and its CPU time counts
// against the request; what one call can cost is bounded here.

// PBKDF2: at most 100,000 iterations (as Workers), and at most the work of
// 32 output blocks at that count.
constexpr uint64_t kPbkdf2MaxIterations = 100000;
constexpr uint64_t kPbkdf2MaxWork = kPbkdf2MaxIterations * 32;

bool uint_arg(v8::Local<v8::Value> value, uint64_t max, uint64_t *out) {
  if (!value->IsNumber()) return false;
  double d = value.As<v8::Number>()->Value();
  if (!(d >= 0) || d > double(max) || d != double(uint64_t(d))) return false;
  *out = uint64_t(d);
  return true;
}

void throw_range_error(v8::Isolate *isolate, const char *msg) {
  isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate, msg)));
}

// An uninitialized budgeted buffer of len bytes; empty (RangeError thrown) if
// the budget cannot hold it.
bool budget_buffer(v8::Isolate *isolate, size_t len, v8::Local<v8::ArrayBuffer> *out,
                   unsigned char **data) {
  if (!new_array_buffer(isolate, nullptr, len).ToLocal(out)) return false;
  *data = static_cast<unsigned char *>((*out)->Data());
  return true;
}

// pbkdf2(hash, password, salt, iterations, bytes) -> ArrayBuffer
void pbkdf2(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes password, salt;
  uint64_t iterations = 0, len = 0;
  const EVP_MD *md = info.Length() >= 5 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || EVP_MD_type(md) == NID_md5 || !bytes_of(info[1], &password) ||
      !bytes_of(info[2], &salt) || !uint_arg(info[3], kPbkdf2MaxIterations, &iterations) ||
      iterations == 0 || !uint_arg(info[4], kMaxCryptoInput, &len)) {
    throw_type_error(isolate, "pbkdf2 expects a SHA name, password, salt, iterations and a length");
    return;
  }
  uint64_t blocks = (len + EVP_MD_size(md) - 1) / EVP_MD_size(md);
  if (blocks * iterations > kPbkdf2MaxWork || password.len > kMaxCryptoInput ||
      salt.len > kMaxCryptoInput) {
    throw_range_error(isolate, "PBKDF2: the derived length times the iterations is too large");
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out;
  if (!budget_buffer(isolate, len, &result, &out)) return;
  static const unsigned char empty = 0;
  if (len && PKCS5_PBKDF2_HMAC(reinterpret_cast<const char *>(password.len ? password.data : &empty),
                               int(password.len), salt.len ? salt.data : &empty, int(salt.len),
                               int(iterations), md, int(len), out) != 1) {
    info.GetReturnValue().SetNull();
    return;
  }
  info.GetReturnValue().Set(result);
}

// hkdf(hash, ikm, salt, info, bytes) -> ArrayBuffer, or null when bytes is
// more than 255 hash lengths.
void hkdf(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes ikm, salt, label;
  uint64_t len = 0;
  const EVP_MD *md = info.Length() >= 5 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || EVP_MD_type(md) == NID_md5 || !bytes_of(info[1], &ikm) ||
      !bytes_of(info[2], &salt) || !bytes_of(info[3], &label) ||
      !uint_arg(info[4], kMaxCryptoInput, &len)) {
    throw_type_error(isolate, "hkdf expects a SHA name, key, salt, info and a length");
    return;
  }
  if (len > 255 * uint64_t(EVP_MD_size(md))) {
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out;
  if (!budget_buffer(isolate, len, &result, &out)) return;
  if (len == 0) {
    info.GetReturnValue().Set(result);
    return;
  }
  EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  static unsigned char empty = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, ikm.len ? const_cast<unsigned char *>(ikm.data) : &empty, ikm.len),
      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, salt.len ? const_cast<unsigned char *>(salt.data) : &empty, salt.len),
      OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, label.len ? const_cast<unsigned char *>(label.data) : &empty, label.len),
      OSSL_PARAM_END,
  };
  bool ok = ctx != nullptr && EVP_KDF_derive(ctx, out, len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) {
    info.GetReturnValue().SetNull();
    return;
  }
  info.GetReturnValue().Set(result);
}

const EVP_CIPHER *aes_named(const char *mode, size_t key_len) {
  if (key_len != 16 && key_len != 24 && key_len != 32) return nullptr;
  if (std::string(mode) == "GCM") {
    return key_len == 16 ? EVP_aes_128_gcm() : key_len == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
  }
  return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
}

struct CipherCtx {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// aesCbc(encrypt, key, iv, data) -> ArrayBuffer, or null (bad padding)
void aes_cbc(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes key, iv, data;
  if (info.Length() < 4 || !info[0]->IsBoolean() || !bytes_of(info[1], &key) ||
      !bytes_of(info[2], &iv) || !bytes_of(info[3], &data) || iv.len != 16 ||
      aes_named("CBC", key.len) == nullptr) {
    throw_type_error(isolate, "aesCbc expects a direction, an AES key, a 16-byte iv and data");
    return;
  }
  bool encrypt = info[0]->IsTrue();
  if (data.len > kMaxCryptoInput - 32) {
    throw_range_error(isolate, "AES-CBC: the data is too long");
    return;
  }
  if (!encrypt && (data.len == 0 || data.len % 16 != 0)) {
    info.GetReturnValue().SetNull();
    return;
  }
  size_t cap = encrypt ? (data.len / 16 + 1) * 16 : data.len;
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out;
  if (!budget_buffer(isolate, cap, &result, &out)) return;
  CipherCtx c;
  int n = 0, m = 0;
  static const unsigned char empty = 0;
  bool ok = c.ctx != nullptr &&
            EVP_CipherInit_ex(c.ctx, aes_named("CBC", key.len), nullptr, key.data, iv.data,
                              encrypt ? 1 : 0) == 1 &&
            EVP_CipherUpdate(c.ctx, out, &n, data.len ? data.data : &empty, int(data.len)) == 1 &&
            EVP_CipherFinal_ex(c.ctx, out + n, &m) == 1;
  if (!ok) {
    info.GetReturnValue().SetNull();
    return;
  }
  size_t len = size_t(n) + size_t(m);
  if (len == cap) {
    info.GetReturnValue().Set(result);
    return;
  }
  // Decryption removed the padding: the exact bytes, the first buffer is garbage.
  v8::Local<v8::ArrayBuffer> exact;
  if (new_array_buffer(isolate, out, len).ToLocal(&exact)) info.GetReturnValue().Set(exact);
}

// aesGcm(encrypt, key, iv, aad, data, tagBytes) -> ArrayBuffer (ciphertext
// then tag when encrypting), or null (a wrong tag)
void aes_gcm(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes key, iv, aad, data;
  uint64_t tag_len = 0;
  if (info.Length() < 6 || !info[0]->IsBoolean() || !bytes_of(info[1], &key) ||
      !bytes_of(info[2], &iv) || !bytes_of(info[3], &aad) || !bytes_of(info[4], &data) ||
      !uint_arg(info[5], 16, &tag_len) || tag_len < 4 || aes_named("GCM", key.len) == nullptr) {
    throw_type_error(isolate, "aesGcm expects a direction, an AES key, iv, aad, data and a tag length");
    return;
  }
  bool encrypt = info[0]->IsTrue();
  if (iv.len == 0 || iv.len > kMaxCryptoInput || aad.len > kMaxCryptoInput ||
      data.len > kMaxCryptoInput - 32) {
    info.GetReturnValue().SetNull();
    return;
  }
  if (!encrypt && data.len < tag_len) {
    info.GetReturnValue().SetNull();
    return;
  }
  size_t text_len = encrypt ? data.len : data.len - tag_len;
  size_t cap = encrypt ? data.len + tag_len : text_len;
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out;
  if (!budget_buffer(isolate, cap, &result, &out)) return;
  CipherCtx c;
  int n = 0, m = 0;
  unsigned char tag[16];
  static unsigned char empty = 0;
  bool ok = c.ctx != nullptr &&
            EVP_CipherInit_ex(c.ctx, aes_named("GCM", key.len), nullptr, nullptr, nullptr,
                              encrypt ? 1 : 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, int(iv.len), nullptr) == 1 &&
            EVP_CipherInit_ex(c.ctx, nullptr, nullptr, key.data, iv.data, -1) == 1 &&
            (aad.len == 0 || EVP_CipherUpdate(c.ctx, nullptr, &n, aad.data, int(aad.len)) == 1);
  if (ok && !encrypt) {
    memcpy(tag, data.data + text_len, tag_len);
    ok = EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, int(tag_len), tag) == 1;
  }
  ok = ok && EVP_CipherUpdate(c.ctx, text_len ? out : &empty, &n, text_len ? data.data : &empty,
                              int(text_len)) == 1 &&
       EVP_CipherFinal_ex(c.ctx, out + n, &m) == 1;
  if (ok && encrypt) {
    ok = EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, int(tag_len), out + text_len) == 1;
  }
  if (!ok) {
    if (!encrypt && cap) OPENSSL_cleanse(out, cap);  // no unauthenticated plaintext
    info.GetReturnValue().SetNull();
    return;
  }
  info.GetReturnValue().Set(result);
}

// ---- ECDSA ----
//
// A key lives in crypto.js as DER: SubjectPublicKeyInfo for a public key,
// PKCS#8 for a private one, as the natives below made it; each operation
// parses it again (a P-256 key parses in microseconds).

int curve_nid(const std::string &name) {
  if (name == "P-256") return NID_X9_62_prime256v1;
  if (name == "P-384") return NID_secp384r1;
  if (name == "P-521") return NID_secp521r1;
  return NID_undef;
}

struct Pkey {
  EVP_PKEY *p = nullptr;
  ~Pkey() { EVP_PKEY_free(p); }
};

int pkey_curve(EVP_PKEY *key) {
  if (key == nullptr || EVP_PKEY_base_id(key) != EVP_PKEY_EC) return NID_undef;
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1) {
    return NID_undef;
  }
  return OBJ_sn2nid(name) != NID_undef ? OBJ_sn2nid(name) : EC_curve_nist2nid(name);
}

bool pkey_check(EVP_PKEY *key, bool is_private) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
  bool ok = ctx != nullptr &&
            (is_private ? EVP_PKEY_pairwise_check(ctx) : EVP_PKEY_public_check(ctx)) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

// The DER of key as an ArrayBuffer: spki or pkcs8.
void set_der(v8::Isolate *isolate, const v8::FunctionCallbackInfo<v8::Value> &info, EVP_PKEY *key,
             bool is_private) {
  unsigned char *der = nullptr;
  int len = -1;
  if (is_private) {
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    if (p8) len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8);
  } else {
    len = i2d_PUBKEY(key, &der);
  }
  if (len <= 0) {
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (new_array_buffer(isolate, der, size_t(len)).ToLocal(&result)) info.GetReturnValue().Set(result);
  OPENSSL_clear_free(der, size_t(len));
}

// ecImport(format, curve, bytes) -> DER (spki for "spki" and "raw", pkcs8
// for "pkcs8"), or null when the bytes are not a valid key on that curve.
void ec_import(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes data;
  std::string format = info.Length() >= 3 ? to_std_string(isolate, info[0]) : "";
  int nid = info.Length() >= 3 ? curve_nid(to_std_string(isolate, info[1])) : NID_undef;
  if (nid == NID_undef || !bytes_of(info[2], &data) ||
      (format != "spki" && format != "pkcs8" && format != "raw")) {
    throw_type_error(isolate, "ecImport expects spki, pkcs8 or raw, a curve and bytes");
    return;
  }
  if (data.len > 16384) {
    info.GetReturnValue().SetNull();
    return;
  }
  Pkey key;
  const unsigned char *p = data.data;
  if (format == "spki") {
    key.p = d2i_PUBKEY(nullptr, &p, long(data.len));
  } else if (format == "pkcs8") {
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(data.len));
    if (p8 != nullptr && p == data.data + data.len) key.p = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
  } else {
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char *>(OBJ_nid2sn(nid)), 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<unsigned char *>(data.data), data.len),
        OSSL_PARAM_END,
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key.p, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      key.p = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    p = data.data + data.len;
  }
  bool is_private = format == "pkcs8";
  if (key.p == nullptr || p != data.data + data.len || pkey_curve(key.p) != nid ||
      !pkey_check(key.p, is_private)) {
    info.GetReturnValue().SetNull();
    return;
  }
  set_der(isolate, info, key.p, is_private);
}

// ecImportJwk(curve, x, y, d or undefined) -> DER (pkcs8 with d, spki
// without), or null. x, y and d are the JWK's big-endian bytes, each the
// curve's size.
void ec_import_jwk(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes x, y, d;
  int nid = info.Length() >= 4 ? curve_nid(to_std_string(isolate, info[0])) : NID_undef;
  bool is_private = info.Length() >= 4 && !info[3]->IsUndefined();
  if (nid == NID_undef || !bytes_of(info[1], &x) || !bytes_of(info[2], &y) ||
      (is_private && !bytes_of(info[3], &d))) {
    throw_type_error(isolate, "ecImportJwk expects a curve and x, y (and d) bytes");
    return;
  }
  size_t size = nid == NID_X9_62_prime256v1 ? 32 : nid == NID_secp384r1 ? 48 : 66;
  if (x.len != size || y.len != size || (is_private && d.len != size)) {
    info.GetReturnValue().SetNull();
    return;
  }
  std::string point(1, '\x04');
  point.append(reinterpret_cast<const char *>(x.data), size);
  point.append(reinterpret_cast<const char *>(y.data), size);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  BIGNUM *priv = is_private ? BN_bin2bn(d.data, int(d.len), nullptr) : nullptr;
  OSSL_PARAM *params = nullptr;
  if (bld != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1 &&
      (!is_private || (priv != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1))) {
    params = OSSL_PARAM_BLD_to_param(bld);
  }
  Pkey key;
  EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr) : nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key.p, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key.p = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_clear_free(priv);
  if (key.p == nullptr || !pkey_check(key.p, is_private)) {
    info.GetReturnValue().SetNull();
    return;
  }
  set_der(isolate, info, key.p, is_private);
}

EVP_PKEY *parse_der(const Bytes &der, bool is_private) {
  const unsigned char *p = der.data;
  if (!is_private) return d2i_PUBKEY(nullptr, &p, long(der.len));
  PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(der.len));
  EVP_PKEY *key = p8 ? EVP_PKCS82PKEY(p8) : nullptr;
  PKCS8_PRIV_KEY_INFO_free(p8);
  return key;
}

int ec_field_bytes(EVP_PKEY *key) { return (EVP_PKEY_get_bits(key) + 7) / 8; }

// ecdsaSign(hash, pkcs8, data) -> ArrayBuffer (r || s, each the curve's size)
void ecdsa_sign(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes der, data;
  const EVP_MD *md = info.Length() >= 3 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || !bytes_of(info[1], &der) || !bytes_of(info[2], &data)) {
    throw_type_error(isolate, "ecdsaSign expects a SHA name, a PKCS#8 key and data");
    return;
  }
  Pkey key;
  key.p = parse_der(der, true);
  if (key.p == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t sig_len = 0;
  std::string sig;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.p) == 1 &&
            EVP_DigestSign(ctx, nullptr, &sig_len, data.data, data.len) == 1;
  if (ok) {
    sig.resize(sig_len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(&sig[0]), &sig_len, data.data,
                        data.len) == 1;
  }
  EVP_MD_CTX_free(ctx);
  const unsigned char *p = reinterpret_cast<const unsigned char *>(sig.data());
  ECDSA_SIG *parsed = ok ? d2i_ECDSA_SIG(nullptr, &p, long(sig_len)) : nullptr;
  if (parsed == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  int n = ec_field_bytes(key.p);
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out;
  if (budget_buffer(isolate, size_t(2 * n), &result, &out)) {
    if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed), out, n) == n &&
        BN_bn2binpad(ECDSA_SIG_get0_s(parsed), out + n, n) == n) {
      info.GetReturnValue().Set(result);
    } else {
      info.GetReturnValue().SetNull();
    }
  }
  ECDSA_SIG_free(parsed);
}

// ecdsaVerify(hash, spki, signature r || s, data) -> boolean
void ecdsa_verify(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes der, sig, data;
  const EVP_MD *md = info.Length() >= 4 ? digest_named(to_std_string(isolate, info[0])) : nullptr;
  if (md == nullptr || !bytes_of(info[1], &der) || !bytes_of(info[2], &sig) ||
      !bytes_of(info[3], &data)) {
    throw_type_error(isolate, "ecdsaVerify expects a SHA name, an SPKI key, a signature and data");
    return;
  }
  Pkey key;
  key.p = parse_der(der, false);
  if (key.p == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  size_t n = size_t(ec_field_bytes(key.p));
  if (sig.len != 2 * n) {
    info.GetReturnValue().Set(false);
    return;
  }
  ECDSA_SIG *parsed = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig.data, int(n), nullptr);
  BIGNUM *s = BN_bin2bn(sig.data + n, int(n), nullptr);
  unsigned char *encoded = nullptr;
  int encoded_len = -1;
  if (parsed != nullptr && r != nullptr && s != nullptr && ECDSA_SIG_set0(parsed, r, s) == 1) {
    r = s = nullptr;  // owned by parsed now
    encoded_len = i2d_ECDSA_SIG(parsed, &encoded);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(parsed);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = encoded_len > 0 && ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.p) == 1 &&
            EVP_DigestVerify(ctx, encoded, size_t(encoded_len), data.data, data.len) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(encoded);
  info.GetReturnValue().Set(ok);
}

}  // namespace

void install_crypto_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "getRandomValues", get_random_values);
  set_function(context, native, "digest", digest);
  set_function(context, native, "hmac", hmac);
  set_function(context, native, "digestCreate", digest_create);
  set_function(context, native, "digestUpdate", digest_update);
  set_function(context, native, "digestFinish", digest_finish);
  set_function(context, native, "pbkdf2", pbkdf2);
  set_function(context, native, "hkdf", hkdf);
  set_function(context, native, "aesCbc", aes_cbc);
  set_function(context, native, "aesGcm", aes_gcm);
  set_function(context, native, "ecImport", ec_import);
  set_function(context, native, "ecImportJwk", ec_import_jwk);
  set_function(context, native, "ecdsaSign", ecdsa_sign);
  set_function(context, native, "ecdsaVerify", ecdsa_verify);
}

}  // namespace dispatch

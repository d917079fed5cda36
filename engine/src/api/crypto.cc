#include "api/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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

}  // namespace

void install_crypto_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "getRandomValues", get_random_values);
  set_function(context, native, "digest", digest);
  set_function(context, native, "hmac", hmac);
  set_function(context, native, "digestCreate", digest_create);
  set_function(context, native, "digestUpdate", digest_update);
  set_function(context, native, "digestFinish", digest_finish);
}

}  // namespace dispatch

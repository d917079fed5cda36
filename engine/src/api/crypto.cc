#include "api/crypto.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "clock.h"
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
// Bytes one digestUpdate call hashes (about 10 ms of SHA-512).
constexpr size_t kDigestPiece = 4 << 20;

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

// digestUpdate(handle, bytes, at) -> where the next call starts, or -1 once
// all of bytes went in. One call hashes at most kDigestPiece bytes: it runs
// where the watchdog cannot stop it, and a 900 MB buffer (under a 1g memory
// limit) took 1.5 s; the caller's loop is JavaScript, which it can stop.
void digest_update(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  DigestState *state = digest_state_arg(info);
  Bytes data;
  if (state == nullptr) return;
  if (info.Length() < 2 || !bytes_of(info[1], &data)) {
    throw_type_error(isolate, "The chunk must be an ArrayBuffer or an ArrayBufferView");
    return;
  }
  double at = info.Length() >= 3 && info[2]->IsNumber() ? info[2].As<v8::Number>()->Value() : 0;
  if (!(at >= 0) || at >= double(data.len)) {  // also NaN, and a buffer that shrank
    info.GetReturnValue().Set(-1);
    return;
  }
  size_t start = size_t(at);
  size_t n = std::min(data.len - start, kDigestPiece);
  if (EVP_DigestUpdate(state->ctx(), data.data + start, n) != 1) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "digest failed")));
    return;
  }
  info.GetReturnValue().Set(start + n < data.len ? double(start + n) : -1);
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
// PBKDF2's work in calls of the hash's compression function: per output
// block, two per iteration (HMAC with its pads precomputed) and the salt's
// blocks once. One native call the CPU limit cannot interrupt: 32 SHA-512
// blocks at 100000 iterations (6.4M calls), or 200 SHA-256 blocks over a
// 16 MiB salt, held the worker past dispatch_hang_timeout. At most four
// blocks at the most iterations: about 0.15 s on a loaded machine.
constexpr uint64_t kPbkdf2MaxCompressions = 4 * 2 * kPbkdf2MaxIterations;

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

// The natives' answer: result when ok, null (the operation failed) otherwise.
void set_or_null(const v8::FunctionCallbackInfo<v8::Value> &info, bool ok,
                 v8::Local<v8::ArrayBuffer> result) {
  if (ok) {
    info.GetReturnValue().Set(result);
  } else {
    info.GetReturnValue().SetNull();
  }
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
  uint64_t hash_block = uint64_t(EVP_MD_block_size(md));
  // salt || INT(i) and the hash's padding (at most 17 bytes), per block
  uint64_t salt_blocks = (uint64_t(salt.len) + 4 + 17 + hash_block - 1) / hash_block;
  if (password.len > kMaxCryptoInput || salt.len > kMaxCryptoInput ||
      blocks > kPbkdf2MaxCompressions ||
      blocks * (2 * iterations + salt_blocks) > kPbkdf2MaxCompressions) {
    throw_range_error(isolate, "PBKDF2: the derived length times the iterations (and the salt's "
                               "length) is too large");
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
  set_or_null(info, ok, result);
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

// CTR mode as WebCrypto (and GCM's inc32) count: the counter block's low
// length_bits bits count up and wrap to zero, the high ones stay. OpenSSL's
// CTR increments all 128 bits, so the data is done in at most two pieces,
// the second from the counter with its low bits zero. The caller made sure
// no counter block comes twice.
bool ctr_transform(const EVP_CIPHER *cipher, const unsigned char *key, const unsigned char *counter,
                   unsigned length_bits, const unsigned char *in, size_t len, unsigned char *out) {
  unsigned __int128 full = 0;
  for (int i = 0; i < 16; i++) full = (full << 8) | counter[i];
  unsigned __int128 mask = length_bits >= 128 ? ~(unsigned __int128)0
                                              : (((unsigned __int128)1 << length_bits) - 1);
  unsigned __int128 before_wrap = mask - (full & mask) + 1;  // blocks; 0 means 2^128
  uint64_t blocks = (uint64_t(len) + 15) / 16;
  size_t first = len;
  if (before_wrap != 0 && before_wrap < blocks) first = size_t(before_wrap) * 16;
  unsigned char block[16];
  memcpy(block, counter, 16);
  size_t done = 0;
  for (int piece = 0; piece < 2 && done < len; piece++) {
    size_t piece_len = piece == 0 ? first : len - first;
    if (piece == 1) {
      unsigned __int128 wrapped = full & ~mask;
      for (int i = 15; i >= 0; i--) {
        block[i] = static_cast<unsigned char>(wrapped & 0xFF);
        wrapped >>= 8;
      }
    }
    CipherCtx c;
    int n = 0;
    if (c.ctx == nullptr || EVP_EncryptInit_ex(c.ctx, cipher, nullptr, key, block) != 1 ||
        EVP_EncryptUpdate(c.ctx, out + done, &n, in + done, int(piece_len)) != 1 ||
        size_t(n) != piece_len) {
      return false;
    }
    done += piece_len;
  }
  return true;
}

// ---- AES-GCM with an IV longer than OpenSSL takes (128 bytes) ----
//
// WebCrypto allows any IV length; OpenSSL 3's GCM stops at 128 bytes. For
// longer ones (rare: Wycheproof has them) this is SP 800-38D by hand: J0 is
// GHASH of the IV, the data runs through CTR from inc32(J0), and the tag is
// AES(J0) xor GHASH(A, C). GHASH here is the plain bit-by-bit multiply,
// without branches on secret bits.

struct GfBlock {
  uint64_t hi = 0, lo = 0;
};

GfBlock gf_load(const unsigned char *p) {
  GfBlock b;
  for (int i = 0; i < 8; i++) b.hi = (b.hi << 8) | p[i];
  for (int i = 8; i < 16; i++) b.lo = (b.lo << 8) | p[i];
  return b;
}

void gf_store(GfBlock b, unsigned char *p) {
  for (int i = 7; i >= 0; i--, b.hi >>= 8) p[i] = static_cast<unsigned char>(b.hi);
  for (int i = 15; i >= 8; i--, b.lo >>= 8) p[i] = static_cast<unsigned char>(b.lo);
}

// x * y in GF(2^128) as GCM defines it (SP 800-38D, algorithm 1).
GfBlock gf_mul(GfBlock x, GfBlock y) {
  GfBlock z, v = y;
  for (int i = 0; i < 128; i++) {
    uint64_t bit = i < 64 ? (x.hi >> (63 - i)) & 1 : (x.lo >> (127 - i)) & 1;
    uint64_t take = 0 - bit;
    z.hi ^= v.hi & take;
    z.lo ^= v.lo & take;
    uint64_t reduce = 0 - (v.lo & 1);
    v.lo = (v.lo >> 1) | (v.hi << 63);
    v.hi = (v.hi >> 1) ^ (0xE100000000000000ULL & reduce);
  }
  return z;
}

struct Ghash {
  GfBlock h, y;
  // The bytes, zero-padded to whole blocks.
  void update(const unsigned char *p, size_t len) {
    for (size_t at = 0; at < len; at += 16) {
      unsigned char block[16] = {};
      memcpy(block, p + at, std::min<size_t>(16, len - at));
      GfBlock x = gf_load(block);
      y.hi ^= x.hi;
      y.lo ^= x.lo;
      y = gf_mul(y, h);
    }
  }
  void lengths(uint64_t a_bytes, uint64_t c_bytes) {
    unsigned char block[16];
    GfBlock sizes{a_bytes * 8, c_bytes * 8};
    gf_store(sizes, block);
    update(block, 16);
  }
};

bool aes_block(const unsigned char *key, size_t key_len, const unsigned char in[16], unsigned char out[16]) {
  const EVP_CIPHER *ecb = key_len == 16 ? EVP_aes_128_ecb() : key_len == 24 ? EVP_aes_192_ecb()
                                                                            : EVP_aes_256_ecb();
  CipherCtx c;
  int n = 0;
  return c.ctx != nullptr && EVP_EncryptInit_ex(c.ctx, ecb, nullptr, key, nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(c.ctx, 0) == 1 && EVP_EncryptUpdate(c.ctx, out, &n, in, 16) == 1 &&
         n == 16;
}

constexpr size_t kGcmAnyIvMaxBytes = size_t(4) << 20;

// GCM with any IV: out holds text_len bytes (and the tag after them when
// encrypting); false for a wrong tag or an OpenSSL failure.
bool gcm_any_iv(bool encrypt, const unsigned char *key, size_t key_len, const unsigned char *iv,
                size_t iv_len, const unsigned char *aad, size_t aad_len, const unsigned char *in,
                size_t text_len, size_t tag_len, unsigned char *out) {
  static const unsigned char zero[16] = {};
  unsigned char h[16], j0[16], mask[16], tag[16];
  if (!aes_block(key, key_len, zero, h)) return false;
  Ghash iv_hash{gf_load(h), {}};
  iv_hash.update(iv, iv_len);
  iv_hash.lengths(0, iv_len);
  gf_store(iv_hash.y, j0);
  if (!aes_block(key, key_len, j0, mask)) return false;
  // The ciphertext is what GHASH covers: the input when decrypting.
  Ghash tag_hash{gf_load(h), {}};
  tag_hash.update(aad, aad_len);
  const EVP_CIPHER *ctr = key_len == 16 ? EVP_aes_128_ctr() : key_len == 24 ? EVP_aes_192_ctr()
                                                                            : EVP_aes_256_ctr();
  unsigned char counter[16];
  memcpy(counter, j0, 16);
  for (int i = 15; i >= 12 && ++counter[i] == 0; i--) {
  }
  if (encrypt) {
    if (!ctr_transform(ctr, key, counter, 32, in, text_len, out)) return false;
    tag_hash.update(out, text_len);
  } else {
    tag_hash.update(in, text_len);
  }
  tag_hash.lengths(aad_len, text_len);
  gf_store(tag_hash.y, tag);
  for (int i = 0; i < 16; i++) tag[i] ^= mask[i];
  if (encrypt) {
    memcpy(out + text_len, tag, tag_len);
    return true;
  }
  if (CRYPTO_memcmp(tag, in + text_len, tag_len) != 0) return false;
  return ctr_transform(ctr, key, counter, 32, in, text_len, out);
}

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
  if (iv.len > 128) {  // past what OpenSSL's GCM takes: by hand
    // One native call, its GHASH bit by bit (about 40 ms a MiB): bounded so
    // that it ends well within the watchdog's hang timeout.
    bool ok = iv.len + aad.len + text_len <= kGcmAnyIvMaxBytes &&
              gcm_any_iv(encrypt, key.data, key.len, iv.data, iv.len, aad.data, aad.len, data.data,
                         text_len, tag_len, out);
    if (!ok && !encrypt && cap) OPENSSL_cleanse(out, cap);
    set_or_null(info, ok, result);
    return;
  }
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

// ---- Asymmetric keys: EC (ECDSA, ECDH), Ed25519, X25519, RSA ----
//
// A key lives in crypto.js as DER, SubjectPublicKeyInfo for a public key and
// PKCS#8 for a private one, as these natives made it: every import goes
// through key_der(), which checks the key is of the kind asked for. A kind is
// "P-256", "P-384", "P-521", "Ed25519", "X25519" or "RSA".

// RSA moduli the engine takes in. One private-key operation runs inside
// one native call; with CRT parameters a tenant made up (a p near n) it
// costs a full exponentiation, which at 16384 bits takes seconds, past the
// watchdog's hang timeout. At 8192 bits it stays around a tenth of one.
// (OpenSSL itself refuses public exponents over 64 bits past 3072-bit moduli.)
constexpr int kRsaMinImportBits = 512;
constexpr int kRsaMaxImportBits = 8192;
constexpr size_t kMaxKeyDer = 16384;

// OpenSSL's own bound (OPENSSL_RSA_MAX_PUBEXP_BITS), for every modulus: a
// private operation uses e too (blinding, the check of the CRT result), and
// e + k (p-1)(q-1) passes every consistency check with any k: a 127000-bit
// e made one 4096-bit signature hold the worker for over a second.
constexpr int kRsaMaxExponentBits = 64;

bool rsa_exponent_small(EVP_PKEY *key) {
  BIGNUM *e = nullptr;
  bool ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
            BN_num_bits(e) <= kRsaMaxExponentBits;
  BN_free(e);
  return ok;
}

bool kind_matches(EVP_PKEY *key, const std::string &kind) {
  if (key == nullptr) return false;
  int id = EVP_PKEY_base_id(key);
  if (kind == "Ed25519") return id == EVP_PKEY_ED25519;
  if (kind == "X25519") return id == EVP_PKEY_X25519;
  if (kind == "RSA") {
    int bits = EVP_PKEY_get_bits(key);
    return id == EVP_PKEY_RSA && bits >= kRsaMinImportBits && bits <= kRsaMaxImportBits &&
           rsa_exponent_small(key);
  }
  int nid = curve_nid(kind);
  return nid != NID_undef && pkey_curve(key) == nid;
}

bool okp_kind(const std::string &kind, int *id) {
  if (kind == "Ed25519") *id = EVP_PKEY_ED25519;
  else if (kind == "X25519") *id = EVP_PKEY_X25519;
  else return false;
  return true;
}

// An RSA private key whose parts agree: n = p q with p and q of half n's
// size, d < n, dp = d mod (p-1), dq = d mod (q-1), qi q = 1 mod p, and
// e d = 1 mod p-1 and q-1. Cheap arithmetic, no primality test (OpenSSL's
// RSA_check_key runs Miller-Rabin, near a second at 8192 bits). Without it
// a made-up key (a p as large as n) makes one signature cost a full
// exponentiation twice over, most of a second in one native call.
bool rsa_private_consistent(EVP_PKEY *key) {
  static const char *const names[] = {
      OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
      OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  BIGNUM *bn[8] = {};
  BN_CTX *ctx = BN_CTX_new();
  BIGNUM *t = BN_new(), *pm1 = BN_new(), *qm1 = BN_new();
  bool ok = ctx != nullptr && t != nullptr && pm1 != nullptr && qm1 != nullptr;
  for (int i = 0; ok && i < 8; i++) ok = EVP_PKEY_get_bn_param(key, names[i], &bn[i]) == 1;
  BIGNUM *n = bn[0], *e = bn[1], *d = bn[2], *p = bn[3], *q = bn[4], *dp = bn[5], *dq = bn[6], *qi = bn[7];
  int half = (BN_num_bits(n) + 1) / 2;
  ok = ok && BN_num_bits(p) <= half + 1 && BN_num_bits(q) <= half + 1 && BN_cmp(d, n) < 0 &&
       BN_mul(t, p, q, ctx) == 1 && BN_cmp(t, n) == 0 &&
       BN_sub(pm1, p, BN_value_one()) == 1 && BN_sub(qm1, q, BN_value_one()) == 1 &&
       !BN_is_zero(pm1) && !BN_is_zero(qm1) &&
       BN_mod(t, d, pm1, ctx) == 1 && BN_cmp(t, dp) == 0 &&
       BN_mod(t, d, qm1, ctx) == 1 && BN_cmp(t, dq) == 0 &&
       BN_mod_mul(t, qi, q, p, ctx) == 1 && BN_is_one(t) &&
       BN_mod_mul(t, e, d, pm1, ctx) == 1 && BN_is_one(t) &&
       BN_mod_mul(t, e, d, qm1, ctx) == 1 && BN_is_one(t);
  for (BIGNUM *b : bn) BN_clear_free(b);
  BN_clear_free(t);
  BN_clear_free(pm1);
  BN_clear_free(qm1);
  BN_CTX_free(ctx);
  return ok;
}

// The checks OpenSSL has for EC and the 25519 keys. RSA's (SP 800-56B,
// RSA_check_key) refuse keys WebCrypto takes or run primality tests: an RSA
// private key gets the arithmetic above, a public one only its bounds.
bool key_usable(EVP_PKEY *key, bool is_private) {
  if (EVP_PKEY_base_id(key) == EVP_PKEY_RSA) return !is_private || rsa_private_consistent(key);
  return pkey_check(key, is_private);
}

// A key of type ("EC", "RSA") from OSSL_PARAMs; null if they do not make one.
EVP_PKEY *key_from_params(const char *type, OSSL_PARAM *params, bool is_private) {
  EVP_PKEY *key = nullptr;
  EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr) : nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}

// keyImport(format, kind, bytes) -> DER (spki for "spki" and "raw", pkcs8
// for "pkcs8"), or null when the bytes are not a key of that kind.
void key_import(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes data;
  std::string format = info.Length() >= 3 ? to_std_string(isolate, info[0]) : "";
  std::string kind = info.Length() >= 3 ? to_std_string(isolate, info[1]) : "";
  if (!bytes_of(info[2], &data) || (format != "spki" && format != "pkcs8" && format != "raw")) {
    throw_type_error(isolate, "keyImport expects spki, pkcs8 or raw, a kind and bytes");
    return;
  }
  if (data.len > kMaxKeyDer || data.len == 0) {
    info.GetReturnValue().SetNull();
    return;
  }
  Pkey key;
  int okp = 0;
  if (format == "raw" && okp_kind(kind, &okp)) {
    key.p = EVP_PKEY_new_raw_public_key(okp, nullptr, data.data, data.len);
  } else if (format == "raw") {
    int nid = curve_nid(kind);
    if (nid == NID_undef) {
      info.GetReturnValue().SetNull();
      return;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char *>(OBJ_nid2sn(nid)), 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<unsigned char *>(data.data), data.len),
        OSSL_PARAM_END,
    };
    key.p = key_from_params("EC", params, false);
  } else {
    const unsigned char *p = data.data;
    if (format == "spki") {
      key.p = d2i_PUBKEY(nullptr, &p, long(data.len));
    } else {
      PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, long(data.len));
      if (p8 != nullptr && p == data.data + data.len) key.p = EVP_PKCS82PKEY(p8);
      PKCS8_PRIV_KEY_INFO_free(p8);
    }
    if (p != data.data + data.len) {  // trailing bytes
      info.GetReturnValue().SetNull();
      return;
    }
  }
  bool is_private = format == "pkcs8";
  if (!kind_matches(key.p, kind) || !key_usable(key.p, is_private)) {
    info.GetReturnValue().SetNull();
    return;
  }
  set_der(isolate, info, key.p, is_private);
}

// Big-endian bytes of a BIGNUM param, at least one byte, or padded to pad.
bool bn_param(EVP_PKEY *key, const char *name, int pad, std::string *out) {
  BIGNUM *bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return false;
  int len = pad > 0 ? pad : std::max(1, BN_num_bytes(bn));
  out->assign(size_t(len), '\0');
  bool ok = BN_bn2binpad(bn, reinterpret_cast<unsigned char *>(&(*out)[0]), len) == len;
  BN_clear_free(bn);
  return ok;
}

void set_buffers(v8::Isolate *isolate, const v8::FunctionCallbackInfo<v8::Value> &info,
                 const std::string *parts, size_t count) {
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> list = v8::Array::New(isolate, int(count));
  for (size_t i = 0; i < count; i++) {
    v8::Local<v8::ArrayBuffer> buffer;
    if (!new_array_buffer(isolate, reinterpret_cast<const unsigned char *>(parts[i].data()),
                          parts[i].size()).ToLocal(&buffer)) {
      return;
    }
    if (list->Set(context, uint32_t(i), buffer).IsNothing()) return;
  }
  info.GetReturnValue().Set(list);
}

// keyExport(format, der, isPrivate) -> for "raw", the public key's bytes (an
// EC point uncompressed); for "jwk", an array of ArrayBuffers: EC [x, y, d?],
// OKP [x, d?], RSA [n, e, d?, p?, q?, dp?, dq?, qi?]; for "spki", the public
// key's SubjectPublicKeyInfo (of a private key too). null if it cannot.
void key_export(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes der;
  std::string format = info.Length() >= 3 ? to_std_string(isolate, info[0]) : "";
  if (!bytes_of(info[1], &der) || !info[2]->IsBoolean()) {
    throw_type_error(isolate, "keyExport expects a format, DER and whether it is private");
    return;
  }
  bool is_private = info[2]->IsTrue();
  Pkey key;
  key.p = parse_der(der, is_private);
  if (key.p == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  if (format == "spki") {
    set_der(isolate, info, key.p, false);
    return;
  }
  int id = EVP_PKEY_base_id(key.p);
  std::string parts[8];
  size_t count = 0;
  bool ok = true;
  if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_X25519) {
    size_t len = 0;
    ok = EVP_PKEY_get_raw_public_key(key.p, nullptr, &len) == 1;
    parts[0].resize(len);
    ok = ok && EVP_PKEY_get_raw_public_key(key.p, reinterpret_cast<unsigned char *>(&parts[0][0]), &len) == 1;
    count = 1;
    if (ok && format == "jwk" && is_private) {
      ok = EVP_PKEY_get_raw_private_key(key.p, nullptr, &len) == 1;
      parts[1].resize(len);
      ok = ok && EVP_PKEY_get_raw_private_key(key.p, reinterpret_cast<unsigned char *>(&parts[1][0]), &len) == 1;
      count = 2;
    }
  } else if (id == EVP_PKEY_EC) {
    size_t len = 0;
    EVP_PKEY_set_utf8_string_param(key.p, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
    ok = EVP_PKEY_get_octet_string_param(key.p, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len) == 1;
    std::string point(len, '\0');
    ok = ok && EVP_PKEY_get_octet_string_param(key.p, OSSL_PKEY_PARAM_PUB_KEY,
                                               reinterpret_cast<unsigned char *>(&point[0]), len, &len) == 1;
    size_t n = size_t(ec_field_bytes(key.p));
    ok = ok && len == 1 + 2 * n && point[0] == '\x04';
    if (ok && format == "raw") {
      parts[0] = point;
      count = 1;
    } else if (ok) {
      parts[0] = point.substr(1, n);
      parts[1] = point.substr(1 + n, n);
      count = 2;
      if (is_private) ok = bn_param(key.p, OSSL_PKEY_PARAM_PRIV_KEY, int(n), &parts[count++]);
    }
  } else if (id == EVP_PKEY_RSA && format == "jwk") {
    static const char *const names[] = {
        OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    count = is_private ? 8 : 2;
    for (size_t i = 0; ok && i < count; i++) ok = bn_param(key.p, names[i], 0, &parts[i]);
  } else {
    ok = false;
  }
  if (ok && format == "raw") {
    v8::Local<v8::ArrayBuffer> result;
    if (new_array_buffer(isolate, reinterpret_cast<const unsigned char *>(parts[0].data()),
                         parts[0].size()).ToLocal(&result)) {
      info.GetReturnValue().Set(result);
    }
  } else if (ok && format == "jwk") {
    set_buffers(isolate, info, parts, count);
  } else {
    info.GetReturnValue().SetNull();
  }
  for (std::string &part : parts) OPENSSL_cleanse(&part[0], part.size());
}

// keyImportJwk(kind, parts) -> DER (pkcs8 when the parts hold the private
// key, spki otherwise), or null. parts: as keyExport's "jwk" gives them,
// each the JWK member's bytes; for EC and OKP the last is undefined for a
// public key; for RSA, 2 parts (public) or 8 (private).
void key_import_jwk(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string kind = info.Length() >= 2 ? to_std_string(isolate, info[0]) : "";
  if (info.Length() < 2 || !info[1]->IsArray()) {
    throw_type_error(isolate, "keyImportJwk expects a kind and an array of bytes");
    return;
  }
  auto list = info[1].As<v8::Array>();
  uint32_t count = list->Length();
  if (count > 8) {
    throw_type_error(isolate, "keyImportJwk: too many parts");
    return;
  }
  Bytes parts[8];
  bool present[8] = {};
  // Holds the values so their backing stores outlive this call's use.
  v8::Local<v8::Value> values[8];
  for (uint32_t i = 0; i < count; i++) {
    if (!list->Get(context, i).ToLocal(&values[i])) return;
    if (values[i]->IsUndefined()) continue;
    if (!bytes_of(values[i], &parts[i])) {
      throw_type_error(isolate, "keyImportJwk: every part must be bytes");
      return;
    }
    if (parts[i].len > kMaxKeyDer) {
      info.GetReturnValue().SetNull();
      return;
    }
    present[i] = true;
  }
  Pkey key;
  bool is_private = false;
  int okp = 0;
  if (okp_kind(kind, &okp)) {
    if (count != 2 || !present[0]) {
      info.GetReturnValue().SetNull();
      return;
    }
    is_private = present[1];
    if (is_private) {
      key.p = EVP_PKEY_new_raw_private_key(okp, nullptr, parts[1].data, parts[1].len);
      // The public half given must be the private key's own.
      unsigned char pub[64];
      size_t len = sizeof pub;
      if (key.p != nullptr && (EVP_PKEY_get_raw_public_key(key.p, pub, &len) != 1 ||
                               len != parts[0].len || CRYPTO_memcmp(pub, parts[0].data, len) != 0)) {
        EVP_PKEY_free(key.p);
        key.p = nullptr;
      }
    } else {
      key.p = EVP_PKEY_new_raw_public_key(okp, nullptr, parts[0].data, parts[0].len);
    }
  } else if (kind == "RSA") {
    is_private = count == 8;
    for (uint32_t i = 0; i < count; i++) {
      if (!present[i] || parts[i].len == 0) count = 0;
    }
    if (count != 2 && count != 8) {
      info.GetReturnValue().SetNull();
      return;
    }
    static const char *const names[] = {
        OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bns[8] = {};
    bool ok = bld != nullptr;
    for (uint32_t i = 0; ok && i < count; i++) {
      bns[i] = BN_bin2bn(parts[i].data, int(parts[i].len), nullptr);
      ok = bns[i] != nullptr && OSSL_PARAM_BLD_push_BN(bld, names[i], bns[i]) == 1;
    }
    OSSL_PARAM *params = ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr;
    key.p = key_from_params("RSA", params, is_private);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (BIGNUM *bn : bns) BN_clear_free(bn);
  } else {
    int nid = curve_nid(kind);
    size_t size = nid == NID_X9_62_prime256v1 ? 32 : nid == NID_secp384r1 ? 48 : 66;
    is_private = count == 3 && present[2];
    if (nid == NID_undef || count != 3 || !present[0] || !present[1] || parts[0].len != size ||
        parts[1].len != size || (is_private && parts[2].len != size)) {
      info.GetReturnValue().SetNull();
      return;
    }
    std::string point(1, '\x04');
    point.append(reinterpret_cast<const char *>(parts[0].data), size);
    point.append(reinterpret_cast<const char *>(parts[1].data), size);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *priv = is_private ? BN_bin2bn(parts[2].data, int(size), nullptr) : nullptr;
    OSSL_PARAM *params = nullptr;
    if (bld != nullptr &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1 &&
        (!is_private || (priv != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1))) {
      params = OSSL_PARAM_BLD_to_param(bld);
    }
    key.p = key_from_params("EC", params, is_private);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(priv);
  }
  if (!kind_matches(key.p, kind) || !key_usable(key.p, is_private)) {
    info.GetReturnValue().SetNull();
    return;
  }
  set_der(isolate, info, key.p, is_private);
}

// RSA key generation runs inside one native call for as long as it takes
// (seconds for 8192 bits): OpenSSL calls this between prime candidates, and
// it gives up once the request's CPU budget is spent, so the watchdog's
// TerminateExecution takes effect as soon as the call returns.
struct KeygenDeadline {
  double deadline_cpu_ms;
  bool expired = false;
};

int keygen_progress(EVP_PKEY_CTX *ctx) {
  auto *deadline = static_cast<KeygenDeadline *>(EVP_PKEY_CTX_get_app_data(ctx));
  if (deadline != nullptr && thread_cpu_ms() >= deadline->deadline_cpu_ms) {
    deadline->expired = true;
    return 0;
  }
  return 1;
}

// keyGenerate(kind, modulusBits, publicExponent, cpuLeftMs) -> [pkcs8, spki],
// null if generation failed; the run terminated when its CPU time ran out
// during it. modulusBits and publicExponent are for RSA only (checked by
// crypto.js: 1024..8192, a multiple of 8; 3 or 65537).
void key_generate(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  std::string kind = info.Length() >= 4 ? to_std_string(isolate, info[0]) : "";
  uint64_t bits = 0, exponent = 0;
  if (info.Length() < 4 || !info[3]->IsNumber()) {
    throw_type_error(isolate, "keyGenerate expects a kind, RSA parameters and the CPU time left");
    return;
  }
  KeygenDeadline deadline{thread_cpu_ms() + info[3].As<v8::Number>()->Value()};
  EVP_PKEY_CTX *ctx = nullptr;
  int okp = 0;
  if (okp_kind(kind, &okp)) {
    ctx = EVP_PKEY_CTX_new_id(okp, nullptr);
    if (ctx != nullptr && EVP_PKEY_keygen_init(ctx) != 1) {
      EVP_PKEY_CTX_free(ctx);
      ctx = nullptr;
    }
  } else if (kind == "RSA") {
    if (!uint_arg(info[1], 8192, &bits) || bits < 1024 || bits % 8 != 0 ||
        !uint_arg(info[2], 65537, &exponent) || (exponent != 3 && exponent != 65537)) {
      throw_type_error(isolate, "keyGenerate: RSA takes 1024 to 8192 bits and exponent 3 or 65537");
      return;
    }
    BIGNUM *e = BN_new();
    ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    if (ctx == nullptr || e == nullptr || BN_set_word(e, exponent) != 1 ||
        EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, int(bits)) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) != 1) {
      EVP_PKEY_CTX_free(ctx);
      ctx = nullptr;
    }
    BN_free(e);
    if (ctx != nullptr) {
      EVP_PKEY_CTX_set_app_data(ctx, &deadline);
      EVP_PKEY_CTX_set_cb(ctx, keygen_progress);
    }
  } else {
    int nid = curve_nid(kind);
    if (nid == NID_undef) {
      throw_type_error(isolate, "keyGenerate: unknown kind");
      return;
    }
    ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_group_name(ctx, OBJ_nid2sn(nid)) != 1) {
      EVP_PKEY_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  Pkey key;
  if (ctx == nullptr || EVP_PKEY_keygen(ctx, &key.p) != 1) key.p = nullptr;
  EVP_PKEY_CTX_free(ctx);
  if (deadline.expired) {
    // The run's own deadline passed (cpuLeftMs is what the watchdog was
    // armed with): the run stops here, as the watchdog would stop it. A
    // RangeError raced the watchdog's next look: a script that caught it,
    // or one whose handler rejected with it, answered 500 exception.
    isolate->TerminateExecution();
    return;
  }
  if (key.p == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> pair = v8::Array::New(isolate, 2);
  for (int i = 0; i < 2; i++) {
    set_der(isolate, info, key.p, i == 0);
    v8::Local<v8::Value> der = info.GetReturnValue().Get();
    if (!der->IsArrayBuffer()) return;  // null, or a RangeError thrown
    if (pair->Set(context, uint32_t(i), der).IsNothing()) return;
  }
  info.GetReturnValue().Set(pair);
}

// The EVP_MD for an RSA or ECDSA hash name; Ed25519 takes none.
const EVP_MD *sign_digest(v8::Isolate *isolate, v8::Local<v8::Value> name) {
  if (name->IsUndefined()) return nullptr;
  const EVP_MD *md = digest_named(to_std_string(isolate, name));
  return md != nullptr && EVP_MD_type(md) != NID_md5 ? md : nullptr;
}

// Sets the RSA padding of a signing/verifying context: PKCS#1 v1.5, or PSS
// with saltLength (MGF1 with the same hash).
bool set_rsa_padding(EVP_PKEY_CTX *pctx, const std::string &alg, const EVP_MD *md, int salt) {
  if (alg == "RSASSA-PKCS1-v1_5") return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1;
}

// What pkeySign and pkeyVerify share: the algorithm ("Ed25519",
// "RSASSA-PKCS1-v1_5" or "RSA-PSS"; ECDSA has ecdsaSign/ecdsaVerify), its
// hash, the key (pkcs8 to sign, spki to verify) and the PSS salt length.
struct SignParams {
  std::string alg;
  const EVP_MD *md = nullptr;
  bool is_ed = false;
  uint64_t salt = 0;
  Pkey key;
};

// False with a TypeError thrown for arguments crypto.js never passes; the
// key is null when the DER is not a key of the algorithm's type.
bool sign_params(const v8::FunctionCallbackInfo<v8::Value> &info, bool is_private, int salt_arg,
                 SignParams *out) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes der;
  if (info.Length() <= salt_arg) return false;
  out->alg = to_std_string(isolate, info[0]);
  out->md = sign_digest(isolate, info[1]);
  out->is_ed = out->alg == "Ed25519";
  if ((!out->is_ed && out->md == nullptr) || !bytes_of(info[2], &der) ||
      !uint_arg(info[salt_arg], 65536, &out->salt) ||
      (out->alg != "Ed25519" && out->alg != "RSASSA-PKCS1-v1_5" && out->alg != "RSA-PSS")) {
    return false;
  }
  out->key.p = parse_der(der, is_private);
  if (out->key.p != nullptr &&
      EVP_PKEY_base_id(out->key.p) != (out->is_ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA)) {
    EVP_PKEY_free(out->key.p);
    out->key.p = nullptr;
  }
  return true;
}

// A digest-sign or digest-verify context for the parameters; null if OpenSSL refuses.
EVP_MD_CTX *sign_context(SignParams &params, bool sign) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = nullptr;
  const EVP_MD *md = params.is_ed ? nullptr : params.md;
  bool ok = ctx != nullptr &&
            (sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, params.key.p)
                  : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, params.key.p)) == 1 &&
            (params.is_ed || set_rsa_padding(pctx, params.alg, params.md, int(params.salt)));
  if (!ok) {
    EVP_MD_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// pkeySign(alg, hash, pkcs8, data, saltLength) -> ArrayBuffer, or null.
void pkey_sign(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  SignParams params;
  Bytes data;
  if (!sign_params(info, true, 4, &params) || !bytes_of(info[3], &data)) {
    throw_type_error(isolate, "pkeySign expects an algorithm, a hash, a PKCS#8 key, data and a salt length");
    return;
  }
  info.GetReturnValue().SetNull();
  static const unsigned char empty = 0;
  const unsigned char *in = data.len ? data.data : &empty;
  EVP_MD_CTX *ctx = params.key.p ? sign_context(params, true) : nullptr;
  size_t sig_len = 0;
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out = nullptr;
  if (ctx != nullptr && EVP_DigestSign(ctx, nullptr, &sig_len, in, data.len) == 1 &&
      budget_buffer(isolate, sig_len, &result, &out)) {
    size_t written = sig_len;
    if (EVP_DigestSign(ctx, out, &written, in, data.len) == 1 && written == sig_len) {
      info.GetReturnValue().Set(result);
    }
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
}

// pkeyVerify(alg, hash, spki, signature, data, saltLength) -> boolean, or
// null when the key cannot be read.
void pkey_verify(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  SignParams params;
  Bytes sig, data;
  if (!sign_params(info, false, 5, &params) || !bytes_of(info[3], &sig) || !bytes_of(info[4], &data)) {
    throw_type_error(isolate, "pkeyVerify expects an algorithm, a hash, an SPKI key, a signature, data and a salt length");
    return;
  }
  if (params.key.p == nullptr) {
    info.GetReturnValue().SetNull();
    return;
  }
  // RSA signatures are exactly the modulus' size (no leading zeros dropped).
  if (!params.is_ed && sig.len != size_t(EVP_PKEY_get_size(params.key.p))) {
    info.GetReturnValue().Set(false);
    return;
  }
  static const unsigned char empty = 0;
  EVP_MD_CTX *ctx = sign_context(params, false);
  bool ok = ctx != nullptr && EVP_DigestVerify(ctx, sig.len ? sig.data : &empty, sig.len,
                                               data.len ? data.data : &empty, data.len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  info.GetReturnValue().Set(ok);
}

// deriveShared(pkcs8, spki) -> ArrayBuffer (ECDH's x coordinate, X25519's
// u), or null (another curve, a point of small order: an all-zero X25519
// result).
void derive_shared(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes priv_der, pub_der;
  if (info.Length() < 2 || !bytes_of(info[0], &priv_der) || !bytes_of(info[1], &pub_der)) {
    throw_type_error(isolate, "deriveShared expects a PKCS#8 key and an SPKI key");
    return;
  }
  Pkey priv, pub;
  priv.p = parse_der(priv_der, true);
  pub.p = parse_der(pub_der, false);
  if (priv.p == nullptr || pub.p == nullptr || EVP_PKEY_base_id(priv.p) != EVP_PKEY_base_id(pub.p) ||
      (EVP_PKEY_base_id(priv.p) == EVP_PKEY_EC && pkey_curve(priv.p) != pkey_curve(pub.p))) {
    info.GetReturnValue().SetNull();
    return;
  }
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, priv.p, nullptr);
  size_t len = 0;
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
            EVP_PKEY_derive_set_peer(ctx, pub.p) == 1 && EVP_PKEY_derive(ctx, nullptr, &len) == 1;
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out = nullptr;
  if (ok && !budget_buffer(isolate, len, &result, &out)) {
    EVP_PKEY_CTX_free(ctx);
    return;
  }
  size_t written = len;
  ok = ok && EVP_PKEY_derive(ctx, out, &written) == 1 && written == len;
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  set_or_null(info, ok, result);
}

// rsaOaep(encrypt, hash, der, label, data) -> ArrayBuffer, or null.
void rsa_oaep(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes der, label, data;
  const EVP_MD *md = info.Length() >= 5 ? sign_digest(isolate, info[1]) : nullptr;
  if (md == nullptr || !info[0]->IsBoolean() || !bytes_of(info[2], &der) ||
      !bytes_of(info[3], &label) || !bytes_of(info[4], &data)) {
    throw_type_error(isolate, "rsaOaep expects a direction, a hash, a key, a label and data");
    return;
  }
  bool encrypt = info[0]->IsTrue();
  Pkey key;
  key.p = parse_der(der, !encrypt);
  if (key.p == nullptr || EVP_PKEY_base_id(key.p) != EVP_PKEY_RSA || label.len > kMaxCryptoInput) {
    info.GetReturnValue().SetNull();
    return;
  }
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key.p, nullptr);
  // OpenSSL takes ownership of the label.
  unsigned char *label_copy = label.len ? static_cast<unsigned char *>(OPENSSL_memdup(label.data, label.len)) : nullptr;
  static const unsigned char empty = 0;
  bool ok = ctx != nullptr &&
            (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
            (label.len == 0 || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label_copy, int(label.len)) == 1);
  if (ok) label_copy = nullptr;
  OPENSSL_free(label_copy);
  size_t cap = size_t(EVP_PKEY_get_size(key.p));
  std::string out(cap, '\0');
  size_t len = cap;
  auto *buf = reinterpret_cast<unsigned char *>(&out[0]);
  const unsigned char *in = data.len ? data.data : &empty;
  ok = ok && (encrypt ? EVP_PKEY_encrypt(ctx, buf, &len, in, data.len)
                      : EVP_PKEY_decrypt(ctx, buf, &len, in, data.len)) == 1;
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) {
    OPENSSL_cleanse(buf, cap);
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (new_array_buffer(isolate, buf, len).ToLocal(&result)) info.GetReturnValue().Set(result);
  OPENSSL_cleanse(buf, cap);
}

// aesCtr(key, counter, lengthBits, data) -> ArrayBuffer, or null when the
// data would make the counter's low lengthBits bits wrap back to a value
// already used. WebCrypto's counter block: the low bits count, the high ones
// stay; OpenSSL's CTR increments all 128, so the data is done in at most two
// pieces, the second after the low bits wrapped to zero.
void aes_ctr(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes key, counter, data;
  uint64_t length_bits = 0;
  const EVP_CIPHER *cipher = nullptr;
  if (info.Length() >= 4 && bytes_of(info[0], &key)) {
    cipher = key.len == 16 ? EVP_aes_128_ctr() : key.len == 24 ? EVP_aes_192_ctr()
             : key.len == 32 ? EVP_aes_256_ctr() : nullptr;
  }
  if (cipher == nullptr || !bytes_of(info[1], &counter) || counter.len != 16 ||
      !uint_arg(info[2], 128, &length_bits) || length_bits == 0 || !bytes_of(info[3], &data) ||
      data.len > kMaxCryptoInput) {
    throw_type_error(isolate, "aesCtr expects an AES key, a 16-byte counter, a length of 1-128 bits and data");
    return;
  }
  // No counter block may come twice: at most 2^length_bits blocks.
  uint64_t blocks = (uint64_t(data.len) + 15) / 16;
  if (length_bits < 64) {
    uint64_t total = uint64_t(1) << length_bits;
    if (blocks > total) {
      info.GetReturnValue().SetNull();
      return;
    }
  }
  v8::Local<v8::ArrayBuffer> result;
  unsigned char *out = nullptr;
  if (!budget_buffer(isolate, data.len, &result, &out)) return;
  bool ok = ctr_transform(cipher, key.data, counter.data, unsigned(length_bits), data.data, data.len, out);
  set_or_null(info, ok, result);
}

// aesKw(wrap, key, data) -> ArrayBuffer, or null (a wrong integrity check,
// or data that is not a multiple of 8 bytes of at least 16, or past 64 KiB).
// RFC 3394. AES-KW costs six AES calls per 8 bytes through OpenSSL's generic block
// path (one native call unwrapping 32 MiB held the worker past the hang
// timeout). It wraps keys: an 8192-bit RSA key as JWK is under 7 KiB.
constexpr size_t kAesKwMaxBytes = 64 * 1024;

void aes_kw(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Bytes key, data;
  const EVP_CIPHER *cipher = nullptr;
  if (info.Length() >= 3 && bytes_of(info[1], &key)) {
    cipher = key.len == 16 ? EVP_aes_128_wrap() : key.len == 24 ? EVP_aes_192_wrap()
             : key.len == 32 ? EVP_aes_256_wrap() : nullptr;
  }
  if (cipher == nullptr || !info[0]->IsBoolean() || !bytes_of(info[2], &data)) {
    throw_type_error(isolate, "aesKw expects a direction, an AES key and data");
    return;
  }
  bool wrap = info[0]->IsTrue();
  if (data.len % 8 != 0 || data.len < (wrap ? 16u : 24u) || data.len > kAesKwMaxBytes) {
    info.GetReturnValue().SetNull();
    return;
  }
  size_t cap = wrap ? data.len + 8 : data.len - 8;
  std::string out(cap + 16, '\0');
  auto *buf = reinterpret_cast<unsigned char *>(&out[0]);
  CipherCtx c;
  int n = 0, m = 0;
  if (c.ctx != nullptr) EVP_CIPHER_CTX_set_flags(c.ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  bool ok = c.ctx != nullptr && EVP_CipherInit_ex(c.ctx, cipher, nullptr, key.data, nullptr, wrap ? 1 : 0) == 1 &&
            EVP_CipherUpdate(c.ctx, buf, &n, data.data, int(data.len)) == 1 && n >= 0 &&
            EVP_CipherFinal_ex(c.ctx, buf + n, &m) == 1 && size_t(n) + size_t(m) == cap;
  if (!ok) {
    OPENSSL_cleanse(buf, out.size());
    info.GetReturnValue().SetNull();
    return;
  }
  v8::Local<v8::ArrayBuffer> result;
  if (new_array_buffer(isolate, buf, cap).ToLocal(&result)) info.GetReturnValue().Set(result);
  OPENSSL_cleanse(buf, out.size());
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
  set_function(context, native, "ecdsaSign", ecdsa_sign);
  set_function(context, native, "ecdsaVerify", ecdsa_verify);
  set_function(context, native, "keyImport", key_import);
  set_function(context, native, "keyImportJwk", key_import_jwk);
  set_function(context, native, "keyExport", key_export);
  set_function(context, native, "keyGenerate", key_generate);
  set_function(context, native, "pkeySign", pkey_sign);
  set_function(context, native, "pkeyVerify", pkey_verify);
  set_function(context, native, "deriveShared", derive_shared);
  set_function(context, native, "rsaOaep", rsa_oaep);
  set_function(context, native, "aesCtr", aes_ctr);
  set_function(context, native, "aesKw", aes_kw);
}

}  // namespace dispatch

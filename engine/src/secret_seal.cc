// secret_seal.cc: AES-256-GCM on OpenSSL for secret_text values at rest.
//
// A sealed value is "v1:KEYID:HEX", HEX the 12-byte random nonce, the
// ciphertext and the 16-byte tag; KEYID names the key (a hash of it), so
// that a worker with two keys tries the right one and rotation can tell
// which values are still under the old one.

#include "secret_seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

namespace dispatch {

namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr char kVersion[] = "v1";
// A secret's value is at most what an upload or a metadata field may hold.
constexpr size_t kMaxSealedHex = 2 * (kNonceSize + kTagSize + (16u << 20));

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string hex(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; i++) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool unhex(const std::string &in, std::string *out) {
  if (in.size() % 2 != 0 || in.size() > kMaxSealedHex) return false;
  out->resize(in.size() / 2);
  for (size_t i = 0; i < out->size(); i++) {
    int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = char(hi << 4 | lo);
  }
  return true;
}

bool is_secret(json_t *b) {
  const char *type = json_string_value(json_object_get(b, "type"));
  return type && strcmp(type, "secret_text") == 0;
}

}  // namespace

SecretSeal::~SecretSeal() {
  for (Entry &e : keys_) OPENSSL_cleanse(e.key.data(), e.key.size());
}

void SecretSeal::add_key(const uint8_t *key) {
  Entry e;
  memcpy(e.key.data(), key, kKeySize);
  // The id says which key, never anything about it: a hash of a label and it.
  std::string input = "ngx_dispatch secret key id";
  input.append(reinterpret_cast<const char *>(key), kKeySize);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(input.data(), input.size(), digest, &n, EVP_sha256(), nullptr);
  OPENSSL_cleanse(&input[0], input.size());
  e.id = hex(digest, 4);
  keys_.push_back(e);
  OPENSSL_cleanse(e.key.data(), e.key.size());
}

std::string SecretSeal::seal(const std::string &name, const std::string &text) const {
  const Entry &k = keys_.front();
  std::string raw(kNonceSize + text.size() + kTagSize, '\0');
  auto *nonce = reinterpret_cast<uint8_t *>(&raw[0]);
  auto *ct = nonce + kNonceSize;
  auto *tag = ct + text.size();
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || RAND_bytes(nonce, kNonceSize) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k.key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const uint8_t *>(name.data()), int(name.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, reinterpret_cast<const uint8_t *>(text.data()),
                        int(text.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    return std::string();
  }
  return std::string(kVersion) + ":" + k.id + ":" +
         hex(reinterpret_cast<const uint8_t *>(raw.data()), raw.size());
}

int SecretSeal::open(const std::string &name, const std::string &sealed, std::string *out,
                     std::string *err) const {
  // v1:KEYID:HEX
  size_t a = sealed.find(':');
  size_t b = a == std::string::npos ? a : sealed.find(':', a + 1);
  std::string raw;
  if (b == std::string::npos || sealed.compare(0, a, kVersion) != 0 ||
      !unhex(sealed.substr(b + 1), &raw) || raw.size() < kNonceSize + kTagSize) {
    *err = "its sealed value is malformed";
    return -1;
  }
  std::string id = sealed.substr(a + 1, b - a - 1);
  for (size_t i = 0; i < keys_.size(); i++) {
    if (keys_[i].id != id) continue;
    const auto *nonce = reinterpret_cast<const uint8_t *>(raw.data());
    const auto *ct = nonce + kNonceSize;
    size_t ct_len = raw.size() - kNonceSize - kTagSize;
    std::string plain(ct_len, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0, fin = 0;
    bool ok =
        ctx &&
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, keys_[i].key.data(), nonce) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const uint8_t *>(name.data()), int(name.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t *>(&plain[0]), &len, ct,
                          int(ct_len)) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                            const_cast<uint8_t *>(ct + ct_len)) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t *>(&plain[0]) + len, &fin) == 1;
    if (!ok) {
      OPENSSL_cleanse(&plain[0], plain.size());
      *err = "its sealed value does not open under key " + id + " (tampered, or another name's)";
      return -1;
    }
    *out = std::move(plain);
    return int(i);
  }
  *err = keys_.empty() ? "it is sealed, and no dispatch_secrets_key is configured"
                       : "it is sealed under key " + id + ", which dispatch_secrets_key does not name";
  return -1;
}

bool SecretSeal::open_binding(json_t *binding, std::string *out, std::string *err) const {
  const char *text = json_string_value(json_object_get(binding, "text"));
  if (text != nullptr) {
    *out = text;
    return true;
  }
  const char *sealed = json_string_value(json_object_get(binding, "sealed"));
  const char *name = json_string_value(json_object_get(binding, "name"));
  if (sealed == nullptr || name == nullptr) {
    *err = "has no text";
    return false;
  }
  return open(name, sealed, out, err) >= 0;
}

bool SecretSeal::seal_bindings(json_t *meta, std::string *err) const {
  if (keys_.empty()) return true;
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(meta, "bindings"), i, b) {
    if (!is_secret(b)) continue;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *text = json_string_value(json_object_get(b, "text"));
    const char *sealed = json_string_value(json_object_get(b, "sealed"));
    if (name == nullptr) continue;
    std::string plain;
    if (text != nullptr) {
      plain = text;
    } else if (sealed != nullptr) {
      std::string why;
      int by = open(name, sealed, &plain, &why);
      if (by == 0) continue;  // under the current key already
      if (by < 0) {
        *err = std::string("secret \"") + name + "\": " + why;
        return false;
      }
    } else {
      continue;
    }
    std::string s = seal(name, plain);
    OPENSSL_cleanse(&plain[0], plain.size());
    if (s.empty()) {
      *err = std::string("secret \"") + name + "\" cannot be sealed";
      return false;
    }
    json_object_del(b, "text");
    json_object_set_new(b, "sealed", json_stringn(s.data(), s.size()));
  }
  return true;
}

}  // namespace dispatch

// secret_seal.h: secret_text values encrypted at rest (dispatch_secrets_key).
//
// The management API seals every secret_text binding before the metadata
// goes to Redis: AES-256-GCM under a key Redis never sees, with the
// binding's name as associated data (a sealed value moved to another name
// does not open). A worker opens one only while it builds the env of the
// isolate that binds it. Several keys: the first seals, every one opens, so
// that an operator can rotate (README "Secrets at rest").
#pragma once

#include <jansson.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dispatch {

class SecretSeal {
 public:
  static constexpr size_t kKeySize = 32;
  using Key = std::array<uint8_t, kKeySize>;

  SecretSeal() = default;
  SecretSeal(const SecretSeal &) = delete;
  SecretSeal &operator=(const SecretSeal &) = delete;
  ~SecretSeal();

  void add_key(const uint8_t *key);
  bool enabled() const { return !keys_.empty(); }

  // Every secret_text binding of meta's "bindings" leaves with "sealed"
  // under the first key and no "text": plain ones are sealed, those sealed
  // under another key are resealed. Without keys, nothing changes. false
  // (with err) when a sealed value opens under no key.
  bool seal_bindings(json_t *meta, std::string *err) const;

  // A secret_text binding's value: its "text", or its "sealed" opened.
  bool open_binding(json_t *binding, std::string *out, std::string *err) const;

 private:
  struct Entry {
    Key key;
    std::string id;  // 8 hex digits, named in the sealed value
  };
  std::string seal(const std::string &name, const std::string &text) const;
  // The index of the key that opened it, or -1.
  int open(const std::string &name, const std::string &sealed, std::string *out,
           std::string *err) const;
  std::vector<Entry> keys_;
};

}  // namespace dispatch

#include "asset_upload.h"

#include "asset_rules.h"
#include "upload.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

namespace dispatch {

namespace {

using JsonPtr = std::unique_ptr<json_t, void (*)(json_t *)>;

constexpr size_t kMaxRunWorkerFirstRules = 100;  // wrangler's MAX_ROUTES_RULES
constexpr size_t kMaxRunWorkerFirstRule = 100;   // and MAX_ROUTES_RULE_LENGTH
constexpr size_t kMaxAssetWarnings = 20;         // lines of _redirects/_headers told
const char kCompletionLabel[] = "dispatch assets completion";

bool control_free(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

int b64_value(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

// Decodes groups of 4 (the last may be short when !padded); false on any
// byte outside the alphabet or a non-canonical tail.
bool b64_decode(std::string_view in, bool url, std::string *out) {
  out->clear();
  size_t pad = 0;
  if (!url) {
    if (in.size() % 4 != 0) return false;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') pad++;
  }
  size_t n = in.size() - pad;
  if (url && n % 4 == 1) return false;
  out->reserve(n / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(in[i], url);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(char((acc >> bits) & 0xff));
    }
  }
  // the leftover bits must be zero (one encoding per byte string)
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return false;
  return true;
}

}  // namespace

std::string hex_encode(const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string base64_encode(std::string_view in, bool url) {
  const char *table = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 |
                 uint8_t(in[i + 2]);
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += table[n >> 18];
    out += table[(n >> 12) & 63];
    if (i + 1 < in.size()) {
      out += table[(n >> 6) & 63];
    } else if (!url) {
      out += '=';
    }
    if (!url) out += '=';  // base64url goes unpadded (as JWTs are)
  }
  return out;
}

bool asset_path_valid(std::string_view path) {
  if (path.size() < 2 || path.size() > kMaxAssetPath || path.front() != '/') return false;
  return control_free(path) && relative_segments_valid(path.substr(1));
}

bool asset_hash_valid(std::string_view hash) {
  if (hash.size() != 32) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool asset_type_valid(std::string_view type) {
  return type.size() <= kMaxAssetType && control_free(type);
}

bool parse_asset_manifest(const json_t *manifest, AssetUploadManifest *out, std::string *err) {
  out->clear();
  if (!json_is_object(manifest)) {
    *err = "the body must be {\"manifest\": {\"/path\": {\"hash\", \"size\"}, ...}}";
    return false;
  }
  if (json_object_size(manifest) > kMaxAssetEntries) {
    *err = "the manifest has " + std::to_string(json_object_size(manifest)) +
           " entries, more than " + std::to_string(kMaxAssetEntries);
    return false;
  }
  const char *path;
  json_t *entry;
  json_object_foreach(const_cast<json_t *>(manifest), path, entry) {
    std::string p(path);
    std::string shown = "the manifest path \"" + p.substr(0, 200) + "\"";
    if (!asset_path_valid(p)) {
      *err = shown + " is not a valid asset path (starts with /, no empty, . or .. segment, "
             "no control bytes, at most 1024 bytes)";
      return false;
    }
    json_t *hash = json_object_get(entry, "hash");
    json_t *size = json_object_get(entry, "size");
    if (!json_is_object(entry) || !json_is_string(hash) ||
        !asset_hash_valid(std::string_view(json_string_value(hash), json_string_length(hash)))) {
      *err = shown + " needs a hash of 32 lowercase hex digits";
      return false;
    }
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > json_int_t(kMaxAssetSize)) {
      *err = shown + " needs a size of 0 to " + std::to_string(kMaxAssetSize) + " bytes";
      return false;
    }
    AssetUploadEntry e;
    e.hash = json_string_value(hash);
    e.size = size_t(json_integer_value(size));
    out->emplace(std::move(p), std::move(e));
  }
  // One hash, one content: two sizes for one hash cannot both be right.
  std::map<std::string, size_t> sizes;
  for (const auto &e : *out) {
    auto it = sizes.emplace(e.second.hash, e.second.size).first;
    if (it->second != e.second.size) {
      *err = "the hash " + e.second.hash + " is given two different sizes";
      return false;
    }
  }
  return true;
}

std::string asset_manifest_json(const AssetUploadManifest &m) {
  JsonPtr o(json_object(), json_decref);
  for (const auto &e : m) {
    json_object_setn_new_nocheck(o.get(), e.first.data(), e.first.size(),
                                 json_pack("{s:s,s:I}", "hash", e.second.hash.c_str(), "size",
                                           json_int_t(e.second.size)));
  }
  char *s = json_dumps(o.get(), JSON_COMPACT);
  std::string out = s ? s : "{}";
  free(s);
  return out;
}

std::vector<std::string> asset_hashes(const AssetUploadManifest &m) {
  std::set<std::string> seen;
  for (const auto &e : m) seen.insert(e.second.hash);
  return std::vector<std::string>(seen.begin(), seen.end());
}

std::vector<std::vector<std::string>> asset_buckets(const AssetUploadManifest &m,
                                                    const std::vector<std::string> &missing) {
  std::map<std::string, size_t> size_of;
  for (const auto &e : m) size_of[e.second.hash] = e.second.size;
  std::vector<std::vector<std::string>> buckets;
  std::vector<std::string> current;
  size_t bytes = 0;
  for (const auto &h : missing) {
    size_t n = size_of[h];
    if (!current.empty() && (current.size() >= kMaxBucketFiles || bytes + n > kMaxBucketBytes)) {
      buckets.push_back(std::move(current));
      current.clear();
      bytes = 0;
    }
    current.push_back(h);
    bytes += n;
  }
  if (!current.empty()) buckets.push_back(std::move(current));
  return buckets;
}

bool normalize_asset_config(const json_t *config, std::string *out, std::string *err,
                            std::vector<std::string> *warnings) {
  if (config != nullptr && !json_is_null(config) && !json_is_object(config)) {
    *err = "metadata.assets.config must be an object";
    return false;
  }
  auto choice = [&](const char *field, std::initializer_list<const char *> allowed,
                    std::string *value) {
    json_t *v = config ? json_object_get(config, field) : nullptr;
    if (v == nullptr || json_is_null(v)) {
      *value = *allowed.begin();
      return true;
    }
    const char *s = json_string_value(v);
    for (const char *a : allowed) {
      if (s && strcmp(s, a) == 0) {
        *value = a;
        return true;
      }
    }
    *err = std::string("metadata.assets.config.") + field + " must be one of";
    for (const char *a : allowed) *err += std::string(" \"") + a + "\"";
    return false;
  };
  std::string html, not_found;
  if (!choice("html_handling", {"auto-trailing-slash", "force-trailing-slash",
                                "drop-trailing-slash", "none"}, &html) ||
      !choice("not_found_handling", {"none", "single-page-application", "404-page"},
              &not_found)) {
    return false;
  }
  JsonPtr o(json_object(), json_decref);
  json_object_set_new(o.get(), "html_handling", json_string(html.c_str()));
  json_object_set_new(o.get(), "not_found_handling", json_string(not_found.c_str()));
  json_t *first = config ? json_object_get(config, "run_worker_first") : nullptr;
  if (first == nullptr || json_is_null(first)) {
    json_object_set_new(o.get(), "run_worker_first", json_false());
  } else if (json_is_boolean(first)) {
    json_object_set(o.get(), "run_worker_first", first);
  } else if (json_is_array(first) && json_array_size(first) >= 1 &&
             json_array_size(first) <= kMaxRunWorkerFirstRules) {
    size_t i;
    json_t *rule;
    json_array_foreach(first, i, rule) {
      const char *r = json_string_value(rule);
      size_t n = json_string_length(rule);
      if (r == nullptr || n > kMaxRunWorkerFirstRule || !control_free({r, n}) ||
          strlen(r) != n || !(r[0] == '/' || (r[0] == '!' && r[1] == '/'))) {
        *err = "metadata.assets.config.run_worker_first rules are strings of at most 100 "
               "bytes starting with / or !/";
        return false;
      }
    }
    json_object_set(o.get(), "run_worker_first", first);
  } else {
    *err = "metadata.assets.config.run_worker_first must be a boolean or an array of 1-100 "
           "rules";
    return false;
  }
  for (const char *field : {"_redirects", "_headers"}) {
    json_t *v = config ? json_object_get(config, field) : nullptr;
    if (v == nullptr || json_is_null(v)) continue;
    std::string name = std::string("metadata.assets.config.") + field;
    if (!json_is_string(v)) {
      *err = name + " must be a string (the file's text)";
      return false;
    }
    std::string_view text(json_string_value(v), json_string_length(v));
    AssetRules rules;
    std::vector<AssetRules::Problem> problems;
    std::string refusal;
    bool redirects = field[1] == 'r';
    if (!(redirects ? rules.parse_redirects(text, html == "none", &problems)
                    : rules.parse_headers(text, true, &problems, &refusal))) {
      *err = name + ": " + (refusal.empty() && !problems.empty() ? problems.back().message : refusal);
      return false;
    }
    for (const AssetRules::Problem &p : problems) {
      if (warnings == nullptr || warnings->size() >= kMaxAssetWarnings) break;
      warnings->push_back(std::string(field) + (p.line ? " line " + std::to_string(p.line) : "") +
                          ": " + p.message + " (skipped)");
    }
    if (!text.empty()) json_object_set(o.get(), field, v);
  }
  char *s = json_dumps(o.get(), JSON_COMPACT);
  if (s == nullptr) {
    *err = "metadata.assets.config cannot be stored";
    return false;
  }
  *out = s;
  free(s);
  return true;
}

std::string asset_token_make(const AssetToken &t, long long expires) {
  JsonPtr payload(json_pack("{s:s,s:s,s:s,s:I}", "ns", t.ns.c_str(), "sid", t.sid.c_str(), "use",
                            t.use == AssetTokenUse::kUpload ? "upload" : "completion", "exp",
                            json_int_t(expires)),
                  json_decref);
  char *p = json_dumps(payload.get(), JSON_COMPACT);
  std::string text = p ? p : "{}";
  free(p);
  return base64_encode("{\"alg\":\"none\",\"typ\":\"JWT\"}", true) + "." + base64_encode(text, true) + "." +
         base64_encode(t.secret, true);
}

bool asset_token_parse(std::string_view text, AssetToken *out) {
  if (text.size() > 1024) return false;
  size_t a = text.find('.');
  size_t b = a == std::string_view::npos ? a : text.find('.', a + 1);
  if (b == std::string_view::npos || text.find('.', b + 1) != std::string_view::npos) {
    return false;
  }
  std::string payload;
  if (!b64_decode(text.substr(a + 1, b - a - 1), true, &payload) ||
      !b64_decode(text.substr(b + 1), true, &out->secret) || out->secret.size() != 32) {
    return false;
  }
  JsonPtr j(json_loadb(payload.data(), payload.size(), 0, nullptr), json_decref);
  const char *ns = json_string_value(json_object_get(j.get(), "ns"));
  const char *sid = json_string_value(json_object_get(j.get(), "sid"));
  const char *use = json_string_value(json_object_get(j.get(), "use"));
  if (!ns || !sid || !use || !asset_hash_valid(sid)) return false;
  out->ns = ns;
  out->sid = sid;
  if (strcmp(use, "upload") == 0) {
    out->use = AssetTokenUse::kUpload;
  } else if (strcmp(use, "completion") == 0) {
    out->use = AssetTokenUse::kCompletion;
  } else {
    return false;
  }
  return true;
}

std::string asset_completion_secret(const std::string &upload_secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), upload_secret.data(), int(upload_secret.size()),
           reinterpret_cast<const unsigned char *>(kCompletionLabel), sizeof(kCompletionLabel) - 1,
           md, &len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<char *>(md), len);
}

std::string asset_secret_hash(const std::string &secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(secret.data(), secret.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  return hex_encode(md, len);
}

bool asset_hash_equal(const std::string &a, const std::string &b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool asset_random(std::string *out, size_t n) {
  out->assign(n, '\0');
  return RAND_bytes(reinterpret_cast<unsigned char *>(&(*out)[0]), int(n)) == 1;
}

bool base64_decode_strict(std::string_view in, std::string *out) {
  return b64_decode(in, false, out);
}

}  // namespace dispatch

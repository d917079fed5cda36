// asset_upload.h: the static assets of a script in the management API
// (wrangler's assets-upload-session, its bucket upload and the assets of a
// script upload), as /work/briefs' storage contract and README "Static
// assets" describe them. Parsing and checking only: no Redis, no V8 here.
//
// Tokens are JWT-shaped (base64url header.payload.secret) and verified
// against Redis, not a signing key: the payload names the namespace and
// the session (so that the bucket upload, whose path names no namespace,
// finds its hash tag), the third part is the session's secret. Redis holds
// only SHA-256 hashes of the secrets:
//   upload secret      32 bytes from RAND_bytes
//   completion secret  HMAC-SHA256(upload secret, "dispatch assets completion")
// so that every bucket upload that finds the session complete answers the
// same completion token (wrangler keeps whichever answer came last), and a
// completion token does not reveal the upload secret.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

struct json_t;

namespace dispatch {

constexpr size_t kMaxAssetEntries = 20000;
constexpr size_t kMaxAssetSize = 25 * 1024 * 1024;  // 26,214,400 bytes
constexpr size_t kMaxAssetPath = 1024;
constexpr size_t kMaxAssetType = 255;
constexpr long kAssetSessionSeconds = 3600;
// A bucket: at most this many files and bytes (decoded), but a file larger
// than the byte bound goes alone. Base64 makes a bucket's body 4/3 of it.
constexpr size_t kMaxBucketFiles = 100;
constexpr size_t kMaxBucketBytes = 8 * 1024 * 1024;

struct AssetUploadEntry {
  std::string hash;  // 32 lowercase hex
  size_t size = 0;
};

// path -> entry, as wrangler sends it ({"/a/b c.js": {"hash","size"}}).
using AssetUploadManifest = std::map<std::string, AssetUploadEntry>;

// A manifest path: starts with '/', '/'-separated, no empty, "." or ".."
// segment, no control byte (nor DEL), at most 1024 bytes.
bool asset_path_valid(std::string_view path);
bool asset_hash_valid(std::string_view hash);
// A part's Content-Type as stored: at most 255 bytes, no control byte.
bool asset_type_valid(std::string_view type);

// Reads {"manifest": {...}} (the session's body). False with *err.
bool parse_asset_manifest(const json_t *manifest, AssetUploadManifest *out, std::string *err);
// The manifest as the contract stores it (compact JSON object).
std::string asset_manifest_json(const AssetUploadManifest &m);
// The distinct hashes of a manifest, sorted.
std::vector<std::string> asset_hashes(const AssetUploadManifest &m);
// The hashes to upload, in buckets (each within kMaxBucketFiles and
// kMaxBucketBytes, a larger file alone).
std::vector<std::vector<std::string>> asset_buckets(const AssetUploadManifest &m,
                                                    const std::vector<std::string> &missing);

// metadata.assets.config, normalized: html_handling, not_found_handling,
// run_worker_first with their defaults (null or absent: the defaults), and
// the text of _redirects and _headers (kept as given when not empty; a
// header that is not valid HTTP refuses them, a line that is not a rule is
// told in *warnings and skipped when the script loads).
bool normalize_asset_config(const json_t *config, std::string *out, std::string *err,
                            std::vector<std::string> *warnings = nullptr);

enum class AssetTokenUse { kUpload, kCompletion };

struct AssetToken {
  std::string ns;
  std::string sid;
  AssetTokenUse use = AssetTokenUse::kUpload;
  std::string secret;  // raw bytes
};

std::string asset_token_make(const AssetToken &t, long long expires);
// Reads a token's parts; says nothing of whether it is live (Redis does).
bool asset_token_parse(std::string_view text, AssetToken *out);
// The completion secret of an upload secret.
std::string asset_completion_secret(const std::string &upload_secret);
// Hex SHA-256 of a secret (what the session stores).
std::string asset_secret_hash(const std::string &secret);
// Constant-time equality of two hex hashes of equal length.
bool asset_hash_equal(const std::string &a, const std::string &b);
// 32 random bytes (false when the CSPRNG fails).
bool asset_random(std::string *out, size_t n);

// Lowercase hex of n bytes.
std::string hex_encode(const unsigned char *p, size_t n);
// RFC 4648 base64 (padded), or base64url (unpadded) when url.
std::string base64_encode(std::string_view in, bool url);

// Strict RFC 4648 base64 (padding required, no whitespace). False when
// malformed.
bool base64_decode_strict(std::string_view in, std::string *out);

}  // namespace dispatch

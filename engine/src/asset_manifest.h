// asset_manifest.h: a script's static assets (Workers static assets), as
// the management API stored them in the `assets` field of the script's hash
// (README "Static assets"): which paths exist, under which content hash,
// and how requests reach them (html_handling, not_found_handling,
// run_worker_first).
//
// Parsed once per load of the script, in C++, and shared by every request
// and isolate of that version: routing a request to an asset runs no
// JavaScript and starts no isolate. The rules follow Cloudflare's asset
// server and router (their observable behaviour: which path serves which
// file, which redirects, which status).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asset_rules.h"

namespace dispatch {

class AssetManifest {
 public:
  enum class HtmlHandling { kAutoTrailingSlash, kForceTrailingSlash, kDropTrailingSlash, kNone };
  enum class NotFound { kNone, kSinglePage, kPage404 };

  struct Entry {
    std::string hash;  // 32 lowercase hex digits: the content's key and ETag
    uint64_t size = 0;
    const std::string *path = nullptr;  // its key in the manifest
    uint64_t key_hi = 0, key_lo = 0;    // the 16 bytes the hash spells
  };

  // Where a request goes: an asset (its hash; 200, or 404 for a 404 page),
  // a redirect (307 to an encoded path), or nothing here.
  struct Intent {
    enum class Kind { kNone, kAsset, kRedirect } kind = Kind::kNone;
    const Entry *asset = nullptr;
    int status = 200;
    std::string location;  // kRedirect: the decoded destination path
  };

  // Limits of what is parsed at all (the management API holds uploads to
  // tighter ones: 20,000 files, 1 KiB paths).
  static constexpr size_t kMaxJsonBytes = 32u << 20;
  static constexpr size_t kMaxEntries = 100000;
  static constexpr size_t kMaxRules = 100;

  // nullptr with *err set when the JSON is not a manifest this can serve.
  // metadata (the script's, may be empty) gives the compatibility date and
  // flags that decide whether a browser's navigation prefers assets.
  static std::shared_ptr<const AssetManifest> parse(std::string_view json,
                                                    std::string_view metadata,
                                                    std::string *err);

  const Entry *find(const std::string &path) const;
  // Cloudflare's html_handling and not_found_handling for a decoded path.
  Intent resolve(const std::string &path, bool with_not_found = true) const;

  HtmlHandling html_handling() const { return html_; }
  NotFound not_found() const { return not_found_; }
  bool run_worker_first() const { return worker_first_; }
  bool has_static_routing() const { return !user_rules_.empty(); }
  // run_worker_first as a list: "!/..." rules send matching paths to the
  // assets, "/..." rules to the worker; "*" matches any run of characters.
  bool matches_asset_rule(std::string_view path) const;
  bool matches_worker_rule(std::string_view path) const;
  // A browser's navigation (Sec-Fetch-Mode: navigate) that matches no
  // asset still gets not_found_handling, not the worker (compatibility
  // date 2025-04-01 on, or assets_navigation_prefers_asset_serving).
  bool navigation_prefers_assets() const { return navigation_prefers_assets_; }
  // _redirects and _headers (README "Static assets").
  const AssetRules &rules() const { return rules_; }
  size_t bytes() const { return bytes_; }

 private:
  Intent intent(const std::string &path, bool skip_redirects, bool with_not_found) const;
  Intent not_found_intent(const std::string &path) const;
  // A redirect to destination when it does not exist itself but resolves
  // to the very file `file` (which must exist).
  bool redirect(const std::string &file, const std::string &destination, bool skip,
                bool with_not_found, Intent *out) const;
  Intent asset(const Entry *e, int status = 200) const;

  std::unordered_map<std::string, Entry> entries_;
  HtmlHandling html_ = HtmlHandling::kAutoTrailingSlash;
  NotFound not_found_ = NotFound::kNone;
  bool worker_first_ = false;
  std::vector<std::string> asset_rules_;  // without the '!'
  std::vector<std::string> user_rules_;
  bool navigation_prefers_assets_ = false;
  size_t longest_ = 0;  // the longest path in the manifest
  AssetRules rules_;
  size_t bytes_ = 0;  // what it holds, roughly (the script cache counts it)
};

// Percent-decodes each '/'-separated segment as decodeURIComponent does (a
// segment that is not valid UTF-8 once decoded stays as it was), then makes
// runs of '/' one: the path a manifest is searched with.
std::string asset_decode_path(std::string_view path);
// s with each byte keep refuses as %XX.
std::string asset_percent_encode(std::string_view s, bool (*keep)(unsigned char));
// encodeURIComponent of each segment: the form a redirect's Location takes
// and a request's path is compared with.
std::string asset_encode_path(std::string_view path);
// The request's path from its URL ("scheme://host/path?query"), with "."
// and ".." segments resolved as the URL parser does, and its "?query".
void asset_split_url(std::string_view url, std::string *path, std::string *search);
// A type by the path's extension, for an asset stored without one.
const char *asset_type_by_extension(std::string_view path);

}  // namespace dispatch

#include "asset_manifest.h"

#include "asset_rules.h"
#include "asset_upload.h"

#include <jansson.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>

namespace dispatch {

namespace {

using JsonPtr = std::unique_ptr<json_t, decltype(&json_decref)>;

bool ends_with(const std::string &s, const char *suffix) {
  size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// s without its last n bytes (the callers checked it ends with them).
std::string cut(const std::string &s, size_t n) { return s.substr(0, s.size() > n ? s.size() - n : 0); }

// A glob of run_worker_first: '*' matches any run of bytes, the rest is
// literal. Matched greedily, each literal piece found with a KMP table
// built once: a rule costs time linear in the path, whatever the tenant
// wrote (a naive search of "*a*a*a…b" over a long path of a's is quadratic).
bool glob_match(std::string_view rule, std::string_view path) {
  // Split once per call: rules are at most 100 bytes and there are at most
  // 100; only requests of scripts with rules get here.
  std::vector<KmpPiece> pieces;
  size_t start = 0;
  while (true) {
    size_t star = rule.find('*', start);
    pieces.push_back(kmp_piece(rule.substr(start, star == std::string_view::npos ? std::string_view::npos
                                                                                 : star - start)));
    if (star == std::string_view::npos) break;
    start = star + 1;
  }
  if (pieces.size() == 1) return path == pieces[0].text;
  const std::string &first = pieces.front().text;
  const std::string &last = pieces.back().text;
  if (path.size() < first.size() + last.size()) return false;
  if (path.compare(0, first.size(), first) != 0) return false;
  if (path.compare(path.size() - last.size(), last.size(), last) != 0) return false;
  std::string_view middle = path.substr(first.size(), path.size() - first.size() - last.size());
  size_t at = 0;
  for (size_t i = 1; i + 1 < pieces.size(); i++) {
    size_t found = kmp_find(middle, at, pieces[i]);
    if (found == std::string_view::npos) return false;
    at = found + pieces[i].text.size();
  }
  return true;
}

bool any_match(const std::vector<std::string> &rules, std::string_view path) {
  for (const std::string &r : rules) {
    if (glob_match(r, path)) return true;
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What JavaScript's decoder accepts: shortest forms, no surrogates, at
// most U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;  // fewer than n continuation bytes left
    for (size_t k = 1; k <= n; k++) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// decodeURIComponent: false when it would throw.
bool decode_component(std::string_view s, std::string *out) {
  out->clear();
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(char(hi * 16 + lo));
    i += 2;
  }
  return valid_utf8(*out);
}

bool single_dot(std::string_view seg) { return seg == "." || seg == "%2e" || seg == "%2E"; }

// config.NAME, one of the names given (absent: the first); false with *err
// set for any other value.
template <typename E>
bool choose(json_t *config, const char *name, std::initializer_list<std::pair<const char *, E>> names,
            E *out, std::string *err) {
  const char *given = json_string_value(json_object_get(config, name));
  for (const auto &n : names) {
    if (given == nullptr || strcmp(given, n.first) == 0) {
      *out = n.second;
      return true;
    }
  }
  *err = std::string("unknown assets ") + name + " \"" + given + "\"";
  return false;
}

bool double_dot(std::string_view seg) {
  if (seg.size() < 2 || seg.size() > 6) return false;
  std::string lower;
  for (char c : seg) lower.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
  return lower == ".." || lower == ".%2e" || lower == "%2e." || lower == "%2e%2e";
}

}  // namespace

std::string asset_decode_path(std::string_view path) {
  if (path.find('%') == std::string_view::npos && path.find("//") == std::string_view::npos) {
    return std::string(path);  // nothing to decode: most requests
  }
  std::string joined, segment;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view raw = path.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                               : slash - start);
    if (decode_component(raw, &segment)) {
      joined += segment;
    } else {
      joined.append(raw.data(), raw.size());
    }
    if (slash == std::string_view::npos) break;
    joined.push_back('/');
    start = slash + 1;
  }
  std::string out;
  out.reserve(joined.size());
  for (char c : joined) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  return out;
}

std::string asset_percent_encode(std::string_view s, bool (*keep)(unsigned char)) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (keep(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string asset_encode_path(std::string_view path) {
  return asset_percent_encode(path, [](unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-_.!~*'()/", c) != nullptr);
  });
}

void asset_split_url(std::string_view url, std::string *path, std::string *search) {
  size_t scheme = url.find("://");
  size_t begin = scheme == std::string_view::npos ? 0 : url.find('/', scheme + 3);
  if (begin == std::string_view::npos) begin = url.size();
  size_t hash = url.find('#', begin);
  if (hash != std::string_view::npos) url = url.substr(0, hash);
  size_t query = url.find('?', begin);
  std::string_view raw = url.substr(begin, query == std::string_view::npos ? std::string_view::npos
                                                                            : query - begin);
  *search = query == std::string_view::npos ? std::string() : std::string(url.substr(query));

  // "." and ".." segments as the URL parser resolves them ('\' is '/' in
  // an http(s) URL): a request's path is what new URL(req.url).pathname
  // would say.
  if (!raw.empty() && raw[0] == '/' && raw.find('\\') == std::string_view::npos &&
      raw.find("/.") == std::string_view::npos && raw.find("%2") == std::string_view::npos) {
    path->assign(raw.data(), raw.size());  // no dot segment: most requests
    return;
  }
  std::vector<std::string_view> segments;
  std::string slashed(raw);
  for (char &c : slashed) {
    if (c == '\\') c = '/';
  }
  std::string_view rest(slashed);
  if (!rest.empty() && rest[0] == '/') rest.remove_prefix(1);
  bool trailing = false;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    trailing = false;
    if (single_dot(seg)) {
      trailing = true;
    } else if (double_dot(seg)) {
      if (!segments.empty()) segments.pop_back();
      trailing = true;
    } else {
      segments.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  path->assign("/");
  for (size_t i = 0; i < segments.size(); i++) {
    if (i) path->push_back('/');
    path->append(segments[i].data(), segments[i].size());
  }
  if (trailing && path->size() > 1) path->push_back('/');
}

const char *asset_type_by_extension(std::string_view path) {
  static const struct {
    const char *ext;
    const char *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"}, {".js", "application/javascript"},
      {".mjs", "application/javascript"}, {".json", "application/json"},
      {".map", "application/json"}, {".txt", "text/plain; charset=utf-8"},
      {".xml", "application/xml"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
      {".webp", "image/webp"}, {".avif", "image/avif"}, {".ico", "image/x-icon"},
      {".woff", "font/woff"}, {".woff2", "font/woff2"}, {".ttf", "font/ttf"},
      {".otf", "font/otf"}, {".wasm", "application/wasm"}, {".pdf", "application/pdf"},
      {".webmanifest", "application/manifest+json"}, {".mp4", "video/mp4"},
      {".webm", "video/webm"}, {".mp3", "audio/mpeg"},
  };
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext;
  for (char c : path.substr(dot)) ext.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : c);
  for (const auto &t : types) {
    if (ext == t.ext) return t.type;
  }
  return "application/octet-stream";
}

std::shared_ptr<const AssetManifest> AssetManifest::parse(std::string_view json,
                                                          std::string_view metadata,
                                                          std::string *err) {
  if (json.size() > kMaxJsonBytes) {
    *err = "the assets field is " + std::to_string(json.size()) + " bytes, more than " +
           std::to_string(kMaxJsonBytes >> 20) + " MiB";
    return nullptr;
  }
  json_error_t error;
  JsonPtr root(json_loadb(json.data(), json.size(), 0, &error), json_decref);
  if (!root || !json_is_object(root.get())) {
    *err = "the assets field is not a JSON object";
    return nullptr;
  }
  auto m = std::make_shared<AssetManifest>();
  json_t *manifest = json_object_get(root.get(), "manifest");
  if (manifest != nullptr && !json_is_object(manifest)) {
    *err = "assets.manifest is not an object";
    return nullptr;
  }
  if (json_object_size(manifest) > kMaxEntries) {
    *err = "assets.manifest has more than " + std::to_string(kMaxEntries) + " entries";
    return nullptr;
  }
  const char *path;
  json_t *entry;
  json_object_foreach(manifest, path, entry) {
    const char *hash = json_string_value(json_object_get(entry, "hash"));
    json_t *size = json_object_get(entry, "size");
    if (path[0] != '/' || hash == nullptr || !asset_hash_valid(hash)) {
      *err = std::string("assets.manifest entry \"") + path +
             "\" needs a path starting with / and a hash of 32 lowercase hex digits";
      return nullptr;
    }
    Entry e;
    e.hash = hash;
    for (size_t k = 0; k < 32; k++) {
      uint64_t &half = k < 16 ? e.key_hi : e.key_lo;
      half = half << 4 | uint64_t(hex_value(hash[k]));
    }
    e.size = json_is_integer(size) && json_integer_value(size) > 0
                 ? uint64_t(json_integer_value(size)) : 0;
    m->longest_ = std::max(m->longest_, strlen(path));
    m->bytes_ += strlen(path) + sizeof(Entry) + 64;
    auto placed = m->entries_.emplace(path, std::move(e)).first;
    placed->second.path = &placed->first;  // nodes do not move on rehash
  }

  json_t *config = json_object_get(root.get(), "config");
  if (!choose(config, "html_handling",
              {{"auto-trailing-slash", HtmlHandling::kAutoTrailingSlash},
               {"force-trailing-slash", HtmlHandling::kForceTrailingSlash},
               {"drop-trailing-slash", HtmlHandling::kDropTrailingSlash},
               {"none", HtmlHandling::kNone}},
              &m->html_, err) ||
      !choose(config, "not_found_handling",
              {{"none", NotFound::kNone},
               {"single-page-application", NotFound::kSinglePage},
               {"404-page", NotFound::kPage404}},
              &m->not_found_, err)) {
    return nullptr;
  }
  json_t *first = json_object_get(config, "run_worker_first");
  if (json_is_boolean(first)) {
    m->worker_first_ = json_is_true(first);
  } else if (json_is_array(first)) {
    if (json_array_size(first) > kMaxRules) {
      *err = "assets run_worker_first has more than " + std::to_string(kMaxRules) + " rules";
      return nullptr;
    }
    size_t i;
    json_t *r;
    json_array_foreach(first, i, r) {
      const char *rule = json_string_value(r);
      if (rule == nullptr || strlen(rule) > 256 || (rule[0] != '/' && strncmp(rule, "!/", 2) != 0)) {
        *err = "assets run_worker_first rules start with / or !/ (at most 256 bytes)";
        return nullptr;
      }
      if (rule[0] == '!') {
        m->asset_rules_.emplace_back(rule + 1);
      } else {
        m->user_rules_.emplace_back(rule);
      }
    }
  } else if (first != nullptr && !json_is_null(first)) {
    *err = "assets run_worker_first is a boolean or an array of rules";
    return nullptr;
  }

  // _redirects and _headers as the management API took them: a line that
  // is not a rule was told then and is skipped now.
  std::vector<AssetRules::Problem> problems;
  std::string refusal;
  json_t *redirects = json_object_get(config, "_redirects");
  json_t *headers = json_object_get(config, "_headers");
  if (json_is_string(redirects)) {
    m->rules_.parse_redirects({json_string_value(redirects), json_string_length(redirects)},
                              m->html_ == HtmlHandling::kNone, &problems);
  }
  if (json_is_string(headers)) {
    m->rules_.parse_headers({json_string_value(headers), json_string_length(headers)}, false,
                            &problems, &refusal);
  }
  m->bytes_ += m->rules_.bytes();

  // Whether a browser's navigation that matches nothing gets
  // not_found_handling rather than the worker: by compatibility date, or
  // the flags that turn it on or off.
  if (!metadata.empty()) {
    JsonPtr meta(json_loadb(metadata.data(), metadata.size(), 0, &error), json_decref);
    const char *date = json_string_value(json_object_get(meta.get(), "compatibility_date"));
    bool on = date != nullptr && strcmp(date, "2025-04-01") >= 0;
    size_t i;
    json_t *flag;
    json_array_foreach(json_object_get(meta.get(), "compatibility_flags"), i, flag) {
      const char *f = json_string_value(flag);
      if (f == nullptr) continue;
      if (strcmp(f, "assets_navigation_prefers_asset_serving") == 0) on = true;
      if (strcmp(f, "assets_navigation_has_no_effect") == 0) on = false;
    }
    m->navigation_prefers_assets_ = on;
  }
  m->bytes_ += json.size();
  return m;
}

const AssetManifest::Entry *AssetManifest::find(const std::string &path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

bool AssetManifest::matches_asset_rule(std::string_view path) const {
  return any_match(asset_rules_, path);
}

bool AssetManifest::matches_worker_rule(std::string_view path) const {
  return any_match(user_rules_, path);
}

AssetManifest::Intent AssetManifest::asset(const Entry *e, int status) const {
  Intent i;
  i.kind = Intent::Kind::kAsset;
  i.asset = e;
  i.status = status;
  return i;
}

AssetManifest::Intent AssetManifest::resolve(const std::string &path, bool with_not_found) const {
  return intent(path, false, with_not_found);
}

AssetManifest::Intent AssetManifest::not_found_intent(const std::string &path) const {
  if (not_found_ == NotFound::kSinglePage) {
    if (const Entry *e = find("/index.html")) return asset(e);
  } else if (not_found_ == NotFound::kPage404) {
    // The nearest 404.html above the path, up to the root's. Only a
    // directory that fits in the manifest's longest path is looked up: a
    // path of n segments (env.ASSETS takes any length) cost n lookups of
    // keys up to its length, and 120,000 "a/" held the worker 35 s.
    static constexpr std::string_view kPage = "/404.html";
    std::string_view dir = path;
    std::string candidate;
    while (!dir.empty()) {
      size_t slash = dir.rfind('/');
      dir = dir.substr(0, slash == std::string_view::npos ? 0 : slash);
      if (dir.size() + kPage.size() > longest_) continue;
      candidate.assign(dir.data(), dir.size()).append(kPage.data(), kPage.size());
      if (const Entry *e = find(candidate)) return asset(e, 404);
    }
  }
  return Intent();
}

bool AssetManifest::redirect(const std::string &file, const std::string &destination, bool skip,
                             bool with_not_found, Intent *out) const {
  if (skip || find(destination) != nullptr) return false;
  const Entry *target = find(file);
  if (target == nullptr) return false;
  Intent there = intent(destination, true, with_not_found);
  if (there.kind != Intent::Kind::kAsset || there.asset->hash != target->hash) return false;
  out->kind = Intent::Kind::kRedirect;
  out->asset = nullptr;
  out->location = destination;
  return true;
}

AssetManifest::Intent AssetManifest::intent(const std::string &p, bool skip,
                                            bool with_not_found) const {
  Intent r;
  const Entry *exact = find(p);
  auto nf = [&]() { return with_not_found ? not_found_intent(p) : Intent(); };
  auto redirect_to = [&](const std::string &file, const std::string &dest) {
    return redirect(file, dest, skip, with_not_found, &r);
  };

  switch (html_) {
    case HtmlHandling::kNone:
      return exact ? asset(exact) : nf();

    case HtmlHandling::kAutoTrailingSlash:
      if (ends_with(p, "/index")) {
        if (exact) return asset(exact);
        if (redirect_to(p + ".html", cut(p, 5))) return r;
        if (redirect_to(cut(p, 6) + ".html", cut(p, 6))) return r;
      } else if (ends_with(p, "/index.html")) {
        if (redirect_to(p, cut(p, 10))) return r;
        if (redirect_to(cut(p, 11) + ".html", cut(p, 11))) return r;
      } else if (ends_with(p, "/")) {
        if (const Entry *e = find(p + "index.html")) return asset(e);
        if (redirect_to(cut(p, 1) + ".html", cut(p, 1))) return r;
      } else if (ends_with(p, ".html")) {
        if (redirect_to(p, cut(p, 5))) return r;
        if (redirect_to(cut(p, 5) + "/index.html", cut(p, 5) + "/")) return r;
      }
      if (exact) return asset(exact);
      if (const Entry *e = find(p + ".html")) return asset(e);
      if (redirect_to(p + "/index.html", p + "/")) return r;
      return nf();

    case HtmlHandling::kForceTrailingSlash:
      if (ends_with(p, "/index")) {
        if (exact) return asset(exact);
        if (redirect_to(p + ".html", cut(p, 5))) return r;
        if (redirect_to(cut(p, 6) + ".html", cut(p, 5))) return r;
      } else if (ends_with(p, "/index.html")) {
        if (redirect_to(p, cut(p, 10))) return r;
        if (redirect_to(cut(p, 11) + ".html", cut(p, 10))) return r;
      } else if (ends_with(p, "/")) {
        if (const Entry *e = find(p + "index.html")) return asset(e);
        if (const Entry *e = find(cut(p, 1) + ".html")) return asset(e);
      } else if (ends_with(p, ".html")) {
        if (redirect_to(p, cut(p, 5) + "/")) return r;
        if (exact) return asset(exact);
        if (redirect_to(cut(p, 5) + "/index.html", cut(p, 5) + "/")) return r;
      }
      if (exact) return asset(exact);
      if (redirect_to(p + ".html", p + "/")) return r;
      if (redirect_to(p + "/index.html", p + "/")) return r;
      return nf();

    case HtmlHandling::kDropTrailingSlash:
      if (ends_with(p, "/index")) {
        if (exact) return asset(exact);
        if (p == "/index") {
          if (redirect_to("/index.html", "/")) return r;
        } else {
          if (redirect_to(cut(p, 6) + ".html", cut(p, 6))) return r;
          if (redirect_to(p + ".html", cut(p, 6))) return r;
        }
      } else if (ends_with(p, "/index.html")) {
        if (p == "/index.html") {
          if (redirect_to("/index.html", "/")) return r;
        } else {
          if (redirect_to(p, cut(p, 11))) return r;
          if (exact) return asset(exact);
          if (redirect_to(cut(p, 11) + ".html", cut(p, 11))) return r;
        }
      } else if (ends_with(p, "/")) {
        if (p == "/") {
          if (const Entry *e = find("/index.html")) return asset(e);
        } else {
          if (redirect_to(cut(p, 1) + ".html", cut(p, 1))) return r;
          if (redirect_to(cut(p, 1) + "/index.html", cut(p, 1))) return r;
        }
      } else if (ends_with(p, ".html")) {
        if (redirect_to(p, cut(p, 5))) return r;
        if (redirect_to(cut(p, 5) + "/index.html", cut(p, 5))) return r;
      }
      if (exact) return asset(exact);
      if (const Entry *e = find(p + ".html")) return asset(e);
      if (const Entry *e = find(p + "/index.html")) return asset(e);
      return nf();
  }
  return nf();
}

}  // namespace dispatch

#include "asset_server.h"

#include <cstring>

#include "asset_manifest.h"
#include "asset_rules.h"
#include "asset_store.h"
#include "engine.h"
#include "request_scope.h"
#include "script_store.h"

namespace dispatch {

namespace {

// Cloudflare's: a browser revalidates every time, with the ETag.
constexpr char kCacheControl[] = "public, max-age=0, must-revalidate";

using Intent = AssetManifest::Intent;
using Field = std::pair<std::string_view, std::string_view>;

// The first value of a header (name in lower case) in the request's block
// of "\0name:value" fields; false when there is none. No allocation: this
// runs for every request to a script with assets.
bool request_header(const RequestScope &scope, std::string_view name, std::string_view *value) {
  std::string_view block = scope.head.header_block();
  size_t from = 0;
  while (true) {
    size_t at = block.find(name, from);
    if (at == std::string_view::npos) return false;
    size_t after = at + name.size();
    if (at > 0 && block[at - 1] == '\0' && after < block.size() && block[after] == ':') {
      size_t end = block.find('\0', after + 1);
      *value = block.substr(after + 1, end == std::string_view::npos ? std::string_view::npos
                                                                    : end - after - 1);
      return true;
    }
    from = at + 1;
  }
}

// _headers of the request: its rules and what they match.
struct Custom {
  const AssetRules *rules = nullptr;
  std::string host, path;
};

// The response's status and headers, in the block the host reads.
template <typename Fields>
void write_head(RequestScope &scope, int status, const Fields &headers) {
  scope.status = status;
  scope.status_text.clear();
  std::string &block = scope.response_header_block;
  size_t bytes = 0;
  for (const Field &h : headers) bytes += h.first.size() + h.second.size() + 2;
  block.clear();
  block.reserve(bytes);
  for (const Field &h : headers) {
    if (h.first.empty()) continue;  // left out
    block.append(h.first.data(), h.first.size()).push_back('\0');
    block.append(h.second.data(), h.second.size()).push_back('\0');
  }
  scope.header_views.clear();
  const char *p = block.data();
  for (const Field &h : headers) {
    if (h.first.empty()) continue;
    const char *value = p + h.first.size() + 1;
    scope.header_views.push_back({{p, h.first.size()}, {value, h.second.size()}});
    p = value + h.second.size() + 1;
  }
}

// The head, with what the script's _headers says for the request.
void set_head(RequestScope &scope, int status, std::initializer_list<Field> headers,
              const Custom &custom) {
  if (custom.rules == nullptr || !custom.rules->has_headers()) {
    write_head(scope, status, headers);
    return;
  }
  AssetRules::HeaderList list;
  for (const Field &h : headers) {
    if (!h.first.empty()) list.emplace_back(std::string(h.first), std::string(h.second));
  }
  custom.rules->apply_headers(custom.host, custom.path, &list);
  std::vector<Field> fields(list.begin(), list.end());
  write_head(scope, status, fields);
}

void answer(Engine &engine, RequestScope &scope, const Custom &custom, int status,
            std::initializer_list<Field> headers = {}) {
  set_head(scope, status, headers, custom);
  scope.response_body.clear();
  engine.respond(scope, DISPATCH_OUTCOME_OK);
}

// The origin ("scheme://host[:port]", lower case) and host name (no port)
// of a request's URL.
void url_origin(std::string_view url, std::string *origin, std::string *host) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return;
  size_t end = url.find_first_of("/?#", scheme + 3);
  origin->assign(url.substr(0, end));
  for (char &c : *origin) {
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  }
  host->assign(*origin, scheme + 3, std::string::npos);
  size_t colon = host->rfind(':');
  if (colon != std::string::npos && host->find(']', colon) == std::string::npos) host->resize(colon);
}

// The answer for an asset whose content is at hand.
void answer_content(Engine &engine, RequestScope &scope, const Custom &custom, const std::string &hash,
                    int status, const std::string &path,
                    const std::shared_ptr<const AssetContent> &held) {
  const AssetContent &content = *held;
  char etag[40];
  size_t etag_len = size_t(snprintf(etag, sizeof etag, "\"%s\"", hash.c_str()));
  std::string_view tag(etag, etag_len);
  std::string_view type = content.type.empty() ? std::string_view(asset_type_by_extension(path))
                                               : std::string_view(content.type);
  std::string_view ignored;
  bool cacheable = !request_header(scope, "authorization", &ignored) &&
                   !request_header(scope, "range", &ignored);
  Field cache_control = cacheable ? Field("cache-control", kCacheControl) : Field();
  std::string_view if_none_match;
  if (request_header(scope, "if-none-match", &if_none_match) &&
      (if_none_match == tag ||
       (if_none_match.size() == tag.size() + 2 && if_none_match.compare(0, 2, "W/") == 0 &&
        if_none_match.substr(2) == tag))) {
    answer(engine, scope, custom, 304, {{"etag", tag}, {"content-type", type}, cache_control});
    return;
  }
  set_head(scope, status, {{"etag", tag}, {"content-type", type}, cache_control}, custom);
  // A HEAD from the host: nginx sends the head only, with the length of
  // this body; a dispatched one reaches its caller without a body.
  scope.response_body.clear();
  if (scope.head.method() != "HEAD" || scope.host_ctx != nullptr) {
    scope.shared_body = std::shared_ptr<const std::string>(held, &content.body);
  }
  engine.respond(scope, DISPATCH_OUTCOME_OK);
}

}  // namespace

bool serve_assets(Engine &engine, RequestScope &scope, const std::shared_ptr<const ScriptSource> &script) {
  const AssetManifest *m = script->assets.get();
  bool worker = !script->code.empty() && !scope.assets_only;
  if (m == nullptr) {
    // A worker, or an empty one, answers (or fails) as ever; env.ASSETS of
    // a script with no files is 404.
    if (!scope.assets_only) return false;
    answer(engine, scope, Custom(), 404);
    return true;
  }
  std::string path, search;
  asset_split_url(scope.head.url(), &path, &search);
  const AssetRules &rules = m->rules();
  Custom custom;
  std::string origin;
  if (rules.has_headers() || rules.has_redirects()) {
    custom.rules = &rules;
    custom.path = path;
    url_origin(scope.head.url(), &origin, &custom.host);
  }
  // _redirects, before the asset lookup wherever the asset server gets
  // the request: true when it answered; a 200 rule rewrites the path the
  // asset is looked up with.
  std::string served = path;
  bool rewritten = false;
  auto redirected = [&]() {
    if (!rules.has_redirects()) return false;
    AssetRules::Redirect r = rules.redirect(origin, custom.host, path, search);
    if (r.status == 200) {
      served = r.rewrite;
      rewritten = true;
    } else if (r.status != 0) {
      answer(engine, scope, custom, r.status, {{"location", r.location}});
      return true;
    }
    return false;
  };
  Intent intent;
  if (worker) {
    // run_worker_first as rules: "!/…" ones first, as Cloudflare's router.
    bool static_routing = m->has_static_routing();
    if (static_routing && m->matches_asset_rule(path)) {
      if (redirected()) return true;
      intent = m->resolve(asset_decode_path(served));
    } else if ((static_routing && m->matches_worker_rule(path)) || m->run_worker_first()) {
      return false;
    } else {
      if (redirected()) return true;
      // Without rules, not_found_handling does not keep a miss from the
      // worker, except for a browser's navigation when the script's
      // compatibility says so. A path a 200 rule rewrote is the assets'
      // (404 when it names none).
      std::string_view mode;
      bool with_not_found = static_routing || (m->navigation_prefers_assets() &&
                                               request_header(scope, "sec-fetch-mode", &mode) &&
                                               mode == "navigate");
      intent = m->resolve(asset_decode_path(served), with_not_found);
      if (intent.kind == Intent::Kind::kNone && !rewritten) return false;
    }
  } else {
    if (redirected()) return true;
    intent = m->resolve(asset_decode_path(served));
  }

  if (intent.kind == Intent::Kind::kNone) {
    answer(engine, scope, custom, 404);
    return true;
  }
  std::string_view method = scope.head.method();
  if (method != "GET" && method != "HEAD") {
    answer(engine, scope, custom, 405);
    return true;
  }
  if (intent.kind == Intent::Kind::kRedirect) {
    answer(engine, scope, custom, 307, {{"location", asset_encode_path(intent.location) + search}});
    return true;
  }
  std::string encoded = asset_encode_path(asset_decode_path(served));
  if (encoded != served) {
    answer(engine, scope, custom, 307, {{"location", encoded + search}});
    return true;
  }

  const AssetManifest::Entry *entry = intent.asset;
  int status = intent.status;
  if (auto content = engine.assets().cached(script->ns, script->name, script->created_on,
                                            entry->key_hi, entry->key_lo)) {
    answer_content(engine, scope, custom, entry->hash, status, *entry->path, content);
    return true;
  }
  uint64_t id = scope.id;
  Engine *e = &engine;
  // script is held by the callback: entry stays valid.
  engine.assets().get(script->ns, script->name, script->created_on, entry->hash, entry->key_hi,
                      entry->key_lo, [e, id, status, entry, script, custom](std::shared_ptr<const AssetContent> content,
                                                     const std::string &error) {
    RequestScope *s = e->find(id);
    if (s == nullptr || s->responded()) return;
    if (content) {
      answer_content(*e, *s, custom, entry->hash, status, *entry->path, content);
    } else if (!error.empty()) {
      e->log(*s, DISPATCH_LOG_ERR, "cannot read asset " + *entry->path + ": " + error);
      e->respond(*s, DISPATCH_OUTCOME_STORE_UNAVAILABLE);
    } else {
      e->log(*s, DISPATCH_LOG_ERR, "asset " + *entry->path + " (" + entry->hash +
             ") is in the script's manifest but not in Redis");
      e->respond(*s, DISPATCH_OUTCOME_EXCEPTION);
    }
  });
  return true;
}

}  // namespace dispatch

#include "asset_server.h"

#include "asset_manifest.h"
#include "asset_store.h"
#include "engine.h"
#include "request_scope.h"
#include "script_store.h"

namespace dispatch {

namespace {

// Cloudflare's: a browser revalidates every time, with the ETag.
constexpr char kCacheControl[] = "public, max-age=0, must-revalidate";

// The first value of a header (name in lower case) in the request's block
// of "\0name:value" fields; false when there is none.
bool request_header(const RequestScope &scope, std::string_view name, std::string_view *value) {
  std::string_view block = scope.head.header_block();
  std::string needle;
  needle.reserve(name.size() + 2);
  needle.push_back('\0');
  needle.append(name.data(), name.size());
  needle.push_back(':');
  size_t at = block.find(needle);
  if (at == std::string_view::npos) return false;
  size_t start = at + needle.size();
  size_t end = block.find('\0', start);
  *value = block.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  return true;
}

bool is_get_or_head(std::string_view method) { return method == "GET" || method == "HEAD"; }

// The response's status and headers, in the block the host reads.
void set_head(RequestScope &scope, int status,
              const std::vector<std::pair<std::string, std::string>> &headers) {
  scope.status = status;
  scope.status_text.clear();
  std::string &block = scope.response_header_block;
  block.clear();
  for (const auto &h : headers) {
    block += h.first;
    block.push_back('\0');
    block += h.second;
    block.push_back('\0');
  }
  scope.header_views.clear();
  const char *p = block.data();
  for (const auto &h : headers) {
    const char *value = p + h.first.size() + 1;
    scope.header_views.push_back({{p, h.first.size()}, {value, h.second.size()}});
    p = value + h.second.size() + 1;
  }
}

void answer(Engine &engine, RequestScope &scope, int status,
            const std::vector<std::pair<std::string, std::string>> &headers = {}) {
  set_head(scope, status, headers);
  scope.response_body.clear();
  engine.respond(scope, DISPATCH_OUTCOME_OK);
}

}  // namespace

bool assets_first(const RequestScope &scope, const ScriptSource &script) {
  if (scope.assets_only || script.code.empty()) return true;
  const AssetManifest &m = *script.assets;
  std::string path, search;
  asset_split_url(scope.head.url(), &path, &search);
  // run_worker_first as rules: "!/…" ones first, as Cloudflare's router.
  if (m.has_static_routing()) {
    if (m.matches_asset_rule(path)) return true;
    if (m.matches_worker_rule(path)) return false;
  }
  if (m.run_worker_first()) return false;
  // Without rules, not_found_handling does not keep a miss from the
  // worker, except for a browser's navigation when the script's
  // compatibility says so.
  std::string_view mode;
  bool with_not_found = m.has_static_routing() ||
                        (m.navigation_prefers_assets() &&
                         request_header(scope, "sec-fetch-mode", &mode) && mode == "navigate");
  return m.resolve(asset_decode_path(path), with_not_found).kind !=
         AssetManifest::Intent::Kind::kNone;
}

void serve_assets(Engine &engine, RequestScope &scope, std::shared_ptr<const ScriptSource> script) {
  if (!script->assets) {  // env.ASSETS of a script with none
    answer(engine, scope, 404);
    return;
  }
  const AssetManifest &m = *script->assets;
  std::string path, search;
  asset_split_url(scope.head.url(), &path, &search);
  std::string decoded = asset_decode_path(path);
  AssetManifest::Intent intent = m.resolve(decoded);
  using Kind = AssetManifest::Intent::Kind;
  if (intent.kind == Kind::kNone) {
    answer(engine, scope, 404);
    return;
  }
  std::string_view method = scope.head.method();
  if (!is_get_or_head(method)) {
    answer(engine, scope, 405);
    return;
  }
  std::string encoded = asset_encode_path(intent.kind == Kind::kRedirect ? intent.location : decoded);
  if (intent.kind == Kind::kRedirect || encoded != path) {
    answer(engine, scope, 307, {{"location", encoded + search}});
    return;
  }

  const AssetManifest::Entry *entry = intent.asset;
  uint64_t id = scope.id;
  int status = intent.status;
  std::string hash = entry->hash;
  const std::string *asset_path = entry->path;
  // script is held by the callback: entry and asset_path stay valid.
  engine.assets().get(script->ns, script->name, script->created_on, hash,
                      [&engine, id, status, hash, asset_path, script](
                          std::shared_ptr<const AssetContent> content, const std::string &error) {
    RequestScope *s = engine.find(id);
    if (s == nullptr || s->responded()) return;
    if (!content) {
      if (!error.empty()) {
        engine.log(*s, DISPATCH_LOG_ERR, "cannot read asset " + *asset_path + ": " + error);
        engine.respond(*s, DISPATCH_OUTCOME_STORE_UNAVAILABLE);
      } else {
        engine.log(*s, DISPATCH_LOG_ERR, "asset " + *asset_path + " (" + hash +
                   ") is in the script's manifest but not in Redis");
        engine.respond(*s, DISPATCH_OUTCOME_EXCEPTION);
      }
      return;
    }
    std::string etag = "\"" + hash + "\"";
    std::vector<std::pair<std::string, std::string>> headers = {
        {"etag", etag},
        {"content-type", content->type.empty() ? asset_type_by_extension(*asset_path)
                                               : content->type}};
    std::string_view ignored;
    if (!request_header(*s, "authorization", &ignored) && !request_header(*s, "range", &ignored)) {
      headers.emplace_back("cache-control", kCacheControl);
    }
    std::string_view if_none_match;
    if (request_header(*s, "if-none-match", &if_none_match) &&
        (if_none_match == etag || if_none_match == "W/" + etag)) {
      answer(engine, *s, 304, headers);
      return;
    }
    set_head(*s, status, headers);
    // A HEAD from the host: nginx sends the head only, with the length of
    // this body; a dispatched one reaches its caller without a body.
    bool body = s->head.method() != "HEAD" || s->host_ctx != nullptr;
    if (body) {
      s->response_body = content->body;
    } else {
      s->response_body.clear();
    }
    engine.respond(*s, DISPATCH_OUTCOME_OK);
  });
}

}  // namespace dispatch

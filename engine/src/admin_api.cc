#include "admin_api.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <set>

#include "asset_upload.h"
#include "engine.h"
#include "script_store.h"
#include "tenant_isolate.h"
#include "upload.h"

namespace dispatch {

namespace {

using JsonPtr = std::unique_ptr<json_t, void (*)(json_t *)>;
JsonPtr own(json_t *j) { return JsonPtr(j, json_decref); }

// Cloudflare's error codes where it has one for the case; the rest are ours.
constexpr int kCodeNotFound = 10007;
constexpr int kCodeValidation = 10021;
constexpr int kCodeConflict = 10014;
constexpr int kCodeStore = 10013;
constexpr int kCodeNoRoute = 7003;
constexpr int kCodeMethod = 10405;
constexpr int kCodeUnsupported = 10001;
constexpr int kCodeAuth = 10000;

constexpr size_t kMaxTags = 8;
constexpr long kDefaultListLimit = 1000;

const char kNamespacesKey[] = "dispatch:namespaces";

std::string scripts_key(const std::string &ns) { return "dispatch:{" + ns + "}:scripts"; }
std::string record_key(const std::string &ns) { return "dispatch:{" + ns + "}:namespace"; }
// Which namespace holds the KV data made under the name ns (set when a
// namespace is renamed away from it or deleted: its KV data stays). With
// the KV data, which outlives the namespace's own keys, and under the
// pattern a tier's Redis ACL user has for it (dispatch:kv:{NS/*).
std::string kv_held_key(const std::string &ns) { return "dispatch:kv:{" + ns + "/}:held-by"; }

// Static assets (admin_api.h lists them)
std::string asset_key(const std::string &ns, const std::string &name, const std::string &hash) {
  return "dispatch:{" + ns + "}:asset:" + name + ":" + hash;
}
std::string asset_index_key(const std::string &ns, const std::string &name) {
  return "dispatch:{" + ns + "}:asset-index:" + name;
}
std::string session_key(const std::string &ns, const std::string &sid) {
  return "dispatch:{" + ns + "}:assets-session:" + sid;
}
std::string pending_key(const std::string &ns, const std::string &sid) {
  return session_key(ns, sid) + ":pending";
}
std::string session_hashes_key(const std::string &ns, const std::string &sid) {
  return session_key(ns, sid) + ":hashes";
}
std::string asset_live_key(const std::string &ns, const std::string &name) {
  return "dispatch:{" + ns + "}:asset-live:" + name;
}
std::string script_sessions_key(const std::string &ns, const std::string &name) {
  return "dispatch:{" + ns + "}:assets-sessions:" + name;
}


std::string now_iso() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", ts.tv_nsec / 1000);
  return buf;
}

std::string hex(const unsigned char *p, size_t n) { return hex_encode(p, n); }

std::string sha256_hex(const std::vector<std::string> &parts) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return "";
  for (const auto &p : parts) {
    EVP_DigestUpdate(ctx.get(), p.data(), p.size());
    EVP_DigestUpdate(ctx.get(), "", 1);  // a separator no part can forge
  }
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return hex(md, len);
}

std::string sha1_hex(const std::string &s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), md, &len, EVP_sha1(), nullptr) != 1) return "";
  return hex(md, len);
}

std::string uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    std::string fallback = sha256_hex({now_iso()});
    memcpy(b, fallback.data(), sizeof(b));
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string h = hex(b, sizeof(b));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20);
}

// The KV name of a namespace made now under the name ns: ns itself, unless
// a renamed namespace still holds the KV data made under that name; then a
// name of its own (under ns's prefix, as a tier's Redis ACL user allows),
// or the newcomer would read and write the renamed namespace's data.
std::string fresh_kv_name(const std::string &ns, const RedisValue &held) {
  if (held.type != REDIS_REPLY_STRING || held.str.empty() || held.str == ns) return ns;
  return ns + "/" + uuid();
}

std::string percent_decode(const std::string &s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    auto val = [](char h) {
      return h >= '0' && h <= '9' ? h - '0'
           : h >= 'a' && h <= 'f' ? h - 'a' + 10
           : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    };
    if (c == '%' && i + 2 < s.size() + 0 && val(s[i + 1]) >= 0 && val(s[i + 2]) >= 0) {
      out += char(val(s[i + 1]) * 16 + val(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool name_valid(const std::string &s) { return dispatch_name_valid(s.data(), s.size()); }

bool secret_name_valid(const std::string &s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string dump(const json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  std::string out = s ? s : "null";
  free(s);
  return out;
}

JsonPtr parse_metadata(const std::string &text) {
  if (text.empty()) return own(json_object());
  JsonPtr meta = own(json_loadb(text.data(), text.size(), 0, nullptr));
  if (!meta || !json_is_object(meta.get())) return own(json_object());
  return meta;
}

json_t *str_or_null(const std::map<std::string, std::string> &m, const char *field) {
  auto it = m.find(field);
  return it == m.end() || it->second.empty() ? json_null() : json_string(it->second.c_str());
}

json_t *copy_or(json_t *meta, const char *field, json_t *fallback) {
  json_t *v = json_object_get(meta, field);
  if (v == nullptr) return fallback;
  json_decref(fallback);
  return json_deep_copy(v);
}

// The bindings as the API shows them: a secret's value never.
json_t *shown_bindings(json_t *meta) {
  json_t *out = json_array();
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(meta, "bindings"), i, b) {
    json_t *copy = json_deep_copy(b);
    const char *type = json_string_value(json_object_get(b, "type"));
    if (type && strcmp(type, "secret_text") == 0) {
      json_object_del(copy, "text");
      json_object_del(copy, "sealed");
    }
    json_array_append_new(out, copy);
  }
  return out;
}

// The first `shown` bytes of text, with the value of each of meta's secrets
// replaced by [secret NAME] (the longest where several start at one byte;
// one that starts there is replaced whole, even where it runs on past
// `shown`): what a script's top level threw may hold its secrets, and no
// answer shows a secret's value. Values under kMinRedacted bytes stay
// (they would mark every such run of letters); so does a value the script
// encoded first: the script reads its secrets anyway, and a version it
// deploys can answer them. A value's start that ends the text, or runs
// into the "..." where the engine cut a long message, is replaced too.
// Found by KMP, linear in the text and the values whatever either holds
// (the uploader chooses both).
constexpr size_t kMinRedacted = 4;

std::string redact_secrets(const SecretSeal &seal, json_t *meta, const std::string &text,
                           size_t shown) {
  size_t end = std::min(text.size(), shown);
  std::vector<std::string> marks;
  std::vector<std::pair<size_t, size_t>> best(end, {0, 0});  // length, mark + 1
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(meta, "bindings"), i, b) {
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *name = json_string_value(json_object_get(b, "name"));
    std::string v, err;
    if (!type || strcmp(type, "secret_text") != 0 || !name || !seal.open_binding(b, &v, &err) ||
        v.size() < kMinRedacted) {
      continue;
    }
    marks.push_back(std::string("[secret ") + name + "]");
    std::vector<size_t> fail(v.size(), 0);
    for (size_t q = 1, k = 0; q < v.size(); q++) {
      while (k && v[q] != v[k]) k = fail[k - 1];
      if (v[q] == v[k]) k++;
      fail[q] = k;
    }
    auto found = [&](size_t at, size_t len) {
      if (at < end && len > best[at].first) best[at] = {len, marks.size()};
    };
    size_t last = std::min(text.size(), end + v.size() - 1);
    size_t k = 0;
    for (size_t p = 0; p < last; p++) {
      // the engine cut the text there ("..." follows): a value's start too
      if (k >= kMinRedacted && text.compare(p, 3, "...") == 0) found(p - k, k);
      while (k && text[p] != v[k]) k = fail[k - 1];
      if (text[p] == v[k]) k++;
      if (k == v.size()) {
        found(p + 1 - k, k);
        k = fail[k - 1];
      }
    }
    if (last == text.size() && k >= kMinRedacted) found(last - k, k);
  }
  std::string out;
  for (size_t at = 0; at < end;) {
    if (best[at].first) {
      out += marks[best[at].second - 1];
      at += best[at].first;
    } else {
      out += text[at++];
    }
  }
  return out;
}

std::vector<std::string> tags_of(json_t *meta) {
  std::vector<std::string> tags;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(meta, "tags"), i, t) {
    if (json_is_string(t)) tags.emplace_back(json_string_value(t));
  }
  return tags;
}

json_t *script_object(const std::string &name, const std::map<std::string, std::string> &f,
                      json_t *meta) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(name.c_str()));
  json_object_set_new(o, "etag", str_or_null(f, "etag"));
  json_object_set_new(o, "created_on", str_or_null(f, "created_on"));
  json_object_set_new(o, "modified_on", str_or_null(f, "modified_on"));
  json_object_set_new(o, "tags", copy_or(meta, "tags", json_null()));
  json_object_set_new(o, "compatibility_date", copy_or(meta, "compatibility_date", json_null()));
  json_object_set_new(o, "compatibility_flags",
                      copy_or(meta, "compatibility_flags", json_array()));
  json_object_set_new(o, "handlers", json_pack("[s]", "fetch"));
  json_object_set_new(o, "usage_model", copy_or(meta, "usage_model", json_string("standard")));
  json_object_set_new(o, "logpush", json_false());
  auto format = f.find("format");
  json_object_set_new(o, "has_modules",
                      json_boolean(format == f.end() || format->second != "service-worker"));
  json_object_set_new(o, "has_assets", json_boolean(f.count("has_assets") != 0));
  return o;
}

json_t *settings_object(json_t *meta) {
  json_t *o = json_object();
  json_object_set_new(o, "bindings", shown_bindings(meta));
  json_object_set_new(o, "compatibility_date", copy_or(meta, "compatibility_date", json_null()));
  json_object_set_new(o, "compatibility_flags",
                      copy_or(meta, "compatibility_flags", json_array()));
  json_object_set_new(o, "limits", copy_or(meta, "limits", json_object()));
  json_object_set_new(o, "tags", copy_or(meta, "tags", json_null()));
  json_object_set_new(o, "usage_model", copy_or(meta, "usage_model", json_string("standard")));
  json_object_set_new(o, "logpush", json_false());
  json_object_set_new(o, "placement", json_object());
  json_object_set_new(o, "tail_consumers", json_array());
  return o;
}

// The bindings a new version gets: the given ones ("inherit" takes the old
// binding of that name), plus the old secrets and the old ones whose type
// keep_bindings names, whose names the new ones do not use.
bool merge_bindings(json_t *given, json_t *old_meta, const std::vector<std::string> &keep,
                    json_t **out, std::string *err) {
  JsonPtr merged = own(json_array());
  std::set<std::string> names;
  json_t *old = json_object_get(old_meta, "bindings");
  auto old_named = [&](const char *name) -> json_t * {
    size_t i;
    json_t *b;
    json_array_foreach(old, i, b) {
      const char *n = json_string_value(json_object_get(b, "name"));
      if (n && strcmp(n, name) == 0) return b;
    }
    return nullptr;
  };
  size_t i;
  json_t *b;
  json_array_foreach(given, i, b) {
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *type = json_string_value(json_object_get(b, "type"));
    if (type && strcmp(type, "inherit") == 0) {
      json_t *from = old_named(name);
      if (from == nullptr) {
        *err = std::string("binding \"") + name + "\" inherits from a version that has none";
        return false;
      }
      json_array_append(merged.get(), from);
    } else {
      json_array_append(merged.get(), b);
    }
    names.insert(name);
  }
  json_array_foreach(old, i, b) {
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *type = json_string_value(json_object_get(b, "type"));
    if (name == nullptr || type == nullptr || names.count(name)) continue;
    // Secrets outlive deployments that do not name them, as on Workers
    // (set through the secrets endpoint, a deploy never carries them).
    if (strcmp(type, "secret_text") == 0 ||
        std::find(keep.begin(), keep.end(), type) != keep.end()) {
      json_array_append(merged.get(), b);
      names.insert(name);
    }
  }
  *out = merged.release();
  return true;
}

}  // namespace

// ---- RedisValue ---------------------------------------------------------------

bool RedisValue::is_error() const { return type == REDIS_REPLY_ERROR; }

std::map<std::string, std::string> RedisValue::as_hash() const {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < elements.size(); i += 2) {
    out[elements[i].str] = elements[i + 1].str;
  }
  return out;
}

static RedisValue copy_reply(const redisReply *r) {
  RedisValue v;
  v.type = r->type;
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR) {
    v.str.assign(r->str, r->len);
  } else if (r->type == REDIS_REPLY_INTEGER) {
    v.integer = r->integer;
  } else if (r->type == REDIS_REPLY_ARRAY) {
    v.elements.reserve(r->elements);
    for (size_t i = 0; i < r->elements; i++) v.elements.push_back(copy_reply(r->element[i]));
  }
  return v;
}

// ---- the call -----------------------------------------------------------------

AdminCall::AdminCall(Engine &engine, const dispatch_admin_view_t &view)
    : engine_(engine), host_ctx_(view.ctx) {
  auto s = [](const dispatch_str_t &v) {
    return v.data && v.len ? std::string(v.data, v.len) : std::string();
  };
  method_ = s(view.method);
  raw_path_ = s(view.path);
  content_type_in_ = s(view.content_type);
  request_body_ = s(view.body);
  bearer_ = s(view.bearer);
  upload_only_ = view.upload_only != 0;
  verify_only_ = upload_only_ && view.verify_only != 0;
  std::string query = s(view.query);
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string pair = query.substr(pos, amp - pos);
    size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value = eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1), true);
    if (!key.empty()) query_.emplace(key, value);
    pos = amp + 1;
  }
}

std::string AdminCall::query_param(const std::string &name, bool *present) const {
  auto it = query_.find(name);
  if (present) *present = it != query_.end();
  return it == query_.end() ? std::string() : it->second;
}

void AdminCall::answer_raw(int status, const std::string &content_type, std::string body) {
  if (done_) return;
  done_ = true;
  status_ = status;
  content_type_ = content_type;
  body_ = std::move(body);
  if (host_ctx_) engine_.host().wake(host_ctx_);
}

void AdminCall::ok(json_t *result, json_t *result_info, int status) {
  JsonPtr env = own(json_object());
  json_object_set_new(env.get(), "success", json_true());
  json_object_set_new(env.get(), "errors", json_array());
  json_t *messages = json_array();
  for (const std::string &m : messages_) {
    json_array_append_new(messages, json_pack("{s:i,s:s%}", "code", 10000, "message", m.data(), m.size()));
  }
  json_object_set_new(env.get(), "messages", messages);
  json_object_set_new(env.get(), "result", result ? result : json_null());
  if (result_info) json_object_set_new(env.get(), "result_info", result_info);
  answer_raw(status, "application/json", dump(env.get()));
}

void AdminCall::fail(int status, int code, const std::string &message) {
  JsonPtr env = own(json_object());
  json_object_set_new(env.get(), "success", json_false());
  json_object_set_new(env.get(), "errors",
                      json_pack("[{s:i,s:s%}]", "code", code, "message", message.data(),
                                message.size()));
  json_object_set_new(env.get(), "messages", json_array());
  json_object_set_new(env.get(), "result", json_null());
  answer_raw(status, "application/json", dump(env.get()));
}

void AdminCall::redis(std::vector<std::vector<std::string>> cmds, Next next) {
  struct Batch {
    Replies replies;
    size_t left;
    std::string error;
    Next next;
    std::string written;  // the first key a MULTI writes: WAIT goes there
  };
  auto batch = std::make_shared<Batch>();
  bool in_multi = false;
  for (const auto &cmd : cmds) {
    std::string name = redis_command_name(cmd);
    if (name == "MULTI") in_multi = true;
    const std::string *key = redis_routing_key(cmd);
    if (in_multi && key != nullptr && batch->written.empty()) batch->written = *key;
  }
  batch->replies.resize(cmds.size());
  batch->left = cmds.size();
  batch->next = std::move(next);
  auto self = shared_from_this();
  for (size_t i = 0; i < cmds.size(); i++) {
    engine_.redis().command(cmds[i], [self, batch, i](const redisReply *reply,
                                                      const std::string &error) {
      if (reply == nullptr) {
        if (batch->error.empty()) batch->error = error.empty() ? "no reply" : error;
      } else {
        batch->replies[i] = copy_reply(reply);
      }
      if (--batch->left > 0) return;
      if (!batch->error.empty()) {
        self->fail(503, kCodeStore, "the store is unavailable: " + batch->error);
        return;
      }
      // An error inside a transaction aborts it: EXEC answers an error.
      for (const RedisValue &v : batch->replies) {
        if (v.is_error() && v.str.compare(0, 9, "EXECABORT") == 0) {
          self->refused(v.str);
          return;
        }
      }
      if (batch->written.empty()) {
        batch->next(batch->replies);
        return;
      }
      // dispatch_redis wait=N: the change is answered once N replicas have it.
      self->engine_.redis().confirm_writes(batch->written, [self, batch](const std::string &why) {
        if (!why.empty()) {
          return self->fail(503, kCodeStore, "the change is stored but not confirmed by Redis "
                                             "replicas: " + why);
        }
        batch->next(batch->replies);
      });
    });
  }
}

void AdminCall::refused(const std::string &why) {
  std::string message = "the store refused the change: " + why;
  if (undo_.empty()) return fail(503, kCodeStore, message);
  // answered once the undo is done (or failed: it was worth a try)
  auto left = std::make_shared<size_t>(undo_.size());
  auto self = shared_from_this();
  std::vector<std::vector<std::string>> undo;
  undo.swap(undo_);
  for (const auto &cmd : undo) {
    engine_.redis().command(cmd, [self, left, message](const redisReply *, const std::string &) {
      if (--*left == 0) self->fail(503, kCodeStore, message);
    });
  }
}

void AdminCall::changed(const std::vector<std::string> &ns_names, json_t *result) {
  JsonPtr owned = own(result);
  // Every worker of this node looks at the generation before its next
  // request; other nodes hear the PUBLISH.
  const dispatch_host_t &raw = engine_.host().raw();
  if (raw.generation_bump) raw.generation_bump(raw.data);
  if (ns_names.empty()) {
    ok(owned.release());
    return;
  }
  auto self = shared_from_this();
  auto left = std::make_shared<size_t>(ns_names.size());
  auto shared_result = std::make_shared<JsonPtr>(std::move(owned));
  for (const std::string &ns_name : ns_names) {
    engine_.redis().command({"PUBLISH", ScriptStore::kEventsChannel, ns_name},
                            [self, left, shared_result](const redisReply *, const std::string &) {
      // Stored either way: a lost PUBLISH costs other nodes dispatch_cache_ttl.
      if (--*left == 0) self->ok(shared_result->release());
    });
  }
}

json_t *AdminCall::body_json(std::string *err) const {
  json_error_t jerr;
  json_t *j = json_loadb(request_body_.data(), request_body_.size(), 0, &jerr);
  if (j == nullptr) *err = std::string("the body is not valid JSON: ") + jerr.text;
  return j;
}

void AdminCall::start() {
  try {
    route();
  } catch (const std::exception &e) {
    fail(500, kCodeUnsupported, std::string("internal error: ") + e.what());
  }
}

void AdminCall::route() {
  // /accounts/ACCOUNT/workers/dispatch/namespaces[/...]
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= raw_path_.size()) {
    size_t slash = raw_path_.find('/', pos);
    if (slash == std::string::npos) slash = raw_path_.size();
    if (slash > pos) parts.push_back(percent_decode(raw_path_.substr(pos, slash - pos), false));
    pos = slash + 1;
  }
  // wrangler's asset bucket upload: its path names no namespace (the
  // upload token does). The only call a bearer other than the admin token
  // reaches (upload_only_, nginx's check).
  if (parts.size() == 5 && parts[0] == "accounts" && parts[2] == "workers" &&
      parts[3] == "assets" && parts[4] == "upload") {
    if (method_ == "POST") return assets_upload();
    return fail(405, kCodeMethod, "Method not allowed: " + method_);
  }
  if (upload_only_) {
    fail(403, kCodeAuth, "Authentication error");
    return;
  }
  if (parts.size() < 5 || parts[0] != "accounts" || parts[2] != "workers" ||
      parts[3] != "dispatch" || parts[4] != "namespaces") {
    fail(404, kCodeNoRoute, "No route for that URI");
    return;
  }
  segments_.assign(parts.begin() + 5, parts.end());
  const auto &s = segments_;
  const std::string &m = method_;
  auto not_allowed = [&] { fail(405, kCodeMethod, "Method not allowed: " + m); };

  if (s.empty()) {
    if (m == "GET") return namespaces_list();
    if (m == "POST") return namespace_create();
    return not_allowed();
  }
  ns_ = s[0];
  if (!name_valid(ns_)) {
    fail(400, kCodeValidation, "a namespace name is 1-63 characters of a-z 0-9 - _");
    return;
  }
  // A cordon (dispatch_namespaces): another instance's namespace does not
  // exist here, whatever Redis holds, and Redis is not asked.
  if (!engine_.serves(ns_)) {
    fail(404, kCodeNotFound, "the namespace \"" + ns_ + "\" does not exist");
    return;
  }
  if (s.size() == 1) {
    if (m == "GET") return namespace_get();
    if (m == "PUT") return namespace_rename();  // as wrangler's `rename` sends it
    if (m == "DELETE") return namespace_delete();
    return not_allowed();
  }
  if (s[1] != "scripts" || s.size() > 5) {
    fail(404, kCodeNoRoute, "No route for that URI");
    return;
  }
  if (s.size() == 2) {
    if (m == "GET") return scripts_list(false);
    if (m == "DELETE") return scripts_list(true);
    return not_allowed();
  }
  name_ = s[2];
  if (!name_valid(name_)) {
    fail(400, kCodeValidation, "a script name is 1-63 characters of a-z 0-9 - _");
    return;
  }
  if (s.size() == 3) {
    if (m == "PUT") return script_upload(false);
    if (m == "GET") return script_get();
    if (m == "DELETE") return script_delete();
    return not_allowed();
  }
  const std::string &what = s[3];
  if (s.size() == 4) {
    if (what == "content") {
      if (m == "GET") return script_content();
      if (m == "PUT") return script_upload(true);
      return not_allowed();
    }
    if (what == "settings") {
      if (m == "GET") return settings_get(false);
      if (m == "PATCH") return settings_patch();
      return not_allowed();
    }
    if (what == "bindings") {
      if (m == "GET") return settings_get(true);
      return not_allowed();
    }
    if (what == "secrets") {
      if (m == "GET" || m == "PUT") return secrets("");
      return not_allowed();
    }
    if (what == "secrets-bulk") {
      if (m == "PATCH" || m == "PUT") return secrets_bulk();
      return not_allowed();
    }
    if (what == "tags") {
      if (m == "GET" || m == "PUT") return tags("");
      return not_allowed();
    }
    if (what == "quarantine") {
      if (m == "GET" || m == "DELETE") return quarantine();
      return not_allowed();
    }
    if (what == "assets-upload-session") {
      if (m == "POST") return assets_session();
      return not_allowed();
    }
  } else if (what == "secrets") {
    if (m == "GET" || m == "DELETE") return secrets(s[4]);
    return not_allowed();
  } else if (what == "tags") {
    if (m == "PUT" || m == "DELETE") return tags(s[4]);
    return not_allowed();
  }
  fail(404, kCodeNoRoute, "No route for that URI");
}

// ---- namespaces -----------------------------------------------------------------

namespace {

std::string metadata_too_large(size_t bytes) {
  return "the script's metadata would be " + std::to_string(bytes) + " bytes, more than " +
         std::to_string(ScriptStore::kMaxMetadataBytes) +
         " (bindings, tags and limits together; a json or text binding is its value's size)";
}

json_t *namespace_object(const std::string &ns, const std::map<std::string, std::string> &rec,
                         long long script_count) {
  json_t *o = json_object();
  auto id = rec.find("namespace_id");
  // A namespace written straight into Redis has no record: a stable id.
  std::string nid = id != rec.end() ? id->second : sha256_hex({"namespace", ns}).substr(0, 32);
  json_object_set_new(o, "namespace_id", json_string(nid.c_str()));
  json_object_set_new(o, "namespace_name", json_string(ns.c_str()));
  json_object_set_new(o, "created_on", str_or_null(rec, "created_on"));
  json_object_set_new(o, "created_by", json_string(""));
  json_object_set_new(o, "modified_on", str_or_null(rec, "modified_on"));
  json_object_set_new(o, "modified_by", json_string(""));
  json_object_set_new(o, "script_count", json_integer(script_count));
  json_object_set_new(o, "trusted_workers", json_false());
  auto kv = rec.find("kv_namespace");
  json_object_set_new(o, "kv_namespace",
                      json_string(kv != rec.end() && !kv->second.empty() ? kv->second.c_str()
                                                                         : ns.c_str()));
  return o;
}

}  // namespace

void AdminCall::refuse_cordoned(const std::string &ns) {
  fail(403, kCodeValidation, "this instance does not serve the namespace \"" + ns +
                                 "\" (dispatch_namespaces)");
}

void AdminCall::namespaces_list() {
  auto self = shared_from_this();
  redis({{"SMEMBERS", kNamespacesKey}}, [self](Replies &r) {
    std::vector<std::string> names;
    for (const auto &e : r[0].elements) {
      if (self->engine_.serves(e.str)) names.push_back(e.str);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::vector<std::string>> cmds;
    for (const auto &ns : names) {
      cmds.push_back({"HGETALL", record_key(ns)});
      cmds.push_back({"SCARD", scripts_key(ns)});
    }
    if (cmds.empty()) {
      self->ok(json_array());
      return;
    }
    self->redis(cmds, [self, names](Replies &r) {
      json_t *list = json_array();
      for (size_t i = 0; i < names.size(); i++) {
        json_array_append_new(list, namespace_object(names[i], r[2 * i].as_hash(),
                                                     r[2 * i + 1].integer));
      }
      self->ok(list);
    });
  });
}

void AdminCall::namespace_create() {
  std::string err;
  JsonPtr body = own(body_json(&err));
  if (!body) return fail(400, kCodeValidation, err);
  const char *name = json_string_value(json_object_get(body.get(), "name"));
  if (name == nullptr || !name_valid(name)) {
    return fail(400, kCodeValidation,
                "\"name\" must be 1-63 characters of a-z 0-9 - _");
  }
  std::string ns = name;
  if (!engine_.serves(ns)) return refuse_cordoned(ns);
  auto self = shared_from_this();
  redis({{"GET", kv_held_key(ns)}}, [self, ns](Replies &held) {
  std::string now = now_iso();
  std::string rec = record_key(ns);
  self->redis({{"SADD", kNamespacesKey, ns},
         {"MULTI"},
         {"HSETNX", rec, "namespace_id", uuid()},
         {"HSETNX", rec, "namespace_name", ns},
         {"HSETNX", rec, "created_on", now},
         {"HSETNX", rec, "modified_on", now},
         {"HSETNX", rec, "kv_namespace", fresh_kv_name(ns, held[0])},
         {"SCARD", scripts_key(ns)},
         {"HGETALL", rec},
         {"EXEC"}},
        [self, ns](Replies &r) {
    const RedisValue &exec = r.back();
    if (exec.elements.size() != 7) {
      return self->fail(503, kCodeStore, "the store refused the change");
    }
    if (exec.elements[0].integer == 0) {
      return self->fail(409, kCodeConflict, "the namespace \"" + ns + "\" already exists");
    }
    self->changed({}, namespace_object(ns, exec.elements[6].as_hash(),
                                       exec.elements[5].integer));
  });
  });
}

void AdminCall::namespace_get() {
  auto self = shared_from_this();
  std::string ns = ns_;
  redis({{"SISMEMBER", kNamespacesKey, ns}, {"HGETALL", record_key(ns)},
         {"SCARD", scripts_key(ns)}},
        [self, ns](Replies &r) {
    auto rec = r[1].as_hash();
    if (r[0].integer == 0 && rec.empty() && r[2].integer == 0) {
      return self->fail(404, kCodeNotFound, "the namespace \"" + ns + "\" does not exist");
    }
    self->ok(namespace_object(ns, rec, r[2].integer));
  });
}

void AdminCall::namespace_rename() {
  std::string err;
  JsonPtr body = own(body_json(&err));
  if (!body) return fail(400, kCodeValidation, err);
  const char *name = json_string_value(json_object_get(body.get(), "name"));
  if (name == nullptr || !name_valid(name)) {
    return fail(400, kCodeValidation, "\"name\" must be 1-63 characters of a-z 0-9 - _");
  }
  std::string from = ns_;
  std::string to = name;
  if (!engine_.serves(to)) return refuse_cordoned(to);
  auto self = shared_from_this();
  if (to == from) return namespace_get();
  redis({{"SISMEMBER", kNamespacesKey, from}, {"HGETALL", record_key(from)},
         {"SMEMBERS", scripts_key(from)}, {"SISMEMBER", kNamespacesKey, to},
         {"EXISTS", record_key(to), scripts_key(to)}},
        [self, from, to](Replies &r) {
    auto rec = r[1].as_hash();
    std::vector<std::string> names;
    for (const auto &e : r[2].elements) names.push_back(e.str);
    if (r[0].integer == 0 && rec.empty() && names.empty()) {
      return self->fail(404, kCodeNotFound, "the namespace \"" + from + "\" does not exist");
    }
    if (r[3].integer != 0 || r[4].integer != 0) {
      return self->fail(409, kCodeConflict, "the namespace \"" + to + "\" already exists");
    }
    // The assets first (the scripts that name them move after), then the
    // old namespace's asset keys and sessions go with it. Refused before
    // the new namespace is stored, what was copied goes again.
    self->undo_ = {{"SREM", kNamespacesKey, to}};
    self->assets_copy(from, to, names, [self, from, to, rec, names] {
    self->assets_deletes(from, names, [self, from, to, rec, names](
                                          std::vector<std::vector<std::string>> &old_assets) {
    std::vector<std::vector<std::string>> reads;
    for (const auto &n : names) reads.push_back({"HGETALL", ScriptStore::script_key(from, n)});
    reads.push_back({"PING"});
    self->redis(reads, [self, from, to, rec, names, old_assets](Replies &scripts) {
      std::string now = now_iso();
      auto get = [&](const char *f, const std::string &fallback) {
        auto it = rec.find(f);
        return it != rec.end() && !it->second.empty() ? it->second : fallback;
      };
      // KV data stays where it was created: the scripts carry its name.
      std::string kv = get("kv_namespace", from);
      std::vector<std::vector<std::string>> cmds = {{"SADD", kNamespacesKey, to}, {"MULTI"}};
      cmds.push_back({"HSET", record_key(to), "namespace_id", get("namespace_id", uuid()),
                      "namespace_name", to, "created_on", get("created_on", now),
                      "modified_on", now, "kv_namespace", kv});
      std::vector<std::string> published;
      for (size_t i = 0; i < names.size(); i++) {
        auto fields = scripts[i].as_hash();
        if (fields.empty()) continue;  // deleted meanwhile
        fields["kv_namespace"] = kv;
        std::vector<std::string> hset = {"HSET", ScriptStore::script_key(to, names[i])};
        for (const auto &f : fields) {
          hset.push_back(f.first);
          hset.push_back(f.second);
        }
        cmds.push_back(std::move(hset));
        cmds.push_back({"SADD", scripts_key(to), names[i]});
        published.push_back(to + "/" + names[i]);
        published.push_back(from + "/" + names[i]);
      }
      cmds.push_back({"EXEC"});
      // The KV name stays taken: a namespace made later under it gets one
      // of its own (fresh_kv_name; those, with a uuid, are never made twice).
      if (kv.find('/') == std::string::npos) cmds.push_back({"SET", kv_held_key(kv), to});
      // Then, once the new one is stored (what was copied stays), the old
      // namespace goes, in a transaction of its own hash tag.
      std::vector<std::vector<std::string>> old = {{"MULTI"},
                                                   {"DEL", record_key(from), scripts_key(from)}};
      for (const auto &n : names) old.push_back({"DEL", ScriptStore::script_key(from, n)});
      old.insert(old.end(), old_assets.begin(), old_assets.end());
      old.push_back({"EXEC"});
      old.push_back({"SREM", kNamespacesKey, from});
      old.push_back({"HGETALL", record_key(to)});
      old.push_back({"SCARD", scripts_key(to)});
      self->redis(cmds, [self, to, published, old](Replies &) {
        self->undo_.clear();
        self->redis(old, [self, to, published](Replies &w) {
          size_t n = w.size();
          self->changed(published, namespace_object(to, w[n - 2].as_hash(), w[n - 1].integer));
        });
      });
    });
    });
    });
  });
}

void AdminCall::namespace_delete() {
  auto self = shared_from_this();
  std::string ns = ns_;
  redis({{"SISMEMBER", kNamespacesKey, ns}, {"EXISTS", record_key(ns)},
         {"SMEMBERS", scripts_key(ns)}, {"HGET", record_key(ns), "kv_namespace"}},
        [self, ns](Replies &r) {
    std::vector<std::string> names;
    for (const auto &e : r[2].elements) names.push_back(e.str);
    if (r[0].integer == 0 && r[1].integer == 0 && names.empty()) {
      return self->fail(404, kCodeNotFound, "the namespace \"" + ns + "\" does not exist");
    }
    // Its KV data stays (the platform's to delete): a namespace made later
    // under its name must not find it (fresh_kv_name).
    std::string kv = r[3].type == REDIS_REPLY_STRING && !r[3].str.empty() ? r[3].str : ns;
    self->assets_deletes(ns, names, [self, ns, names, kv](
                                        std::vector<std::vector<std::string>> &assets) {
      std::vector<std::vector<std::string>> cmds;
      if (kv.find('/') == std::string::npos) {
        cmds.push_back({"SET", kv_held_key(kv), "(deleted)"});
      }
      cmds.push_back({"MULTI"});
      cmds.push_back({"DEL", record_key(ns), scripts_key(ns)});
      std::vector<std::string> published;
      for (const auto &n : names) {
        cmds.push_back({"DEL", ScriptStore::script_key(ns, n)});
        published.push_back(ns + "/" + n);
      }
      cmds.insert(cmds.end(), assets.begin(), assets.end());
      cmds.push_back({"EXEC"});
      cmds.push_back({"SREM", kNamespacesKey, ns});
      self->redis(cmds, [self, published](Replies &) { self->changed(published, nullptr); });
    });
  });
}

// ---- scripts ----------------------------------------------------------------------

void AdminCall::scripts_list(bool delete_them) {
  // tags=a:yes,b:no — with a and without b
  std::vector<std::pair<std::string, bool>> wanted;
  std::string tags = query_param("tags");
  size_t pos = 0;
  while (pos < tags.size()) {
    size_t comma = tags.find(',', pos);
    if (comma == std::string::npos) comma = tags.size();
    std::string item = tags.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    size_t colon = item.rfind(':');
    bool yes = true;
    if (colon != std::string::npos) {
      std::string v = item.substr(colon + 1);
      if (v != "yes" && v != "no") {
        return fail(400, kCodeValidation, "tags are filtered as tag:yes or tag:no");
      }
      yes = v == "yes";
      item = item.substr(0, colon);
    }
    wanted.emplace_back(item, yes);
  }
  if (delete_them && wanted.empty()) {
    return fail(400, kCodeValidation, "a bulk delete needs ?tags=TAG:yes (or :no)");
  }
  long limit = kDefaultListLimit;
  bool has_limit = false;
  std::string limit_text = query_param("limit", &has_limit);
  if (has_limit) {
    char *end = nullptr;
    limit = strtol(limit_text.c_str(), &end, 10);
    if (end == limit_text.c_str() || *end != '\0' || limit < 1 || limit > kDefaultListLimit) {
      return fail(400, kCodeValidation, "limit must be 1-1000");
    }
  }
  std::string cursor = query_param("cursor");

  auto self = shared_from_this();
  std::string ns = ns_;
  redis({{"SISMEMBER", kNamespacesKey, ns}, {"SMEMBERS", scripts_key(ns)}},
        [self, ns, wanted, limit, cursor, delete_them](Replies &r) {
    std::vector<std::string> names;
    for (const auto &e : r[1].elements) names.push_back(e.str);
    if (r[0].integer == 0 && names.empty()) {
      return self->fail(404, kCodeNotFound, "the namespace \"" + ns + "\" does not exist");
    }
    std::sort(names.begin(), names.end());
    std::vector<std::vector<std::string>> cmds;
    for (const auto &n : names) {
      cmds.push_back({"HMGET", ScriptStore::script_key(ns, n), "etag", "created_on",
                      "modified_on", "metadata", "format"});
      cmds.push_back({"HSTRLEN", ScriptStore::script_key(ns, n), "assets"});
    }
    cmds.push_back({"PING"});
    self->redis(cmds, [self, ns, names, wanted, limit, cursor, delete_them](Replies &r) {
      static const char *fields[] = {"etag", "created_on", "modified_on", "metadata", "format"};
      JsonPtr list = own(json_array());
      std::vector<std::string> chosen;
      std::string next_cursor;
      for (size_t i = 0; i < names.size(); i++) {
        if (!delete_them && !cursor.empty() && names[i] <= cursor) continue;
        std::map<std::string, std::string> f;
        const RedisValue &got = r[2 * i];
        for (size_t k = 0; k < 5 && k < got.elements.size(); k++) {
          if (got.elements[k].type == REDIS_REPLY_STRING) f[fields[k]] = got.elements[k].str;
        }
        if (r[2 * i + 1].integer > 0) f["has_assets"] = "1";
        JsonPtr meta = parse_metadata(f["metadata"]);
        std::vector<std::string> have = tags_of(meta.get());
        bool match = true;
        for (const auto &w : wanted) {
          bool has = std::find(have.begin(), have.end(), w.first) != have.end();
          if (has != w.second) match = false;
        }
        if (!match) continue;
        if (!delete_them && long(chosen.size()) == limit) {
          next_cursor = chosen.back();
          break;
        }
        chosen.push_back(names[i]);
        json_array_append_new(list.get(), script_object(names[i], f, meta.get()));
      }
      if (!delete_them) {
        json_t *info = json_pack("{s:i,s:s}", "count", int(chosen.size()), "cursor",
                                 next_cursor.c_str());
        return self->ok(list.release(), info);
      }
      if (chosen.empty()) return self->ok(json_array());
      auto deleted = std::make_shared<JsonPtr>(std::move(list));
      self->assets_deletes(ns, chosen, [self, ns, chosen, deleted](
                                           std::vector<std::vector<std::string>> &assets) {
        std::vector<std::vector<std::string>> del = {{"MULTI"}};
        std::vector<std::string> published;
        for (const auto &n : chosen) {
          del.push_back({"DEL", ScriptStore::script_key(ns, n)});
          del.push_back({"SREM", scripts_key(ns), n});
          published.push_back(ns + "/" + n);
        }
        del.insert(del.end(), assets.begin(), assets.end());
        del.push_back({"EXEC"});
        self->redis(del, [self, published, deleted](Replies &) {
          self->changed(published, deleted->release());
        });
      });
    });
  });
}

void AdminCall::with_script(ScriptFn fn) {
  auto self = shared_from_this();
  std::string key = ScriptStore::script_key(ns_, name_);
  redis({{"EXISTS", key},
         {"HMGET", key, "etag", "created_on", "modified_on", "metadata", "format",
          "kv_namespace"},
         {"HSTRLEN", key, "assets"}},
        [self, fn](Replies &r) {
    if (r[0].integer == 0) {
      return self->fail(404, kCodeNotFound, "the script \"" + self->name_ +
                                                "\" does not exist in namespace \"" +
                                                self->ns_ + "\"");
    }
    static const char *fields[] = {"etag", "created_on", "modified_on", "metadata", "format",
                                   "kv_namespace"};
    std::map<std::string, std::string> f;
    for (size_t k = 0; k < 6 && k < r[1].elements.size(); k++) {
      if (r[1].elements[k].type == REDIS_REPLY_STRING) f[fields[k]] = r[1].elements[k].str;
    }
    if (r[2].integer > 0) f["has_assets"] = "1";
    JsonPtr meta = parse_metadata(f["metadata"]);
    fn(f, meta.get());
  });
}

void AdminCall::script_get() {
  auto self = shared_from_this();
  with_script([self](std::map<std::string, std::string> &f, json_t *meta) {
    json_t *o = json_object();
    json_object_set_new(o, "created_on", str_or_null(f, "created_on"));
    json_object_set_new(o, "modified_on", str_or_null(f, "modified_on"));
    json_object_set_new(o, "dispatch_namespace", json_string(self->ns_.c_str()));
    json_object_set_new(o, "script", script_object(self->name_, f, meta));
    self->ok(o);
  });
}

void AdminCall::script_content() {
  auto self = shared_from_this();
  std::string key = ScriptStore::script_key(ns_, name_);
  redis({{"HMGET", key, "code", "format"}}, [self](Replies &r) {
    if (r[0].elements.size() != 2 || r[0].elements[0].type != REDIS_REPLY_STRING) {
      return self->fail(404, kCodeNotFound, "the script \"" + self->name_ +
                                                "\" does not exist in namespace \"" +
                                                self->ns_ + "\"");
    }
    bool sw = r[0].elements[1].str == "service-worker";
    self->answer_raw(200, sw ? "application/javascript" : "application/javascript+module",
                     r[0].elements[0].str);
  });
}

void AdminCall::script_delete() {
  auto self = shared_from_this();
  std::string ns = ns_;
  std::string name = name_;
  // with it, its assets and upload sessions
  assets_deletes(ns, {name}, [self, ns, name](std::vector<std::vector<std::string>> &assets) {
    std::vector<std::vector<std::string>> cmds = {{"MULTI"},
                                                  {"DEL", ScriptStore::script_key(ns, name)},
                                                  {"SREM", scripts_key(ns), name}};
    cmds.insert(cmds.end(), assets.begin(), assets.end());
    cmds.push_back({"EXEC"});
    self->redis(cmds, [self, ns, name](Replies &r) {
      const RedisValue &exec = r.back();
      if (exec.elements.empty() || exec.elements[0].integer == 0) {
        return self->fail(404, kCodeNotFound, "the script \"" + name +
                                                  "\" does not exist in namespace \"" + ns +
                                                  "\"");
      }
      self->changed({ns + "/" + name}, nullptr);
    });
  });
}

void AdminCall::script_upload(bool content_only) {
  // An upload runs the script's top level here. One in the penalty box (it
  // took a worker down, perhaps in this very validation, or kept hitting its
  // limits) is not run again until its period is over or it is lifted: its
  // top level hanging past dispatch_hang_timeout ended a worker per upload.
  const dispatch_host_t &raw = engine_.host().raw();
  std::string boxed_key = ns_ + "/" + name_;
  uint64_t boxed_ms = raw.quarantined ? raw.quarantined(raw.data, boxed_key.data(),
                                                        boxed_key.size()) : 0;
  if (boxed_ms > 0) {
    return fail(409, kCodeConflict, "the script \"" + name_ + "\" is in the penalty box for " +
                                        std::to_string((boxed_ms + 999) / 1000) +
                                        "s more: no upload of it is run until then (DELETE "
                                        ".../scripts/" + name_ + "/quarantine lifts it)");
  }
  auto upload = std::make_shared<Upload>();
  std::string err;
  if (!parse_upload(content_type_in_, request_body_, engine_.script_max_size(), upload.get(),
                    &err)) {
    return fail(400, kCodeValidation, err);
  }
  std::string().swap(request_body_);  // parsed: the copy is no longer needed
  messages_ = upload->assets_warnings;
  if (!upload->has_assets || content_only) {
    return script_upload_checked(content_only, upload, "", "");
  }
  // metadata.assets.jwt: the completion token of a session of this script
  // whose every file is stored.
  AssetToken token;
  if (!asset_token_parse(upload->assets_jwt, &token) || token.use != AssetTokenUse::kCompletion ||
      token.ns != ns_) {
    return fail(400, kCodeValidation, "metadata.assets.jwt is not the completion token of an "
                                      "assets upload session of this namespace");
  }
  auto self = shared_from_this();
  std::string sid = token.sid;
  std::string given = asset_secret_hash(token.secret);
  redis({{"HMGET", session_key(ns_, sid), "script", "manifest", "completion_hash"},
         {"SCARD", pending_key(ns_, sid)}},
        [self, upload, sid, given](Replies &r) {
    const auto &f = r[0].elements;
    if (f.size() != 3 || f[0].type != REDIS_REPLY_STRING) {
      return self->fail(400, kCodeValidation, "the assets upload session has expired or was "
                                              "used already: start a new one");
    }
    if (f[0].str != self->name_ || !asset_hash_equal(given, f[2].str)) {
      return self->fail(400, kCodeValidation, "metadata.assets.jwt is not the completion token "
                                              "of an assets upload session of this script");
    }
    if (r[1].integer != 0) {
      return self->fail(400, kCodeValidation, std::to_string(r[1].integer) + " assets of the "
                                              "session are not uploaded yet");
    }
    AssetUploadManifest manifest;
    std::string err;
    JsonPtr j = own(json_loadb(f[1].str.data(), f[1].str.size(), 0, nullptr));
    if (!parse_asset_manifest(j.get(), &manifest, &err)) return self->fail(500, kCodeStore, err);
    std::string field = "{\"manifest\":" + f[1].str + ",\"config\":" + upload->assets_config + "}";
    std::vector<std::string> hashes = asset_hashes(manifest);
    if (hashes.empty()) return self->script_upload_checked(false, upload, field, sid);
    std::vector<std::string> check = {"SMISMEMBER", asset_index_key(self->ns_, self->name_)};
    check.insert(check.end(), hashes.begin(), hashes.end());
    self->redis({check}, [self, upload, field, sid, hashes](Replies &m) {
      for (size_t i = 0; i < hashes.size(); i++) {
        if (i >= m[0].elements.size() || m[0].elements[i].integer != 1) {
          return self->fail(400, kCodeValidation, "the asset " + hashes[i] + " of the session "
                                                  "is not stored (deleted meanwhile): start a "
                                                  "new session");
        }
      }
      self->script_upload_checked(false, upload, field, sid);
    });
  });
}

// The script's hash written anew, with the `assets` it had kept: only when
// that field is still what the upload read (ARGV[1], its SHA-1), else 0
// and nothing written. A deploy that read the old field before a
// concurrent one replaced it (and that one's cleanup deleted the files
// only the old manifest named) never writes the old manifest back.
static const char kKeptAssets[] =
    "local a = redis.call('HGET', KEYS[1], 'assets')\n"
    "if a == false then a = '' end\n"
    "if redis.sha1hex(a) ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "return 1\n";

void AdminCall::script_upload_checked(bool content_only, std::shared_ptr<Upload> upload,
                                      std::string assets_field, std::string sid, int attempt) {
  auto self = shared_from_this();
  std::string key = ScriptStore::script_key(ns_, name_);
  redis({{"EXISTS", key},
         {"HMGET", key, "created_on", "metadata", "assets"},
         {"HGET", record_key(ns_), "kv_namespace"},
         {"GET", kv_held_key(ns_)}},
        [self, upload, content_only, key, assets_field, sid, attempt](Replies &r) {
    bool exists = r[0].integer != 0;
    if (content_only && !exists) {
      return self->fail(404, kCodeNotFound, "the script \"" + self->name_ +
                                                "\" does not exist in namespace \"" +
                                                self->ns_ + "\"");
    }
    std::string created_on;
    std::string old_metadata;
    std::string assets = assets_field;
    // PUT .../content changes the code alone; keep_assets keeps them too
    bool kept = content_only || (!upload->has_assets && upload->keep_assets);
    if (r[1].elements.size() == 3) {
      created_on = r[1].elements[0].str;
      old_metadata = r[1].elements[1].str;
      if (kept) assets = r[1].elements[2].str;
    }
    std::string given_metadata = upload->metadata;  // as uploaded, for another attempt
    std::string kv = r[2].type == REDIS_REPLY_STRING && !r[2].str.empty()
                         ? r[2].str : fresh_kv_name(self->ns_, r[3]);
    JsonPtr old_meta = parse_metadata(old_metadata);
    JsonPtr meta = parse_metadata(upload->metadata);
    std::string err;
    if (content_only) {
      // The code alone changes: everything else stays as it was.
      JsonPtr merged = own(json_deep_copy(old_meta.get()));
      json_object_del(merged.get(), "main_module");
      json_object_del(merged.get(), "body_part");
      json_object_set_new(merged.get(), upload->format == "module" ? "main_module" : "body_part",
                          json_string(upload->main.c_str()));
      meta = std::move(merged);
    } else {
      json_t *bindings = nullptr;
      json_t *given = json_object_get(meta.get(), "bindings");
      JsonPtr none = own(json_array());
      if (!merge_bindings(given ? given : none.get(), old_meta.get(), upload->keep_bindings,
                          &bindings, &err)) {
        return self->fail(400, kCodeValidation, err);
      }
      json_object_set_new(meta.get(), "bindings", bindings);
    }
    // Secrets go to Redis sealed (dispatch_secrets_key), never as given.
    if (!self->engine_.secret_seal().seal_bindings(meta.get(), &err)) {
      return self->fail(500, kCodeStore, err);
    }
    upload->metadata = dump(meta.get());
    if (upload->metadata.size() > ScriptStore::kMaxMetadataBytes) {
      return self->fail(400, kCodeValidation, metadata_too_large(upload->metadata.size()));
    }

    // Compiled and its top level run in a scratch isolate, before anything
    // is stored: a refused upload changes nothing.
    auto source = std::make_shared<ScriptSource>();
    source->ns = self->ns_;
    source->name = self->name_;
    source->code = upload->code;
    source->format = upload->format;
    source->metadata = upload->metadata;
    source->modules = upload->modules;
    source->wasm_modules = upload->wasm_modules;
    source->kv_namespace = kv;
    dispatch_outcome_e outcome = DISPATCH_OUTCOME_OK;
    // An assets-only upload (no main module) has no code to run.
    std::shared_ptr<TenantIsolate> scratch =
        upload->main.empty() ? nullptr : TenantIsolate::create(self->engine_, source, &err, &outcome);
    if (!scratch && !upload->main.empty()) {
      std::string why = redact_secrets(self->engine_.secret_seal(), meta.get(), err, 2000);
      if (outcome == DISPATCH_OUTCOME_EXCEEDED_CPU ||
          outcome == DISPATCH_OUTCOME_EXCEEDED_MEMORY) {
        why = "module \"" + upload->main + "\": " + why;
      }
      return self->fail(400, kCodeValidation, "the script failed validation: " + why);
    }
    // It makes its code caches as it goes (tenant_isolate.h): this
    // worker's first isolate of the new version starts from them.
    scratch.reset();

    std::string now = now_iso();
    std::vector<std::string> etag_parts = {upload->format, upload->code, upload->metadata, kv,
                                           assets};
    for (const auto &m : upload->modules) {
      etag_parts.push_back(m.first);
      etag_parts.push_back(m.second);
    }
    for (const auto &m : upload->wasm_modules) {
      etag_parts.push_back(ScriptStore::kWasmPrefix + m.first);
      etag_parts.push_back(m.second);
    }
    std::string etag = sha256_hex(etag_parts);
    std::vector<std::string> hset = {"HSET", key, "code", upload->code, "format", upload->format,
                                     "metadata", upload->metadata, "etag", etag,
                                     "created_on", created_on.empty() ? now : created_on,
                                     "modified_on", now, "kv_namespace", kv};
    for (const auto &m : upload->modules) {
      hset.push_back(ScriptStore::kModulePrefix + m.first);
      hset.push_back(m.second);
    }
    for (const auto &m : upload->wasm_modules) {
      hset.push_back(ScriptStore::kWasmPrefix + m.first);
      hset.push_back(m.second);
    }
    if (!assets.empty()) {
      hset.push_back("assets");
      hset.push_back(assets);
    }
    std::string rec = record_key(self->ns_);
    std::map<std::string, std::string> fields = {
        {"etag", etag}, {"created_on", created_on.empty() ? now : created_on},
        {"modified_on", now}, {"format", upload->format}};
    if (!assets.empty()) fields["has_assets"] = "1";
    std::vector<std::vector<std::string>> cmds = {{"SADD", kNamespacesKey, self->ns_}, {"MULTI"}};
    if (kept) {
      std::vector<std::string> guarded = {"EVAL", kKeptAssets, "1", key, sha1_hex(assets)};
      guarded.insert(guarded.end(), hset.begin() + 2, hset.end());
      cmds.push_back(std::move(guarded));
    } else {
      cmds.push_back({"DEL", key});
      cmds.push_back(hset);
    }
    std::vector<std::vector<std::string>> rest = {{"SADD", scripts_key(self->ns_), self->name_},
                                                  {"HSETNX", rec, "namespace_id", uuid()},
                                                  {"HSETNX", rec, "namespace_name", self->ns_},
                                                  {"HSETNX", rec, "created_on", now},
                                                  {"HSETNX", rec, "kv_namespace", kv},
                                                  {"HSET", rec, "modified_on", now}};
    cmds.insert(cmds.end(), rest.begin(), rest.end());
    std::string live = asset_live_key(self->ns_, self->name_);
    if (!sid.empty()) {
      // the manifest's hashes become the live set (what the cleanup keeps)
      // and the session is used up: its tokens answer nothing any more
      std::string hashes = session_hashes_key(self->ns_, sid);
      cmds.push_back({"SUNIONSTORE", live, hashes});
      cmds.push_back({"DEL", session_key(self->ns_, sid), pending_key(self->ns_, sid), hashes});
      cmds.push_back({"SREM", script_sessions_key(self->ns_, self->name_), sid});
    } else if (assets.empty() && !kept) {
      cmds.push_back({"DEL", live});  // (kept: no assets had no live set either)
    }
    cmds.push_back({"EXEC"});
    self->redis(cmds, [self, fields, upload, kept, content_only, assets_field, sid, attempt,
                       given_metadata](Replies &w) {
      const RedisValue &exec = w.back();
      if (kept && !exec.elements.empty() && exec.elements[0].is_error()) {
        return self->fail(503, kCodeStore, "the store refused: " + exec.elements[0].str);
      }
      if (kept && !exec.elements.empty() && exec.elements[0].integer == 0) {
        // a concurrent deploy changed the assets meanwhile: keep those
        if (attempt >= 3) {
          return self->fail(409, kCodeValidation, "the script's assets changed during the upload "
                                                  "(concurrent deploys): try again");
        }
        upload->metadata = given_metadata;
        return self->script_upload_checked(content_only, upload, assets_field, sid, attempt + 1);
      }
      // then the assets no version uses any more go
      self->assets_cleanup(self->name_, [self, fields, upload] {
        JsonPtr meta = parse_metadata(upload->metadata);
        self->changed({self->ns_ + "/" + self->name_},
                      script_object(self->name_, fields, meta.get()));
      });
    });
  });
}

// ---- read-modify-write of a script's metadata ----------------------------------------

void AdminCall::update_metadata(const std::string &etag, json_t *meta, json_t *result) {
  JsonPtr owned_result = own(result);
  // Secrets go to Redis sealed (dispatch_secrets_key), never as given; one
  // sealed under an older key is sealed again under the first.
  std::string err;
  if (!engine_.secret_seal().seal_bindings(meta, &err)) return fail(500, kCodeStore, err);
  std::string metadata = dump(meta);
  if (metadata.size() > ScriptStore::kMaxMetadataBytes) {
    return fail(400, kCodeValidation, metadata_too_large(metadata.size()));
  }
  std::string new_etag = sha256_hex({etag, metadata});
  // Stored only when the script is still the version that was read: a
  // concurrent change is a 409, never lost.
  static const char kGuarded[] =
      "local e = redis.call('HGET', KEYS[1], 'etag')\n"
      "if e == false then e = '' end\n"
      "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
      "if e ~= ARGV[1] then return -1 end\n"
      "redis.call('HSET', KEYS[1], 'metadata', ARGV[2], 'etag', ARGV[3], 'modified_on', ARGV[4])\n"
      "return 1\n";
  auto self = shared_from_this();
  auto shared_result = std::make_shared<JsonPtr>(std::move(owned_result));
  redis({{"EVAL", kGuarded, "1", ScriptStore::script_key(ns_, name_), etag, metadata, new_etag,
          now_iso()}},
        [self, shared_result](Replies &r) {
    if (r[0].is_error()) return self->fail(503, kCodeStore, "the store refused: " + r[0].str);
    if (r[0].integer == 0) {
      return self->fail(404, kCodeNotFound, "the script \"" + self->name_ +
                                                "\" does not exist in namespace \"" +
                                                self->ns_ + "\"");
    }
    if (r[0].integer < 0) {
      return self->fail(409, kCodeConflict, "the script changed meanwhile: try again");
    }
    self->changed({self->ns_ + "/" + self->name_}, shared_result->release());
  });
}

void AdminCall::settings_get(bool bindings_only) {
  auto self = shared_from_this();
  with_script([self, bindings_only](std::map<std::string, std::string> &, json_t *meta) {
    self->ok(bindings_only ? shown_bindings(meta) : settings_object(meta));
  });
}

void AdminCall::settings_patch() {
  // multipart with a "settings" part (Cloudflare's SDK), or a JSON body
  std::string text = request_body_;
  std::string boundary;
  std::string err;
  if (multipart_boundary(content_type_in_, &boundary, &err)) {
    std::vector<MultipartPart> parts;
    if (!multipart_parse(request_body_, boundary, MultipartLimits(), &parts, &err)) {
      return fail(400, kCodeValidation, err);
    }
    text.clear();
    for (const auto &p : parts) {
      if (p.name == "settings") text = std::string(p.body);
    }
  }
  auto patch = std::make_shared<JsonPtr>(own(json_loadb(text.data(), text.size(), 0, nullptr)));
  if (!*patch || !json_is_object(patch->get())) {
    return fail(400, kCodeValidation, "the settings must be a JSON object");
  }
  json_t *p = patch->get();
  if (json_t *b = json_object_get(p, "bindings")) {
    if (!bindings_valid(b, &err)) return fail(400, kCodeValidation, err);
  }
  if (json_t *t = json_object_get(p, "tags")) {
    if (!json_is_null(t) && !tags_valid(t)) {
      return fail(400, kCodeValidation, "tags must be an array of at most 8 non-empty strings");
    }
  }
  auto self = shared_from_this();
  with_script([self, patch](std::map<std::string, std::string> &f, json_t *meta) {
    json_t *p = patch->get();
    JsonPtr next = own(json_deep_copy(meta));
    std::string err;
    if (json_t *given = json_object_get(p, "bindings")) {
      std::vector<std::string> keep;
      size_t i;
      json_t *k;
      json_array_foreach(json_object_get(p, "keep_bindings"), i, k) {
        if (json_is_string(k)) keep.emplace_back(json_string_value(k));
      }
      json_t *bindings = nullptr;
      if (!merge_bindings(given, meta, keep, &bindings, &err)) {
        return self->fail(400, kCodeValidation, err);
      }
      json_object_set_new(next.get(), "bindings", bindings);
    }
    for (const char *field : {"compatibility_date", "compatibility_flags", "limits", "tags",
                              "usage_model"}) {
      if (json_t *v = json_object_get(p, field)) json_object_set(next.get(), field, v);
    }
    json_t *result = settings_object(next.get());
    self->update_metadata(f["etag"], next.get(), result);
  });
}

// ---- secrets: secret_text bindings, whose values no answer shows --------------------

namespace {

json_t *secret_object(const char *name) {
  return json_pack("{s:s,s:s}", "name", name, "type", "secret_text");
}

// Sets (text non-null) or removes the binding called name; false when
// removing one that is not there.
bool set_secret(json_t *meta, const std::string &name, const char *text) {
  json_t *bindings = json_object_get(meta, "bindings");
  if (!json_is_array(bindings)) {
    bindings = json_array();
    json_object_set_new(meta, "bindings", bindings);
  }
  bool found = false;
  for (size_t i = 0; i < json_array_size(bindings); i++) {
    const char *n = json_string_value(json_object_get(json_array_get(bindings, i), "name"));
    if (n && name == n) {
      json_array_remove(bindings, i);
      found = true;
      break;
    }
  }
  if (text) {
    json_array_append_new(bindings, json_pack("{s:s,s:s,s:s}", "type", "secret_text", "name",
                                              name.c_str(), "text", text));
  }
  return found || text;
}

bool is_secret(json_t *b) {
  const char *type = json_string_value(json_object_get(b, "type"));
  return type && strcmp(type, "secret_text") == 0;
}

}  // namespace

void AdminCall::secrets(const std::string &secret) {
  auto self = shared_from_this();
  if (method_ == "PUT") {
    std::string err;
    JsonPtr body = own(body_json(&err));
    if (!body) return fail(400, kCodeValidation, err);
    const char *name = json_string_value(json_object_get(body.get(), "name"));
    const char *text = json_string_value(json_object_get(body.get(), "text"));
    const char *type = json_string_value(json_object_get(body.get(), "type"));
    if (name == nullptr || !secret_name_valid(name) || text == nullptr) {
      return fail(400, kCodeValidation,
                  "a secret is {\"name\",\"text\",\"type\":\"secret_text\"}; its name is "
                  "1-256 characters of A-Z a-z 0-9 _ - .");
    }
    if (type && strcmp(type, "secret_text") != 0) {
      return fail(400, kCodeValidation, std::string("secrets of type \"") + type +
                                            "\" are not supported (secret_text only)");
    }
    std::string n = name;
    std::string t = text;
    return with_script([self, n, t](std::map<std::string, std::string> &f, json_t *meta) {
      JsonPtr next = own(json_deep_copy(meta));
      set_secret(next.get(), n, t.c_str());
      self->update_metadata(f["etag"], next.get(), secret_object(n.c_str()));
    });
  }
  with_script([self, secret](std::map<std::string, std::string> &f, json_t *meta) {
    json_t *bindings = json_object_get(meta, "bindings");
    if (secret.empty()) {  // GET the list
      json_t *list = json_array();
      size_t i;
      json_t *b;
      json_array_foreach(bindings, i, b) {
        if (is_secret(b)) {
          json_array_append_new(list, secret_object(json_string_value(json_object_get(b, "name"))));
        }
      }
      return self->ok(list);
    }
    json_t *found = nullptr;
    size_t i;
    json_t *b;
    json_array_foreach(bindings, i, b) {
      const char *n = json_string_value(json_object_get(b, "name"));
      if (is_secret(b) && n && secret == n) found = b;
    }
    if (found == nullptr) {
      return self->fail(404, kCodeNotFound, "the script has no secret \"" + secret + "\"");
    }
    if (self->method_ == "GET") return self->ok(secret_object(secret.c_str()));
    JsonPtr next = own(json_deep_copy(meta));
    set_secret(next.get(), secret, nullptr);
    self->update_metadata(f["etag"], next.get(), nullptr);
  });
}

void AdminCall::secrets_bulk() {
  std::string err;
  auto body = std::make_shared<JsonPtr>(own(body_json(&err)));
  if (!*body) return fail(400, kCodeValidation, err);
  json_t *list = json_is_array(body->get()) ? body->get()
                                            : json_object_get(body->get(), "secrets");
  if (!json_is_array(list)) {
    return fail(400, kCodeValidation, "secrets-bulk takes an array of secrets");
  }
  size_t i;
  json_t *s;
  json_array_foreach(list, i, s) {
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *type = json_string_value(json_object_get(s, "type"));
    if (name == nullptr || !secret_name_valid(name) ||
        !json_is_string(json_object_get(s, "text")) ||
        (type && strcmp(type, "secret_text") != 0)) {
      return fail(400, kCodeValidation, "secret " + std::to_string(i) +
                                            " is not {\"name\",\"text\",\"type\":\"secret_text\"}");
    }
  }
  auto self = shared_from_this();
  with_script([self, body](std::map<std::string, std::string> &f, json_t *meta) {
    json_t *list = json_is_array(body->get()) ? body->get()
                                              : json_object_get(body->get(), "secrets");
    JsonPtr next = own(json_deep_copy(meta));
    json_t *result = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
      const char *name = json_string_value(json_object_get(s, "name"));
      set_secret(next.get(), name, json_string_value(json_object_get(s, "text")));
      json_array_append_new(result, secret_object(name));
    }
    self->update_metadata(f["etag"], next.get(), result);
  });
}

// ---- tags (at most 8) -------------------------------------------------------------------

void AdminCall::tags(const std::string &tag) {
  auto self = shared_from_this();
  std::shared_ptr<JsonPtr> replacement;
  if (method_ == "PUT" && tag.empty()) {
    std::string err;
    replacement = std::make_shared<JsonPtr>(own(body_json(&err)));
    if (!*replacement) return fail(400, kCodeValidation, err);
    if (!tags_valid(replacement->get())) {
      return fail(400, kCodeValidation, "tags must be an array of at most 8 non-empty strings");
    }
  }
  if (!tag.empty() && (tag.size() > 256 || tag.find(',') != std::string::npos)) {
    return fail(400, kCodeValidation, "a tag is 1-256 characters without ','");
  }
  with_script([self, tag, replacement](std::map<std::string, std::string> &f, json_t *meta) {
    if (self->method_ == "GET") return self->ok(copy_or(meta, "tags", json_array()));
    JsonPtr next = own(json_deep_copy(meta));
    std::vector<std::string> have = tags_of(meta);
    if (replacement) {
      json_object_set(next.get(), "tags", replacement->get());
    } else {
      auto it = std::find(have.begin(), have.end(), tag);
      if (self->method_ == "PUT" && it == have.end()) {
        if (have.size() >= kMaxTags) {
          return self->fail(400, kCodeValidation, "a script has at most 8 tags");
        }
        have.push_back(tag);
      } else if (self->method_ == "DELETE" && it != have.end()) {
        have.erase(it);
      }
      json_t *list = json_array();
      for (const auto &t : have) json_array_append_new(list, json_string(t.c_str()));
      json_object_set_new(next.get(), "tags", list);
    }
    json_t *result = self->method_ == "DELETE" ? nullptr
                                               : copy_or(next.get(), "tags", json_array());
    self->update_metadata(f["etag"], next.get(), result);
  });
}

// ---- the penalty box (an extension beyond Cloudflare's API) ------------------------------

void AdminCall::quarantine() {
  const dispatch_host_t &raw = engine_.host().raw();
  std::string key = ns_ + "/" + name_;
  if (method_ == "DELETE") {
    if (raw.quarantine_lift == nullptr) {
      return fail(501, kCodeUnsupported, "this host cannot lift a quarantine");
    }
    raw.quarantine_lift(raw.data, key.data(), key.size());
    engine_.enforcer().forgive(key);
    engine_.fleet_quarantine().lift(key);
  }
  uint64_t left = raw.quarantined ? raw.quarantined(raw.data, key.data(), key.size()) : 0;
  ok(json_pack("{s:s,s:b,s:I}", "id", name_.c_str(), "quarantined", left > 0, "remaining_ms",
               json_int_t(left)));
}

// ---- static assets: wrangler's upload session, its buckets, the cleanup ------------------

namespace {

// Deletes a script's asset keys that neither its stored manifest (the
// live set) nor an open session of it (its hashes set) names: one SDIFF,
// in Redis's C, whatever the manifest's size (KEYS: the index, the live
// set, the script's sessions; ARGV: the session key and asset key
// prefixes). Past 1000 open sessions it deletes nothing (the next upload
// tries again).
const char kAssetsCleanup[] =
    "local sets = {KEYS[1], KEYS[2]}\n"
    "for _, sid in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
    "  if redis.call('EXISTS', ARGV[1] .. sid) == 1 then\n"
    "    sets[#sets + 1] = ARGV[1] .. sid .. ':hashes'\n"
    "  else\n"
    "    redis.call('SREM', KEYS[3], sid)\n"
    "  end\n"
    "end\n"
    "if #sets > 1002 then return -1 end\n"
    "local stale = redis.call('SDIFF', unpack(sets))\n"
    "for _, h in ipairs(stale) do\n"
    "  redis.call('DEL', ARGV[2] .. h)\n"
    "  redis.call('SREM', KEYS[1], h)\n"
    "end\n"
    "return #stale\n";

constexpr size_t kMaxBucketParts = 1000;
constexpr size_t kDelsPerCommand = 512;
constexpr size_t kCopyBatchBytes = 16 * 1024 * 1024;

}  // namespace

void AdminCall::assets_session() {
  std::string err;
  JsonPtr body = own(body_json(&err));
  if (!body) return fail(400, kCodeValidation, err);
  auto manifest = std::make_shared<AssetUploadManifest>();
  if (!parse_asset_manifest(json_object_get(body.get(), "manifest"), manifest.get(), &err)) {
    return fail(400, kCodeValidation, err);
  }
  std::string sid_bytes, secret;
  if (!asset_random(&sid_bytes, 16) || !asset_random(&secret, 32)) {
    return fail(500, kCodeStore, "no random bytes for the session");
  }
  std::string sid = hex(reinterpret_cast<const unsigned char *>(sid_bytes.data()),
                        sid_bytes.size());
  std::vector<std::string> hashes = asset_hashes(*manifest);
  JsonPtr sizes = own(json_object());
  for (const auto &e : *manifest) {
    json_object_set_new(sizes.get(), e.second.hash.c_str(), json_integer(json_int_t(e.second.size)));
  }
  std::string skey = session_key(ns_, sid);
  std::string per_script = script_sessions_key(ns_, name_);
  std::string ttl = std::to_string(kAssetSessionSeconds);
  long long expires = static_cast<long long>(time(nullptr)) + kAssetSessionSeconds;
  AssetToken upload{ns_, sid, AssetTokenUse::kUpload, secret};
  AssetToken completion{ns_, sid, AssetTokenUse::kCompletion, asset_completion_secret(secret)};
  // The session first: from then on a cleanup keeps its hashes, so what
  // the index says is stored stays stored until the session is used.
  auto self = shared_from_this();
  std::vector<std::vector<std::string>> cmds = {
      {"MULTI"},
      {"HSET", skey, "script", name_, "manifest", asset_manifest_json(*manifest), "sizes",
       dump(sizes.get()), "upload_hash", asset_secret_hash(upload.secret), "completion_hash",
       asset_secret_hash(completion.secret)},
      {"EXPIRE", skey, ttl},
      {"SADD", per_script, sid},
      {"EXPIRE", per_script, ttl}};
  if (!hashes.empty()) {
    std::vector<std::string> add = {"SADD", session_hashes_key(ns_, sid)};
    add.insert(add.end(), hashes.begin(), hashes.end());
    cmds.push_back(std::move(add));
    cmds.push_back({"EXPIRE", session_hashes_key(ns_, sid), ttl});
  }
  cmds.push_back({"EXEC"});
  redis(cmds, [self, manifest, hashes, sid, upload, completion, expires, ttl](Replies &) {
    auto answer = [self, manifest, upload, completion, expires](
                      const std::vector<std::string> &missing) {
      json_t *buckets = json_array();
      for (const auto &bucket : asset_buckets(*manifest, missing)) {
        json_t *b = json_array();
        for (const auto &h : bucket) json_array_append_new(b, json_string(h.c_str()));
        json_array_append_new(buckets, b);
      }
      // nothing to upload: the token is already the completion token
      std::string jwt = asset_token_make(missing.empty() ? completion : upload, expires);
      self->ok(json_pack("{s:s,s:o}", "jwt", jwt.c_str(), "buckets", buckets));
    };
    if (hashes.empty()) return answer({});
    std::vector<std::string> check = {"SMISMEMBER", asset_index_key(self->ns_, self->name_)};
    check.insert(check.end(), hashes.begin(), hashes.end());
    self->redis({check}, [self, hashes, sid, ttl, answer](Replies &r) {
      std::vector<std::string> missing;
      for (size_t i = 0; i < hashes.size(); i++) {
        if (i >= r[0].elements.size() || r[0].elements[i].integer != 1) {
          missing.push_back(hashes[i]);
        }
      }
      if (missing.empty()) return answer(missing);
      std::string pkey = pending_key(self->ns_, sid);
      std::vector<std::string> add = {"SADD", pkey};
      add.insert(add.end(), missing.begin(), missing.end());
      self->redis({{"MULTI"}, add, {"EXPIRE", pkey, ttl}, {"EXEC"}},
                  [answer, missing](Replies &) { answer(missing); });
    });
  });
}

void AdminCall::assets_upload() {
  AssetToken token;
  if (bearer_.empty() || !asset_token_parse(bearer_, &token) ||
      token.use != AssetTokenUse::kUpload || !name_valid(token.ns) || !engine_.serves(token.ns)) {
    return fail(401, kCodeAuth, "the bearer token is not an assets upload token");
  }
  ns_ = token.ns;
  std::string sid = token.sid;
  std::string given = asset_secret_hash(token.secret);
  AssetToken completion{token.ns, sid, AssetTokenUse::kCompletion,
                        asset_completion_secret(token.secret)};
  auto self = shared_from_this();
  redis({{"HMGET", session_key(ns_, sid), "script", "sizes", "upload_hash"},
         {"TTL", session_key(ns_, sid)}},
        [self, sid, given, completion](Replies &r) {
    const auto &f = r[0].elements;
    if (f.size() != 3 || f[0].type != REDIS_REPLY_STRING || !asset_hash_equal(given, f[2].str)) {
      return self->fail(401, kCodeAuth, "the assets upload session has expired, was used "
                                        "already, or is not this token's");
    }
    // asked before nginx reads the body: the bearer is a live session's
    if (self->verify_only_) return self->ok(nullptr);
    self->name_ = f[0].str;
    JsonPtr sizes = own(json_loadb(f[1].str.data(), f[1].str.size(), 0, nullptr));
    std::string boundary, err;
    std::vector<MultipartPart> parts;
    MultipartLimits limits;
    limits.max_parts = kMaxBucketParts;
    if (!multipart_boundary(self->content_type_in_, &boundary, &err) ||
        !multipart_parse(self->request_body_, boundary, limits, &parts, &err)) {
      return self->fail(400, kCodeValidation, err);
    }
    bool base64 = self->query_param("base64") == "true";
    std::string ns = self->ns_;
    std::string name = self->name_;
    // (hash, bytes, type) of each file, checked; stored below
    auto files = std::make_shared<std::vector<std::array<std::string, 3>>>();
    std::set<std::string> seen;
    for (const auto &p : parts) {
      const std::string &hash = p.name;
      json_t *want = json_object_get(sizes.get(), hash.c_str());
      std::string shown = "the part \"" + hash.substr(0, 64) + "\"";
      if (!asset_hash_valid(hash) || !json_is_integer(want)) {
        return self->fail(400, kCodeValidation, shown + " names no file of the session");
      }
      std::string bytes;
      if (!base64) {
        bytes = std::string(p.body);
      } else if (!base64_decode_strict(p.body, &bytes)) {
        return self->fail(400, kCodeValidation, shown + " is not valid base64");
      }
      if (json_int_t(bytes.size()) != json_integer_value(want)) {
        return self->fail(400, kCodeValidation, shown + " is " + std::to_string(bytes.size()) +
                                                    " bytes, the manifest says " +
                                                    std::to_string(json_integer_value(want)));
      }
      // application/null: wrangler's way of saying none
      std::string type = p.content_type == "application/null" ? "" : p.content_type_header;
      if (!asset_type_valid(type)) {
        return self->fail(400, kCodeValidation, shown + " has a Content-Type longer than 255 "
                                                    "bytes or with control bytes");
      }
      if (!seen.insert(hash).second) continue;
      files->push_back({hash, std::move(bytes), type});
    }
    if (seen.empty()) return self->fail(400, kCodeValidation, "the upload has no file");
    std::string().swap(self->request_body_);
    long long expires = static_cast<long long>(time(nullptr)) + std::max(0LL, r[1].integer);
    std::string jwt = asset_token_make(completion, expires);
    // Only a file the session still waits for, and that the script does
    // not have, is written: the contents under a hash never change (the
    // workers' caches never look again), and an upload token is no way to
    // rewrite a file a deployed version serves (its session named it too,
    // as one it did not have to upload).
    std::vector<std::string> waited = {"SMISMEMBER", pending_key(ns, sid)};
    std::vector<std::string> stored = {"SMISMEMBER", asset_index_key(ns, name)};
    for (const auto &f : *files) {
      waited.push_back(f[0]);
      stored.push_back(f[0]);
    }
    self->redis({waited, stored}, [self, files, ns, name, sid, jwt](Replies &m) {
      std::vector<std::vector<std::string>> cmds = {{"MULTI"}};
      std::vector<std::string> pending = {"SREM", pending_key(ns, sid)};
      std::vector<std::string> index = {"SADD", asset_index_key(ns, name)};
      for (size_t i = 0; i < files->size(); i++) {
        auto &f = (*files)[i];
        pending.push_back(f[0]);
        bool wanted = i < m[0].elements.size() && m[0].elements[i].integer == 1 &&
                      i < m[1].elements.size() && m[1].elements[i].integer == 0;
        if (!wanted) continue;
        std::string key = asset_key(ns, name, f[0]);
        cmds.push_back({"DEL", key});
        cmds.push_back({"HSET", key, "body", std::move(f[1]), "type", f[2]});
        index.push_back(f[0]);
      }
      if (index.size() > 2) cmds.push_back(index);
      cmds.push_back(pending);
      cmds.push_back({"SCARD", pending_key(ns, sid)});
      cmds.push_back({"EXEC"});
      self->redis(cmds, [self, jwt](Replies &w) {
        const RedisValue &exec = w.back();
        if (exec.elements.empty()) return self->fail(503, kCodeStore, "the store refused");
        // Cloudflare's answers: 202 while buckets are missing, 201 with the
        // completion token once every one is in
        if (exec.elements.back().integer != 0) {
          return self->ok(json_pack("{s:n}", "jwt"), nullptr, 202);
        }
        self->ok(json_pack("{s:s}", "jwt", jwt.c_str()), nullptr, 201);
      });
    });
  });
}

void AdminCall::assets_cleanup(const std::string &name, std::function<void()> next) {
  auto self = shared_from_this();
  redis({{"EVAL", kAssetsCleanup, "3", asset_index_key(ns_, name), asset_live_key(ns_, name),
          script_sessions_key(ns_, name),
          session_key(ns_, ""), asset_key(ns_, name, "")}},
        [next](Replies &) { next(); });
}

void AdminCall::assets_deletes(const std::string &ns, const std::vector<std::string> &names,
                               CmdsFn next) {
  std::vector<std::vector<std::string>> reads;
  for (const auto &n : names) {
    reads.push_back({"SMEMBERS", asset_index_key(ns, n)});
    reads.push_back({"SMEMBERS", script_sessions_key(ns, n)});
  }
  reads.push_back({"PING"});
  redis(reads, [ns, names, next](Replies &r) {
    std::vector<std::vector<std::string>> cmds;
    for (size_t i = 0; i < names.size(); i++) {
      const std::string &n = names[i];
      std::vector<std::string> del = {"DEL", asset_index_key(ns, n), asset_live_key(ns, n),
                                      script_sessions_key(ns, n)};
      for (const auto &h : r[2 * i].elements) {
        if (del.size() >= kDelsPerCommand) {
          cmds.push_back(std::move(del));
          del = {"DEL"};
        }
        del.push_back(asset_key(ns, n, h.str));
      }
      for (const auto &sid : r[2 * i + 1].elements) {
        del.push_back(session_key(ns, sid.str));
        del.push_back(pending_key(ns, sid.str));
        del.push_back(session_hashes_key(ns, sid.str));
      }
      cmds.push_back(std::move(del));
    }
    next(cmds);
  });
}

void AdminCall::assets_copy(const std::string &from, const std::string &to,
                            const std::vector<std::string> &names, std::function<void()> next) {
  std::vector<std::vector<std::string>> reads;
  for (const auto &n : names) reads.push_back({"SMEMBERS", asset_index_key(from, n)});
  for (const auto &n : names) reads.push_back({"SMEMBERS", asset_live_key(from, n)});
  reads.push_back({"PING"});
  auto self = shared_from_this();
  redis(reads, [self, from, to, names, next](Replies &r) {
    // the live sets first, then the files
    std::vector<std::vector<std::string>> lives;
    for (size_t i = 0; i < names.size(); i++) {
      if (r[names.size() + i].elements.empty()) continue;
      std::vector<std::string> add = {"SADD", asset_live_key(to, names[i])};
      for (const auto &h : r[names.size() + i].elements) add.push_back(h.str);
      lives.push_back(std::move(add));
    }
    // every (script, hash), then their sizes: batches of at most
    // kCopyBatchBytes (a larger file alone) are read and written in turn
    auto keys = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
    for (size_t i = 0; i < names.size(); i++) {
      for (const auto &h : r[i].elements) keys->emplace_back(names[i], h.str);
    }
    if (keys->empty() && lives.empty()) return next();
    for (size_t i = 0; i < names.size(); i++) {
      self->undo_.push_back({"DEL", asset_live_key(to, names[i]), asset_index_key(to, names[i])});
    }
    for (const auto &k : *keys) self->undo_.push_back({"DEL", asset_key(to, k.first, k.second)});
    size_t skip = lives.size();
    std::vector<std::vector<std::string>> lens = std::move(lives);
    for (const auto &k : *keys) lens.push_back({"HSTRLEN", asset_key(from, k.first, k.second), "body"});
    self->redis(lens, [self, from, to, keys, next, skip](Replies &l) {
      auto sizes = std::make_shared<std::vector<long long>>();
      for (size_t i = skip; i < l.size(); i++) sizes->push_back(l[i].integer);
      // The step holds itself only weakly; each Redis callback holds it
      // while its batch is in flight.
      auto step = std::make_shared<std::function<void(size_t)>>();
      std::weak_ptr<std::function<void(size_t)>> weak = step;
      *step = [self, from, to, keys, sizes, next, weak](size_t at) {
        if (at >= keys->size()) return next();
        auto step = weak.lock();
        size_t end = at;
        long long bytes = 0;
        while (end < keys->size() && (end == at || bytes + (*sizes)[end] <= long(kCopyBatchBytes))) {
          bytes += (*sizes)[end++];
        }
        std::vector<std::vector<std::string>> gets;
        for (size_t i = at; i < end; i++) {
          gets.push_back({"HGETALL", asset_key(from, (*keys)[i].first, (*keys)[i].second)});
        }
        self->redis(gets, [self, from, to, keys, at, end, step](Replies &g) {
          std::vector<std::vector<std::string>> puts;
          for (size_t i = at; i < end; i++) {
            const auto &k = (*keys)[i];
            auto f = g[i - at].as_hash();
            if (f.empty()) continue;  // deleted meanwhile
            std::string key = asset_key(to, k.first, k.second);
            puts.push_back({"DEL", key});
            puts.push_back({"HSET", key, "body", f["body"], "type", f["type"]});
            puts.push_back({"SADD", asset_index_key(to, k.first), k.second});
          }
          if (puts.empty()) return (*step)(end);
          self->redis(puts, [self, step, end](Replies &p) {
            for (const RedisValue &v : p) {
              if (v.is_error()) return self->refused(v.str);  // (out of memory)
            }
            (*step)(end);
          });
        });
      };
      (*step)(0);
    });
  });
}

}  // namespace dispatch

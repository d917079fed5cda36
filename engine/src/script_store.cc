#include "script_store.h"

#include "asset_manifest.h"
#include "fleet_quarantine.h"

#include <hiredis/hiredis.h>

#include <cstring>

namespace dispatch {

namespace {

// How long a miss is remembered: short, so a script written straight into
// Redis without a PUBLISH appears quickly, long enough to absorb a flood.
constexpr uint64_t kMissTtlMs = 1000;

ScriptLoad parse_script(const std::string &ns, const std::string &name, size_t max_size,
                        const redisReply *reply) {
  ScriptLoad result{ScriptLoad::Status::kInvalid, nullptr, std::string()};
  if (reply->type == REDIS_REPLY_ERROR) {
    result.status = ScriptLoad::Status::kUnavailable;
    result.error = "Redis answered: " + std::string(reply->str, reply->len);
    return result;
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    result.error = "the script key is not a hash";
    return result;
  }
  if (reply->elements == 0) {
    result.status = ScriptLoad::Status::kNotFound;
    return result;
  }

  auto script = std::make_shared<ScriptSource>();
  script->ns = ns;
  script->name = name;
  script->format = "module";
  bool has_code = false;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const redisReply *f = reply->element[i];
    const redisReply *v = reply->element[i + 1];
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
    std::string field(f->str, f->len);
    std::string value(v->str, v->len);
    if (field == "code") {
      script->code = std::move(value);
      has_code = true;
    } else if (field == "format") {
      script->format = std::move(value);
    } else if (field == "etag") {
      script->etag = std::move(value);
    } else if (field == "metadata") {
      script->metadata = std::move(value);
    } else if (field == "kv_namespace") {
      script->kv_namespace = std::move(value);
    } else if (field == "created_on") {
      script->created_on = std::move(value);
    } else if (field == "assets") {
      script->assets_json = std::move(value);
    } else if (field.compare(0, strlen(ScriptStore::kModulePrefix),
                             ScriptStore::kModulePrefix) == 0) {
      script->modules[field.substr(strlen(ScriptStore::kModulePrefix))] = std::move(value);
    } else if (field.compare(0, strlen(ScriptStore::kWasmPrefix), ScriptStore::kWasmPrefix) == 0) {
      script->wasm_modules[field.substr(strlen(ScriptStore::kWasmPrefix))] = std::move(value);
    }
  }

  if (!has_code) {
    result.error = "the script has no \"code\" field";
  } else if (script->format != "module" && script->format != "service-worker") {
    result.error = "unknown format \"" + script->format + "\"";
  } else if (script->metadata.size() > ScriptStore::kMaxMetadataBytes) {
    result.error = "the script's metadata is " + std::to_string(script->metadata.size()) +
                   " bytes, more than " + std::to_string(ScriptStore::kMaxMetadataBytes) +
                   " (bindings, tags and limits together)";
  } else if (script->size() > max_size) {
    result.error = "the script is " + std::to_string(script->size()) +
                   " bytes, more than dispatch_script_max_size (" +
                   std::to_string(max_size) + ")";
  } else if (!script->assets_json.empty() &&
             !(script->assets = AssetManifest::parse(script->assets_json, script->metadata,
                                                     &result.error))) {
    result.error = "its static assets: " + result.error;
  } else {
    result.status = ScriptLoad::Status::kFound;
    result.script = std::move(script);
  }
  return result;
}

}  // namespace

const char ScriptStore::kEventsChannel[] = "dispatch:events";
const char ScriptStore::kModulePrefix[] = "module:";
const char ScriptStore::kWasmPrefix[] = "wasm:";

size_t ScriptSource::size() const {
  size_t total = code.size();
  for (const auto &m : modules) total += m.second.size();
  for (const auto &m : wasm_modules) total += m.second.size();
  return total;
}

bool ScriptSource::same_version(const ScriptSource &other) const {
  // A writer that changes code should change etag too (SPEC 3); without an
  // etag, or with a careless writer, the content itself decides.
  return etag == other.etag && format == other.format && code == other.code &&
         metadata == other.metadata && modules == other.modules &&
         wasm_modules == other.wasm_modules &&
         kv_namespace == other.kv_namespace && created_on == other.created_on &&
         assets_json == other.assets_json;
}

std::string ScriptStore::script_key(const std::string &ns, const std::string &name) {
  // The braces are a Redis Cluster hash tag: one namespace, one slot.
  return "dispatch:{" + ns + "}:script:" + name;
}

ScriptStore::ScriptStore(const Host &host, RedisLink &redis, ScriptStoreConfig config)
    : host_(host), redis_(redis), config_(config) {}

bool ScriptStore::fresh(const Entry &entry, uint64_t now) const {
  if (!entry.cached || entry.revalidate) return false;
  uint64_t ttl = entry.load.status == ScriptLoad::Status::kFound
                     ? config_.cache_ttl_ms
                     : std::min(config_.cache_ttl_ms, kMissTtlMs);
  return now - entry.validated_at < ttl;
}

bool ScriptStore::known_missing(const std::string &ns, const std::string &name) const {
  auto it = entries_.find(ns + "/" + name);
  return it != entries_.end() && !it->second.loading &&
         it->second.load.status == ScriptLoad::Status::kNotFound &&
         fresh(it->second, monotonic_ms());
}

// Stamped, not moved to the front of lru_: with many tenants in turn the
// move touched the node's two neighbours, cold in the CPU's caches, on
// every request (the isolate pool does the same, isolate_pool.cc).
void ScriptStore::touch(Entry &entry) {
  entry.last_use = ++uses_;
}

void ScriptStore::charge(const std::string &key, Entry &entry) {
  bytes_ -= entry.charged;
  const ScriptSource *script = entry.load.script.get();
  entry.charged = kEntryOverhead + key.size() +
                  (script ? script->size() + (script->assets ? script->assets->bytes() : 0) : 0);
  bytes_ += entry.charged;
}

void ScriptStore::load(const std::string &ns, const std::string &name, Callback cb) {
  std::string key = ns + "/" + name;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    lru_.push_front(key);
    it = entries_.emplace(key, Entry()).first;
    it->second.lru = lru_.begin();
    it->second.listed_use = uses_ + 1;  // the touch() below
    charge(key, it->second);
  }
  Entry &entry = it->second;
  touch(entry);

  if (!entry.loading && fresh(entry, monotonic_ms())) {
    stats_.hits++;
    cb(entry.load);  // the hot path: no Redis
    return;
  }
  // A request that waits for Redis is a miss, whether it started the
  // load or joined one in flight.
  stats_.misses++;
  entry.waiters.push_back(std::move(cb));
  if (!entry.loading) {
    if (entry.cached) stats_.revalidations++;
    entry.loading = true;
    entry.invalidated = false;
    fetch(key, entry, entry.cached && entry.load.script && !entry.load.script->etag.empty());
  }
}

// Revalidation asks for the etag alone; the code crosses the network only
// when it changed.
void ScriptStore::fetch(const std::string &key, Entry &entry, bool check_etag_first) {
  if (!check_etag_first) {
    fetch_full(key);
    return;
  }
  const ScriptSource &cached = *entry.load.script;
  std::string etag = cached.etag;
  redis_.command({"HGET", script_key(cached.ns, cached.name), "etag"},
                 [this, key, etag](const redisReply *reply, const std::string &error) {
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      complete(key, {ScriptLoad::Status::kUnavailable, nullptr,
                     reply ? std::string(reply->str, reply->len) : error});
      return;
    }
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (reply->type == REDIS_REPLY_STRING && etag == std::string(reply->str, reply->len)) {
      complete(key, it->second.load);  // unchanged
      return;
    }
    fetch_full(key);
  });
}

void ScriptStore::fetch_full(const std::string &key) {
  size_t slash = key.find('/');
  std::string ns = key.substr(0, slash);
  std::string name = key.substr(slash + 1);
  size_t max_size = config_.max_size;
  // The fleet's penalty box (fleet_quarantine.h) in the same round trip:
  // one slot, one connection, answered in order.
  auto quarantine_ms = std::make_shared<long long>(0);
  redis_.command({"PTTL", FleetQuarantine::redis_key(ns, name)},
                 [quarantine_ms](const redisReply *reply, const std::string &) {
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) *quarantine_ms = reply->integer;
  });
  redis_.command({"HGETALL", script_key(ns, name)},
                 [this, key, ns, name, max_size, quarantine_ms](const redisReply *reply,
                                                                const std::string &error) {
    if (reply == nullptr) {
      complete(key, {ScriptLoad::Status::kUnavailable, nullptr, error});
      return;
    }
    ScriptLoad load = parse_script(ns, name, max_size, reply);
    if (*quarantine_ms > 0) load.quarantine_until = monotonic_ms() + uint64_t(*quarantine_ms);
    complete(key, std::move(load));
  });
}

void ScriptStore::complete(const std::string &key, ScriptLoad result) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry &entry = it->second;
  uint64_t now = monotonic_ms();

  if (result.status == ScriptLoad::Status::kUnavailable) {
    bool stale_ok = entry.cached && entry.load.status == ScriptLoad::Status::kFound &&
                    now - entry.validated_at < config_.cache_ttl_ms + config_.stale_ttl_ms;
    if (stale_ok) {
      result = entry.load;  // served stale; revalidated again on next use
    }
  } else {
    entry.load = result;
    entry.cached = true;
    entry.validated_at = now;
    // A PUBLISH during the load may describe a newer version than we read.
    entry.revalidate = entry.invalidated;
    charge(key, entry);
  }

  entry.loading = false;
  std::vector<Callback> waiters;
  waiters.swap(entry.waiters);
  bool keep = entry.cached;
  if (!keep) {
    bytes_ -= entry.charged;
    lru_.erase(entry.lru);
    entries_.erase(it);
  }
  for (auto &cb : waiters) cb(result);  // may start new loads
  evict();
}

void ScriptStore::invalidate(const std::string &ns_name) {
  auto it = entries_.find(ns_name);
  if (it == entries_.end()) return;
  it->second.revalidate = true;
  it->second.invalidated = true;
}

void ScriptStore::invalidate_all() {
  for (auto &e : entries_) {
    e.second.revalidate = true;
    e.second.invalidated = true;
  }
}

void ScriptStore::evict() {
  auto victim = lru_.end();
  while ((entries_.size() > config_.max_entries || bytes_ > config_.max_bytes) &&
         victim != lru_.begin()) {
    --victim;
    auto it = entries_.find(*victim);
    if (it->second.listed_use != it->second.last_use) {
      // Used since it took its place: it goes first, and the walk meets it
      // last (of those not used since, the last is the least recently used).
      it->second.listed_use = it->second.last_use;
      auto used = victim++;
      lru_.splice(lru_.begin(), lru_, used);
      continue;
    }
    if (it->second.loading) continue;  // its waiters still need it
    bytes_ -= it->second.charged;
    victim = lru_.erase(victim);
    entries_.erase(it);
  }
}

}  // namespace dispatch

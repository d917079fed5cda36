// script_store.h: tenant scripts from Redis (SPEC section 3), cached per
// worker process.
//
// A cached script costs no Redis round trip. After cache_ttl it is
// revalidated before use (its etag first; the code only when that changed).
// PUBLISH dispatch:events NS/NAME, heard on a subscription of its own,
// marks it for revalidation at once; so does a resubscription after an
// outage, since messages may have been missed. While Redis is away, a
// cached script keeps serving up to stale_ttl past its TTL. Misses are
// remembered briefly, loads of one script are coalesced, and the cache is
// bounded (least recently used first out) by bytes, each entry counted with
// an overhead so that tiny scripts and remembered misses are bounded too,
// and by a count far above any pool: a platform's many small tenants stay
// cached, so an isolate evicted from the pool starts again without Redis.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "clock.h"
#include "redis_link.h"

namespace dispatch {

struct ScriptMetrics;
class AssetManifest;

struct ScriptSource {
  std::string ns;
  std::string name;
  std::string code;       // the main module
  std::string format;     // "module" or "service-worker"
  std::string etag;
  std::string metadata;   // raw JSON, may be empty
  std::map<std::string, std::string> modules;  // further modules by path
  // WebAssembly modules by path (wasm:PATH fields), as uploaded: the engine
  // compiles them when the script imports them.
  std::map<std::string, std::string> wasm_modules;
  // The namespace name its KV data lives under: the namespace's name when
  // it was created (a rename moves scripts, never KV data); empty: ns.
  std::string kv_namespace;
  // When the management API first stored it (kept across updates and
  // renames); a script deleted and uploaded again gets a new one, so the
  // Cache API gives it a cache of its own. Empty for scripts written to
  // Redis by hand.
  std::string created_on;
  // Its static assets (the `assets` field, asset_manifest.h), parsed once
  // per load; null: none.
  std::string assets_json;
  std::shared_ptr<const AssetManifest> assets;

  // The isolate pool's slot of the isolate built from this very load, while
  // there is one (opaque here; IsolatePool sets and clears it): the warm
  // path finds its isolate without a lookup by name (a cache miss or more
  // per request among many tenants). Event-loop thread only.
  mutable void *pool_slot = nullptr;
  // Its counters in Metrics during the drain numbered metrics_drain
  // (Metrics keeps both; a drain makes them stale): no lookup by name as a
  // request ends.
  mutable ScriptMetrics *metrics = nullptr;
  mutable uint64_t metrics_drain = 0;

  size_t size() const;
  // What decides whether an isolate built from an older load still fits.
  bool same_version(const ScriptSource &other) const;
};

struct ScriptLoad {
  enum class Status { kFound, kNotFound, kUnavailable, kInvalid };
  Status status;
  std::shared_ptr<const ScriptSource> script;
  std::string error;  // for the log, never for the client
  // When (monotonic ms) the fleet's quarantine of the script ends, as its
  // key said when the script was read from Redis; 0: none.
  uint64_t quarantine_until = 0;
};

struct ScriptStoreConfig {
  size_t max_size = 10 << 20;        // dispatch_script_max_size
  uint64_t cache_ttl_ms = 10000;     // dispatch_cache_ttl
  uint64_t stale_ttl_ms = 3600000;   // dispatch_stale_ttl
  size_t max_entries = 65536;
  size_t max_bytes = 256 << 20;      // scripts plus kEntryOverhead each
};

class ScriptStore {
 public:
  using Callback = std::function<void(const ScriptLoad &)>;

  ScriptStore(const Host &host, RedisLink &redis, ScriptStoreConfig config);

  // The callback runs before load() returns when the script is cached.
  void load(const std::string &ns, const std::string &name, Callback cb);

  // A fresh answer "no such script" is cached: no need to ask Redis.
  // For dispatch_status: counted since the last take.
  struct Stats {
    uint64_t hits = 0;           // requests served from the cache
    uint64_t misses = 0;         // requests that waited for Redis
    uint64_t revalidations = 0;  // loads of a cached script (its TTL ran
                                 // out, or a change was announced)
  };
  Stats take_stats() {
    Stats s = stats_;
    stats_ = Stats();
    return s;
  }

  bool known_missing(const std::string &ns, const std::string &name) const;

  // PUBLISH dispatch:events NS/NAME arrived.
  void invalidate(const std::string &ns_name);
  // Messages may have been missed: revalidate everything before next use.
  void invalidate_all();


  static std::string script_key(const std::string &ns, const std::string &name);
  static const char kEventsChannel[];
  // The field prefixes of a script's further modules (SPEC 3): JavaScript
  // source, and WebAssembly bytes.
  static const char kModulePrefix[];
  static const char kWasmPrefix[];
  // The largest metadata (bindings, tags, flags, limits as JSON) stored or
  // loaded: every isolate of the script parses it as it starts, outside
  // any CPU limit (an 8 MB json binding held the worker ~1 s per start).
  // Cloudflare holds a variable to 5 KB.
  static constexpr size_t kMaxMetadataBytes = 1 << 20;
  // What an entry is counted as beyond its script's bytes: its key, the
  // entry and the ScriptSource with their allocations (an estimate on the
  // generous side; not measured).
  static constexpr size_t kEntryOverhead = 1024;

 private:
  struct Entry {
    ScriptLoad load;             // kFound, kNotFound or kInvalid
    bool cached = false;         // load holds an answer from Redis
    uint64_t validated_at = 0;   // when Redis last confirmed it
    bool revalidate = false;     // ask Redis before the next use (PUBLISH)
    bool loading = false;
    bool invalidated = false;    // a PUBLISH arrived during the load
    std::vector<Callback> waiters;
    std::list<std::string>::iterator lru;
    // The store's count of loads at its last one, and when it took its
    // place in lru_ (touch() stamps; evict() moves what was used since).
    uint64_t last_use = 0;
    uint64_t listed_use = 0;
    size_t charged = 0;          // what it adds to bytes_
  };

  void fetch(const std::string &key, Entry &entry, bool check_etag_first);
  void fetch_full(const std::string &key);
  void complete(const std::string &key, ScriptLoad result);
  bool fresh(const Entry &entry, uint64_t now) const;
  void touch(Entry &entry);
  // Counts entry at its size now, in bytes_.
  void charge(const std::string &key, Entry &entry);
  void evict();

  const Host &host_;
  Stats stats_;
  RedisLink &redis_;
  ScriptStoreConfig config_;
  std::unordered_map<std::string, Entry> entries_;  // by "ns/name"
  std::list<std::string> lru_;                      // most recently listed first
  uint64_t uses_ = 0;                               // loads asked for
  size_t bytes_ = 0;
};

}  // namespace dispatch

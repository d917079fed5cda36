// asset_store.h: the contents of scripts' static assets, from Redis
// (dispatch:{NS}:asset:NAME:HASH, a hash of `body` and `type`), cached per
// worker process.
//
// A cached asset costs no Redis round trip. Contents are immutable under
// their key (a hash names one content; an upload never rewrites one), so
// the cache needs no revalidation: a script's new version names new hashes.
// The cache is bounded by bytes (dispatch_asset_cache), least recently used
// out first, but a script holding a quarter of it or more makes room with
// its own files (one tenant's many files do not push every other tenant's
// out); an asset larger than a quarter of it is served but not kept,
// though shared by every response that sends it while any does. Loads of
// one asset are coalesced. Reads go over the KV links, so a large
// asset never holds up a script load.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis_link.h"

namespace dispatch {

struct AssetContent {
  std::string body;
  std::string type;  // as uploaded; may be empty
};

class AssetStore {
 public:
  // content is null when the asset is not there (error empty) or Redis
  // failed (error says why).
  using Callback =
      std::function<void(std::shared_ptr<const AssetContent> content, const std::string &error)>;

  AssetStore(std::vector<RedisLink *> links, size_t max_bytes)
      : links_(std::move(links)), max_bytes_(max_bytes) {}

  // `version` tells apart two scripts of one name (deleted and uploaded
  // again: created_on), whose hashes need not mean the same bytes.
  // The content when it is cached (no allocation, no callback: the path of
  // almost every request for an asset), else null.
  // hash_hi and hash_lo are the 16 bytes the hash's hex spells.
  std::shared_ptr<const AssetContent> cached(const std::string &ns, const std::string &script,
                                             const std::string &version, uint64_t hash_hi,
                                             uint64_t hash_lo);
  // Reads it from Redis (or joins a read under way); the callback runs
  // later, or before get() returns when Redis is known to be away. hash is
  // the hex of hash_hi and hash_lo (the manifest parsed it once).
  void get(const std::string &ns, const std::string &script, const std::string &version,
           const std::string &hash, uint64_t hash_hi, uint64_t hash_lo, Callback cb);

  static std::string key(const std::string &ns, const std::string &script, const std::string &hash) {
    return "dispatch:{" + ns + "}:asset:" + script + ":" + hash;
  }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  // Counted since the last take (dispatch_status).
  Stats take_stats() {
    Stats s = stats_;
    stats_ = Stats();
    return s;
  }
  size_t bytes() const { return bytes_; }

 private:
  // Entries by the 16 bytes the hash's hex spells; the script they belong
  // to (ns, name, version) is in the slot's owner: the lookup of a cached
  // asset builds no string.
  struct Key {
    uint64_t hi = 0, lo = 0;
    bool operator==(const Key &o) const { return hi == o.hi && lo == o.lo; }
  };
  struct KeyHash {
    size_t operator()(const Key &k) const { return size_t(k.hi ^ (k.lo * 0x9e3779b97f4a7c15ull)); }
  };
  using LruList = std::list<std::pair<Key, std::string>>;  // (key, owner), most recent first
  // A script's cached files (every version of it), most recent first.
  struct Tenant {
    size_t bytes = 0;
    LruList lru;
  };
  struct Slot {
    std::string owner;  // "ns\0name\0version"
    std::shared_ptr<const AssetContent> content;  // null while loading
    // Too large to keep: shared while responses hold it (a copy a request
    // made 25 slow clients of one 20 MB file 500 MB of this worker).
    std::weak_ptr<const AssetContent> loose;
    bool is_loose = false;
    bool loading = false;
    std::vector<Callback> waiters;
    LruList::iterator lru;
    Tenant *tenant = nullptr;  // listed: its script's, and
    LruList::iterator tenant_lru;  // its place there
    bool listed = false;
  };
  Slot *find(const Key &key, const std::string &ns, const std::string &script,
             const std::string &version);
  void complete(Key key, const std::string &owner, std::shared_ptr<const AssetContent> content,
                const std::string &error);
  void erase(const Key &key, const std::string &owner);
  void load(const Key &key, const std::string &ns, const std::string &script,
            const std::string &hash, const std::string &owner);
  // Forgets loose slots whose content no response holds any more.
  void sweep();
  RedisLink &pick() const;

  std::vector<RedisLink *> links_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  Stats stats_;
  std::unordered_map<Key, std::list<Slot>, KeyHash> entries_;
  LruList lru_;
  std::unordered_map<std::string, Tenant> tenants_;  // by "ns\0name"
  size_t loose_ = 0;  // loose slots, live or not
  size_t sweep_at_ = 1024;
};

}  // namespace dispatch

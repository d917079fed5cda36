// asset_store.h: the contents of scripts' static assets, from Redis
// (dispatch:{NS}:asset:NAME:HASH, a hash of `body` and `type`), cached per
// worker process.
//
// A cached asset costs no Redis round trip. Contents are immutable under
// their key (a hash names one content; an upload never rewrites one), so
// the cache needs no revalidation: a script's new version names new hashes.
// The cache is bounded by bytes (dispatch_asset_cache), least recently used
// out first; an asset larger than a quarter of it is served but not kept.
// Loads of one asset are coalesced. Reads go over the KV links, so a large
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
  // The callback may run before get() returns (cached).
  void get(const std::string &ns, const std::string &script, const std::string &version,
           const std::string &hash, Callback cb);

  static std::string key(const std::string &ns, const std::string &script, const std::string &hash) {
    return "dispatch:{" + ns + "}:asset:" + script + ":" + hash;
  }

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  const Stats &stats() const { return stats_; }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::shared_ptr<const AssetContent> content;  // null while loading
    std::vector<Callback> waiters;
    std::list<std::string>::iterator lru;
    bool listed = false;
  };
  void complete(const std::string &id, std::shared_ptr<const AssetContent> content,
                const std::string &error);
  RedisLink &pick() const;

  std::vector<RedisLink *> links_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  Stats stats_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recently used first
};

}  // namespace dispatch

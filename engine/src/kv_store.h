// kv_store.h: Workers KV on Redis (SPEC section 3).
//
// Every Redis key is built here, in C++, from the script's namespace, the
// binding's KV namespace id and the tenant's key, under the hash tag
// {NS/ID}; nothing a tenant passes can reach another KV namespace or the
// platform's own keys. Layout (README "KV encoding"), with P = dispatch:kv:{NS/ID}:
//   P v:KEY    hash   v = value bytes, m = metadata JSON (optional);
//                     Redis expires it (PEXPIREAT) when the entry has a TTL
//   P index    zset   every key, score 0: list() walks it with ZRANGEBYLEX
//   P expiry   zset   keys with an expiry, score = expiry in ms
//   P sizes    hash   key -> bytes charged (key, value, metadata and the
//                     per-entry overhead: kPut in kv_store.cc)
//   P bytes    string the namespace's total, checked against the quota
// Writes run as Lua scripts, so the quota check and the index move with the
// write atomically; expired keys are purged from the index (and their bytes
// refunded) by every write and list, a bounded number at a time.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "clock.h"
#include "redis_link.h"

namespace dispatch {

struct KvEntry {
  std::string key;
  int64_t expiration = 0;  // seconds since the epoch, 0: none
  std::string metadata;    // JSON, empty: none
};

// KvResult::error's prefix for an error Redis itself answered.
inline const std::string kKvStoreError = "STORE ";

struct KvResult {
  std::string error;        // set on failure (Redis away, quota)
  bool found = false;       // get
  std::string value;        // get
  std::string metadata;     // get: JSON or empty
  std::vector<KvEntry> keys;  // list
  bool list_complete = true;
  std::string cursor;
};

class KvStore {
 public:
  using Callback = std::function<void(KvResult)>;

  // links: the connections KV commands may take (at least one). Each
  // operation goes whole over the one with the fewest commands in flight:
  // a tenant reading a 20 MiB value holds up one link, not every KV
  // operation of the worker behind it.
  KvStore(std::vector<RedisLink *> links, uint64_t quota) : links_(std::move(links)), quota_(quota) {}

  // `space` is "NS/ID": both validated by the caller.
  void get(const std::string &space, const std::string &key, Callback cb);
  void put(const std::string &space, const std::string &key, const std::string &value,
           const std::string &metadata, int64_t expire_at_ms, Callback cb);
  void remove(const std::string &space, const std::string &key, Callback cb);
  void list(const std::string &space, const std::string &prefix, size_t limit,
            const std::string &cursor, Callback cb);

  static std::string prefix(const std::string &space) { return "dispatch:kv:{" + space + "}:"; }

 private:
  // EVALSHA, and EVAL only when Redis does not know the script yet (after a
  // restart or SCRIPT FLUSH): the script crosses the network once.
  struct LuaScript;
  void run_script(RedisLink &link, const LuaScript &script,
                  std::vector<std::string> keys_and_args, RedisLink::Callback cb);
  // WAIT goes over the link that carried the write.
  RedisLink::Callback confirmed(RedisLink &link, const std::string &key, Callback cb);
  RedisLink &pick() const;

  std::vector<RedisLink *> links_;
  uint64_t quota_;
};

}  // namespace dispatch

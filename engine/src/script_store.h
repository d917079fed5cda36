// script_store.h: reads tenant scripts from Redis (SPEC section 3).
//
// Today every load asks Redis; the per-worker cache with TTL, stale serving
// and PUBLISH invalidation goes in here without changing its callers.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "redis_client.h"

namespace dispatch {

struct ScriptSource {
  std::string ns;
  std::string name;
  std::string code;       // the main module
  std::string format;     // "module" or "service-worker"
  std::string etag;
  std::string metadata;   // raw JSON, may be empty
  std::map<std::string, std::string> modules;  // further modules by path

  // What decides whether an isolate built from an older load still fits.
  bool same_version(const ScriptSource &other) const;
};

struct ScriptLoad {
  enum class Status { kFound, kNotFound, kUnavailable, kInvalid };
  Status status;
  std::shared_ptr<const ScriptSource> script;
  std::string error;  // for the log, never for the client
};

class ScriptStore {
 public:
  using Callback = std::function<void(ScriptLoad)>;

  ScriptStore(RedisClient &redis, size_t max_size)
      : redis_(redis), max_size_(max_size) {}

  // The callback may run before load() returns.
  void load(const std::string &ns, const std::string &name, Callback cb);

  static std::string script_key(const std::string &ns, const std::string &name);

 private:
  RedisClient &redis_;
  size_t max_size_;
};

}  // namespace dispatch

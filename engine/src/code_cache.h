// code_cache.h: V8's code caches of tenants' modules, in this process's
// memory only.
//
// Made after a script's first successful start, consumed when an isolate
// for the same module source starts again (a new worker isolate after an
// eviction, churn). V8 does not authenticate a code cache and checks only
// the source's length against it, so the key is a SHA-256 of the module's
// path and source, with V8's CachedDataVersionTag(): a module can only ever
// get the cache made from its own source. No tenant can write here; a
// checksum taken when a cache is stored is checked before V8 reads it. At
// most capacity bytes, least recently used dropped first.
#pragma once

#include <v8.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

namespace dispatch {

class CodeCache {
 public:
  // dispatch_code_cache: 0 keeps none.
  void set_capacity(size_t bytes);
  size_t capacity() const { return capacity_; }
  size_t size() const { return bytes_; }

  static std::string key(const std::string &path, const std::string &source);

  // The cache for key, as CachedData V8 owns the struct of (its bytes stay
  // here until forget or eviction), or null.
  std::unique_ptr<v8::ScriptCompiler::CachedData> find(const std::string &key);
  bool has(const std::string &key) const { return entries_.count(key) != 0; }
  void store(const std::string &key, const uint8_t *data, size_t length);
  // V8 rejected it: the next start makes another.
  void forget(const std::string &key);

 private:
  struct Entry {
    std::string bytes;
    uint64_t checksum;
    std::list<std::string>::iterator lru;
  };
  void evict_to(size_t bytes);

  size_t capacity_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // most recent first
};

// The process's (one engine per worker process).
CodeCache &code_cache();

}  // namespace dispatch

#include "code_cache.h"

#include <openssl/evp.h>

#include <functional>
#include <string_view>

namespace dispatch {

namespace {

uint64_t checksum_of(const std::string &bytes) {
  return std::hash<std::string_view>()(std::string_view(bytes));
}

}  // namespace

CodeCache &code_cache() {
  static CodeCache cache;
  return cache;
}

void CodeCache::set_capacity(size_t bytes) {
  capacity_ = bytes;
  evict_to(capacity_);
}

std::string CodeCache::key(const std::string &path, const std::string &source) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string input;
  input.reserve(path.size() + 1 + source.size());
  input.append(path).append(1, '\0').append(source);  // no path can forge the separator
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  uint32_t tag = v8::ScriptCompiler::CachedDataVersionTag();
  std::string out(reinterpret_cast<const char *>(md), len);
  out.append(reinterpret_cast<const char *>(&tag), sizeof(tag));
  return out;
}

std::unique_ptr<v8::ScriptCompiler::CachedData> CodeCache::find(const std::string &key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (checksum_of(it->second.bytes) != it->second.checksum) {
    forget(key);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  const std::string &bytes = it->second.bytes;
  // BufferNotOwned: V8 reads the bytes during the compile only.
  return std::make_unique<v8::ScriptCompiler::CachedData>(
      reinterpret_cast<const uint8_t *>(bytes.data()), int(bytes.size()),
      v8::ScriptCompiler::CachedData::BufferNotOwned);
}

void CodeCache::store(const std::string &key, const uint8_t *data, size_t length) {
  if (key.empty() || length == 0 || length > capacity_ / 4 || has(key)) return;
  evict_to(capacity_ - length);
  lru_.push_front(key);
  Entry entry{std::string(reinterpret_cast<const char *>(data), length), 0, lru_.begin()};
  entry.checksum = checksum_of(entry.bytes);
  bytes_ += length;
  entries_.emplace(key, std::move(entry));
}

void CodeCache::forget(const std::string &key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  bytes_ -= it->second.bytes.size();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void CodeCache::evict_to(size_t bytes) {
  while (bytes_ > bytes && !lru_.empty()) forget(lru_.back());
}

}  // namespace dispatch

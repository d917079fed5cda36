#include "asset_store.h"

#include <hiredis/hiredis.h>

namespace dispatch {

namespace {

// What an entry costs beyond its bytes: the key, the node, the content
// object (generous, not measured).
constexpr size_t kEntryOverhead = 256;
// The longest content type kept (the management API stores at most 255
// bytes; a hand-written one may be anything).
constexpr size_t kMaxTypeBytes = 255;

bool clean_type(const std::string &t) {
  if (t.size() > kMaxTypeBytes) return false;
  for (unsigned char c : t) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

RedisLink &AssetStore::pick() const {
  RedisLink *best = links_.front();
  for (RedisLink *link : links_) {
    if (link->in_flight() < best->in_flight()) best = link;
  }
  return *best;
}

void AssetStore::get(const std::string &ns, const std::string &script, const std::string &version,
                     const std::string &hash, Callback cb) {
  std::string id = ns + '\0' + script + '\0' + version + '\0' + hash;
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second.content) {
    stats_.hits++;
    Entry &e = it->second;
    if (e.listed) lru_.splice(lru_.begin(), lru_, e.lru);
    std::shared_ptr<const AssetContent> content = e.content;
    cb(content, std::string());
    return;
  }
  stats_.misses++;
  if (it != entries_.end()) {  // a load is under way: wait for it
    it->second.waiters.push_back(std::move(cb));
    return;
  }
  entries_[id].waiters.push_back(std::move(cb));
  std::string key = AssetStore::key(ns, script, hash);
  pick().command_for(key, {"HMGET", key, "body", "type"},
                     [this, id](const redisReply *reply, const std::string &error) {
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      complete(id, nullptr, reply ? std::string(reply->str, reply->len) : error);
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
      complete(id, nullptr, std::string());  // not there
      return;
    }
    auto content = std::make_shared<AssetContent>();
    content->body.assign(reply->element[0]->str, reply->element[0]->len);
    if (reply->element[1]->type == REDIS_REPLY_STRING) {
      content->type.assign(reply->element[1]->str, reply->element[1]->len);
      if (!clean_type(content->type)) content->type.clear();
    }
    complete(id, std::move(content), std::string());
  });
}

void AssetStore::complete(const std::string &id, std::shared_ptr<const AssetContent> content,
                          const std::string &error) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::vector<Callback> waiters;
  waiters.swap(it->second.waiters);
  size_t cost = content ? content->body.size() + content->type.size() + id.size() + kEntryOverhead
                        : 0;
  if (content && cost <= max_bytes_ / 4) {
    Entry &e = it->second;
    e.content = content;
    lru_.push_front(id);
    e.lru = lru_.begin();
    e.listed = true;
    bytes_ += cost;
    while (bytes_ > max_bytes_ && !lru_.empty()) {
      auto victim = entries_.find(lru_.back());
      lru_.pop_back();
      if (victim == entries_.end()) continue;
      const AssetContent &c = *victim->second.content;
      bytes_ -= c.body.size() + c.type.size() + victim->first.size() + kEntryOverhead;
      entries_.erase(victim);
    }
  } else {
    entries_.erase(it);  // served to its waiters, not kept
  }
  for (Callback &cb : waiters) cb(content, error);
}

}  // namespace dispatch

#include "asset_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>
#include <iterator>

namespace dispatch {

namespace {

// What an entry costs beyond its bytes: the key, the slot, the list node,
// the content object (generous, not measured).
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

// owner == ns + '\0' + script + '\0' + version, without building it.
bool owned_by(const std::string &owner, const std::string &ns, const std::string &script,
              const std::string &version) {
  if (owner.size() != ns.size() + script.size() + version.size() + 2) return false;
  const char *p = owner.data();
  if (memcmp(p, ns.data(), ns.size()) != 0 || p[ns.size()] != '\0') return false;
  p += ns.size() + 1;
  if (memcmp(p, script.data(), script.size()) != 0 || p[script.size()] != '\0') return false;
  p += script.size() + 1;
  return memcmp(p, version.data(), version.size()) == 0;
}

size_t cost(const std::string &owner, const AssetContent &c) {
  return c.body.size() + c.type.size() + owner.size() + kEntryOverhead;
}

}  // namespace

RedisLink &AssetStore::pick() const {
  RedisLink *best = links_.front();
  for (RedisLink *link : links_) {
    if (link->in_flight() < best->in_flight()) best = link;
  }
  return *best;
}

AssetStore::Slot *AssetStore::find(const Key &key, const std::string &ns, const std::string &script,
                                   const std::string &version) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  for (Slot &slot : it->second) {
    if (owned_by(slot.owner, ns, script, version)) return &slot;
  }
  return nullptr;
}

std::shared_ptr<const AssetContent> AssetStore::cached(const std::string &ns,
                                                       const std::string &script,
                                                       const std::string &version,
                                                       uint64_t hash_hi, uint64_t hash_lo) {
  Key key;
  key.hi = hash_hi;
  key.lo = hash_lo;
  Slot *slot = find(key, ns, script, version);
  if (slot == nullptr) return nullptr;
  if (!slot->content) {
    std::shared_ptr<const AssetContent> loose = slot->loose.lock();
    if (loose) stats_.hits++;
    return loose;
  }
  stats_.hits++;
  if (slot->listed) {
    lru_.splice(lru_.begin(), lru_, slot->lru);
    slot->tenant->lru.splice(slot->tenant->lru.begin(), slot->tenant->lru, slot->tenant_lru);
  }
  return slot->content;
}

void AssetStore::get(const std::string &ns, const std::string &script, const std::string &version,
                     const std::string &hash, uint64_t hash_hi, uint64_t hash_lo, Callback cb) {
  Key key;
  key.hi = hash_hi;
  key.lo = hash_lo;
  if (Slot *slot = find(key, ns, script, version)) {
    std::shared_ptr<const AssetContent> content =
        slot->content ? slot->content : slot->loose.lock();
    if (content) {
      cb(content, std::string());
      return;
    }
    slot->waiters.push_back(std::move(cb));
    if (slot->loading) return;  // a read is under way: wait for it
    // a loose content no response holds any more: read it again
    stats_.misses++;
    slot->loading = true;
    load(key, ns, script, hash, slot->owner);
    return;
  }
  stats_.misses++;
  std::string owner = ns + '\0' + script + '\0' + version;
  Slot slot;
  slot.owner = owner;
  slot.loading = true;
  slot.waiters.push_back(std::move(cb));
  entries_[key].push_back(std::move(slot));
  load(key, ns, script, hash, owner);
}

void AssetStore::load(const Key &key, const std::string &ns, const std::string &script,
                      const std::string &hash, const std::string &owner) {
  std::string redis_key = AssetStore::key(ns, script, hash);
  pick().command_for(redis_key, {"HMGET", redis_key, "body", "type"},
                     [this, key, owner](const redisReply *reply, const std::string &error) {
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      complete(key, owner, nullptr, reply ? std::string(reply->str, reply->len) : error);
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
      complete(key, owner, nullptr, std::string());  // not there
      return;
    }
    auto content = std::make_shared<AssetContent>();
    content->body.assign(reply->element[0]->str, reply->element[0]->len);
    if (reply->element[1]->type == REDIS_REPLY_STRING) {
      content->type.assign(reply->element[1]->str, reply->element[1]->len);
      if (!clean_type(content->type)) content->type.clear();
    }
    complete(key, owner, std::move(content), std::string());
  });
}

void AssetStore::erase(const Key &key, const std::string &owner) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  std::list<Slot> &slots = it->second;
  for (auto s = slots.begin(); s != slots.end(); ++s) {
    if (s->owner != owner) continue;
    if (s->listed) {
      size_t c = cost(s->owner, *s->content);
      bytes_ -= c;
      lru_.erase(s->lru);
      s->tenant->bytes -= c;
      s->tenant->lru.erase(s->tenant_lru);
      if (s->tenant->lru.empty()) tenants_.erase(s->owner.substr(0, s->owner.rfind('\0')));
    }
    if (s->is_loose) loose_--;
    slots.erase(s);
    break;
  }
  if (slots.empty()) entries_.erase(it);
}

void AssetStore::complete(Key key, const std::string &owner,
                          std::shared_ptr<const AssetContent> content, const std::string &error) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Slot *slot = nullptr;
  for (Slot &s : it->second) {
    if (s.owner == owner) slot = &s;
  }
  if (slot == nullptr) return;
  std::vector<Callback> waiters;
  waiters.swap(slot->waiters);
  slot->loading = false;
  if (content && cost(owner, *content) <= max_bytes_ / 4) {
    if (slot->is_loose) {
      slot->is_loose = false;
      slot->loose.reset();
      loose_--;
    }
    slot->content = content;
    Tenant &tenant = tenants_[owner.substr(0, owner.rfind('\0'))];
    lru_.emplace_front(key, owner);
    slot->lru = lru_.begin();
    tenant.lru.emplace_front(key, owner);
    slot->tenant = &tenant;
    slot->tenant_lru = tenant.lru.begin();
    slot->listed = true;
    bytes_ += cost(owner, *content);
    tenant.bytes += cost(owner, *content);
    // A script holding a quarter or more makes room with its own least
    // recently used file; else the worker's least recently used goes.
    while (bytes_ > max_bytes_ && !lru_.empty()) {
      bool own = tenant.bytes >= max_bytes_ / 4 && tenant.lru.size() >= 2;
      std::pair<Key, std::string> victim = own ? tenant.lru.back() : lru_.back();
      erase(victim.first, victim.second);
    }
  } else if (content) {
    // served to its waiters, and to whoever asks while one holds it; not kept
    slot->loose = content;
    if (!slot->is_loose) {
      slot->is_loose = true;
      if (++loose_ >= sweep_at_) sweep();
    }
  } else {
    erase(key, owner);
  }
  for (Callback &cb : waiters) cb(content, error);
}

void AssetStore::sweep() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    std::list<Slot> &slots = it->second;
    for (auto s = slots.begin(); s != slots.end();) {
      if (s->is_loose && !s->loading && s->loose.expired()) {
        s = slots.erase(s);
        loose_--;
      } else {
        ++s;
      }
    }
    it = slots.empty() ? entries_.erase(it) : std::next(it);
  }
  sweep_at_ = std::max<size_t>(1024, 2 * loose_);
}

}  // namespace dispatch

#include "kv_store.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <memory>

namespace dispatch {

namespace {

// Every script below declares every key it touches, as Redis Cluster needs
// (it checks a slot's migration for declared keys only); all share the KV
// namespace's hash tag, so one slot:
//   KEYS[1] P v:KEY  the value (a hash: v, m), with its own PEXPIREAT
//   KEYS[2] P index  every key (sorted set, score 0: listed by lex order)
//   KEYS[3] P expiry keys with an expiry, by expire_at_ms
//   KEYS[4] P sizes  the charge of each key
//   KEYS[5] P bytes  the charges' sum
//   KEYS[6] P meta   each key's metadata, for list (which cannot declare
//                    the value keys it would read)
// purge() drops up to budget expired keys from the index; their value keys
// went by their own PEXPIREAT.
const char kPurge[] = R"lua(
local function purge(now, budget)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, budget)
  for _, k in ipairs(gone) do
    local size = tonumber(redis.call('HGET', KEYS[4], k) or '0')
    redis.call('ZREM', KEYS[2], k)
    redis.call('ZREM', KEYS[3], k)
    redis.call('HDEL', KEYS[4], k)
    redis.call('HDEL', KEYS[6], k)
    redis.call('DECRBY', KEYS[5], size)
  end
end
)lua";

// ARGV: P, key, value, metadata ('' none), expire_at_ms (0 none), quota, now_ms
//
// An entry is charged what Redis takes for it, not only its bytes (issue 10:
// 20,000 tiny keys took 5,987,792 bytes and were charged 58,668):
//   256 + #P + 4 * #key + #value + #meta, and 160 + #key more with an expiry,
//   and 64 + #key + #meta more with metadata (its copy in P meta).
// The key is stored 3 times (the name P v:KEY, the index, sizes), 4 with an
// expiry, each in a jemalloc size class up to 25% above its length: 4 per
// key byte. Measured on Redis 7.0.15 (jemalloc), used_memory growth per entry
// added to a namespace of 10,000 keys (hashtable/skiplist encodings), P of
// 28 bytes, value 1 byte, no metadata: key of 1 byte ~254, 16: 360,
// 100: 616, 512: 2,152; with an expiry 382, 523, 858, 2,922. Each place
// (MEMORY USAGE, key of 16 bytes): P v:KEY 120 (152 with 23 bytes of
// metadata, 336 with a 100-byte value: the hash leaves its listpack
// encoding past 64 bytes), the index 129, sizes 77, the expiry set 113.
// Growth/charge over keys of 1-512 bytes, values of 0-10,240 bytes, with or
// without metadata and expiry, P of 28 or 143 bytes (the longest): 0.84 to
// 1.41, the worst a 100-byte value and metadata under a 16-byte key; a
// 10 KiB value takes 12,288 bytes (its size class), 1.15-1.24x its charge.
// bench/kv-memory measures it again.
const char kPut[] = R"lua(
local p, key, value, meta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local expire_at, quota, now = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
purge(now, 100)
local size = 256 + #p + 4 * #key + #value + #meta
if expire_at > 0 then size = size + 160 + #key end
if #meta > 0 then size = size + 64 + #key + #meta end
local old = tonumber(redis.call('HGET', KEYS[4], key) or '0')
local total = tonumber(redis.call('GET', KEYS[5]) or '0')
if total - old + size > quota then
  return redis.error_reply('QUOTA the KV namespace is over dispatch_kv_quota')
end
redis.call('DEL', KEYS[1])
if #meta > 0 then
  redis.call('HSET', KEYS[1], 'v', value, 'm', meta)
  redis.call('HSET', KEYS[6], key, meta)
else
  redis.call('HSET', KEYS[1], 'v', value)
  redis.call('HDEL', KEYS[6], key)
end
if expire_at > 0 then
  -- as sent: a Lua number past 1e14 would be printed 1e+14
  redis.call('PEXPIREAT', KEYS[1], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[5], key)
else
  redis.call('ZREM', KEYS[3], key)
end
redis.call('ZADD', KEYS[2], 0, key)
redis.call('HSET', KEYS[4], key, size)
redis.call('INCRBY', KEYS[5], size - old)
return 'OK'
)lua";

// ARGV: P, key, now_ms
const char kDelete[] = R"lua(
local key, now = ARGV[2], tonumber(ARGV[3])
purge(now, 100)
local size = tonumber(redis.call('HGET', KEYS[4], key) or '0')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], key)
redis.call('ZREM', KEYS[3], key)
redis.call('HDEL', KEYS[4], key)
redis.call('HDEL', KEYS[6], key)
redis.call('DECRBY', KEYS[5], size)
return 'OK'
)lua";

// ARGV: P, prefix, limit, cursor ('' from the start), now_ms; KEYS[1] is
// unused (list names no one value). Returns {complete, k1, expiry_ms1,
// meta1, k2, ...}
const char kList[] = R"lua(
local prefix, limit, cursor, now = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
purge(now, 1000)
local min = '[' .. prefix
-- a cursor before the prefix (a script may pass any) must not widen the range
if #cursor > 0 and cursor >= prefix then min = '(' .. cursor end
-- no key holds the byte 0xff (keys are UTF-8): an upper bound for the prefix
local max = '+'
if #prefix > 0 then max = '[' .. prefix .. '\255' end
local keys = redis.call('ZRANGEBYLEX', KEYS[2], min, max, 'LIMIT', 0, limit + 1)
local out = {#keys <= limit and 1 or 0}
for i = 1, math.min(#keys, limit) do
  local k = keys[i]
  out[#out + 1] = k
  out[#out + 1] = redis.call('ZSCORE', KEYS[3], k) or ''
  out[#out + 1] = redis.call('HGET', KEYS[6], k) or ''
end
return out
)lua";

// A Redis error reply other than the quota's own is marked kKvStoreError:
// its text (a Lua script's SHA and line, Redis's wording) is for the
// operator's log, not for the tenant (api/kv.cc).
std::string reply_error(const redisReply *reply, const std::string &error) {
  if (reply == nullptr) return error.empty() ? "KV is unavailable" : error;
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string text(reply->str, reply->len);
    return text.compare(0, 6, "QUOTA ") == 0 ? text : kKvStoreError + text;
  }
  return std::string();
}

std::string str(const redisReply *r) {
  return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

std::string sha1_hex(const std::string &text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool is_noscript(const redisReply *reply) {
  return reply && reply->type == REDIS_REPLY_ERROR && reply->len >= 8 &&
         std::string(reply->str, 8) == "NOSCRIPT";
}

}  // namespace

// A Lua script and its SHA-1, as EVALSHA names it.
struct KvStore::LuaScript {
  explicit LuaScript(std::string body) : text(std::string(kPurge) + body), sha(sha1_hex(text)) {}
  const std::string text;
  const std::string sha;
};

RedisLink &KvStore::pick() const {
  RedisLink *best = links_.front();
  for (RedisLink *link : links_) {
    if (link->in_flight() < best->in_flight()) best = link;
  }
  return *best;
}

void KvStore::run_script(RedisLink &link, const LuaScript &script,
                         std::vector<std::string> keys_and_args, RedisLink::Callback cb) {
  std::vector<std::string> evalsha = {"EVALSHA", script.sha};
  evalsha.insert(evalsha.end(), keys_and_args.begin(), keys_and_args.end());
  auto args = std::make_shared<std::vector<std::string>>(std::move(keys_and_args));
  const LuaScript *lua = &script;  // static: outlives every reply
  link.command(evalsha, [&link, lua, args, cb = std::move(cb)](const redisReply *reply,
                                                                const std::string &error) {
    if (!is_noscript(reply)) {
      cb(reply, error);
      return;
    }
    std::vector<std::string> eval = {"EVAL", lua->text};
    eval.insert(eval.end(), args->begin(), args->end());
    link.command(eval, cb);
  });
}

// A write's answer; with dispatch_redis wait=N it resolves once N replicas
// confirmed it, and rejects (it is stored, but not yet safe) when they did
// not within the time.
RedisLink::Callback KvStore::confirmed(RedisLink &link, const std::string &key, Callback cb) {
  return [&link, key, cb = std::move(cb)](const redisReply *reply, const std::string &error) {
    KvResult r;
    r.error = reply_error(reply, error);
    if (!r.error.empty()) {
      cb(std::move(r));
      return;
    }
    link.confirm_writes(key, [cb](const std::string &why) {
      KvResult done;
      if (!why.empty()) done.error = "the write is not confirmed by Redis replicas: " + why;
      cb(std::move(done));
    });
  };
}

void KvStore::get(const std::string &space, const std::string &key, Callback cb) {
  pick().command({"HMGET", prefix(space) + "v:" + key, "v", "m"},
                 [cb = std::move(cb)](const redisReply *reply, const std::string &error) {
    KvResult r;
    r.error = reply_error(reply, error);
    if (r.error.empty() && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
      r.found = true;
      r.value = str(reply->element[0]);
      r.metadata = str(reply->element[1]);
    }
    cb(std::move(r));
  });
}

void KvStore::put(const std::string &space, const std::string &key, const std::string &value,
                  const std::string &metadata, int64_t expire_at_ms, Callback cb) {
  std::string p = prefix(space);
  static const LuaScript script(kPut);
  RedisLink &link = pick();
  run_script(link, script, {"6", p + "v:" + key, p + "index", p + "expiry", p + "sizes",
                      p + "bytes", p + "meta", p, key, value, metadata,
                      std::to_string(expire_at_ms), std::to_string(quota_),
                      std::to_string(int64_t(clock_ms(CLOCK_REALTIME)))},
                 confirmed(link, p + "v:" + key, std::move(cb)));
}

void KvStore::remove(const std::string &space, const std::string &key, Callback cb) {
  std::string p = prefix(space);
  static const LuaScript script(kDelete);
  RedisLink &link = pick();
  run_script(link, script, {"6", p + "v:" + key, p + "index", p + "expiry", p + "sizes",
                      p + "bytes", p + "meta", p, key,
                      std::to_string(int64_t(clock_ms(CLOCK_REALTIME)))},
                 confirmed(link, p + "v:" + key, std::move(cb)));
}

void KvStore::list(const std::string &space, const std::string &prefix_filter, size_t limit,
                   const std::string &cursor, Callback cb) {
  std::string p = prefix(space);
  static const LuaScript script(kList);
  run_script(pick(), script, {"6", p + "v:", p + "index", p + "expiry", p + "sizes", p + "bytes",
                      p + "meta", p, prefix_filter, std::to_string(limit), cursor,
                      std::to_string(int64_t(clock_ms(CLOCK_REALTIME)))},
                 [cb = std::move(cb)](const redisReply *reply, const std::string &error) {
    KvResult r;
    r.error = reply_error(reply, error);
    if (r.error.empty() && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1) {
      r.list_complete = reply->element[0]->integer == 1;
      // {complete, key, expiry_ms or '', metadata or '', key, ...}
      for (size_t i = 1; i + 2 < reply->elements; i += 3) {
        KvEntry e;
        e.key = str(reply->element[i]);
        std::string expiry = str(reply->element[i + 1]);
        if (!expiry.empty()) e.expiration = int64_t(std::stod(expiry) / 1000);
        e.metadata = str(reply->element[i + 2]);
        r.keys.push_back(std::move(e));
      }
      if (!r.list_complete && !r.keys.empty()) r.cursor = r.keys.back().key;
    }
    cb(std::move(r));
  });
}

}  // namespace dispatch

#include "redis_link.h"

#include <hiredis/hiredis.h>

#include <cctype>
#include <cstring>

#include "redis_client.h"
#include "redis_cluster.h"
#include "redis_sentinel.h"

namespace dispatch {

std::unique_ptr<RedisLink> RedisLink::create(const Host &host, const RedisConfig &config) {
  std::unique_ptr<RedisLink> link;
  switch (config.mode) {
    case RedisConfig::Mode::kCluster:
      link = std::make_unique<RedisCluster>(host, config);
      break;
    case RedisConfig::Mode::kSentinel:
      link = std::make_unique<RedisSentinel>(host, config);
      break;
    case RedisConfig::Mode::kSingle:
      link = std::make_unique<RedisClient>(host, config);
      break;
  }
  link->wait_replicas_ = config.wait;
  link->wait_timeout_ms_ = config.timeout_ms / 2 > 0 ? config.timeout_ms / 2 : 1;
  return link;
}

void RedisLink::confirm_writes(const std::string &key,
                               std::function<void(const std::string &)> done) {
  if (wait_replicas_ <= 0) {
    done("");
    return;
  }
  int n = wait_replicas_;
  command_for(key, {"WAIT", std::to_string(n), std::to_string(wait_timeout_ms_)},
              [n, done = std::move(done)](const redisReply *reply, const std::string &error) {
    if (reply == nullptr) {
      done(error.empty() ? "no answer to WAIT" : error);
    } else if (reply->type != REDIS_REPLY_INTEGER) {
      done(reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                            : "an odd answer to WAIT");
    } else if (reply->integer < n) {
      done("confirmed by " + std::to_string(reply->integer) + " of the " + std::to_string(n) +
           " replicas wait= asks for");
    } else {
      done("");
    }
  });
}

std::string redis_command_name(const std::vector<std::string> &args) {
  std::string name = args.empty() ? std::string() : args[0];
  for (char &c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

const std::string *redis_routing_key(const std::vector<std::string> &args) {
  std::string name = redis_command_name(args);
  if (name == "EVAL" || name == "EVALSHA") {
    // EVAL script numkeys key…: the first declared key routes it.
    if (args.size() > 3 && args[2] != "0") return &args[3];
    return nullptr;
  }
  if (name == "MULTI" || name == "EXEC" || name == "DISCARD" || name == "PUBLISH" ||
      name == "PING" || name == "SUBSCRIBE" || name == "SCRIPT" || name == "INFO" ||
      name == "CLUSTER" || name == "ASKING" || name == "ROLE" || name == "SENTINEL") {
    return nullptr;
  }
  return args.size() > 1 ? &args[1] : nullptr;
}

bool redis_error_is(const redisReply *reply, const char *prefix) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR) return false;
  size_t n = std::strlen(prefix);
  return reply->len >= n && std::memcmp(reply->str, prefix, n) == 0;
}

namespace {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, as Redis Cluster's
// key-slot function specifies.
uint16_t crc16(const char *p, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= uint16_t(static_cast<unsigned char>(p[i])) << 8;
    for (int b = 0; b < 8; b++) {
      crc = (crc & 0x8000) ? uint16_t((crc << 1) ^ 0x1021) : uint16_t(crc << 1);
    }
  }
  return crc;
}

}  // namespace

unsigned redis_key_slot(const std::string &key) {
  size_t open = key.find('{');
  if (open != std::string::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string::npos && close > open + 1) {
      return crc16(key.data() + open + 1, close - open - 1) & 16383;
    }
  }
  return crc16(key.data(), key.size()) & 16383;
}

}  // namespace dispatch

// redis_link.h: what the engine asks of "Redis", whichever shape the store
// has: one server (RedisClient), a Redis Cluster (RedisCluster: commands go
// to the master of their key's slot) or a master watched by Sentinel
// (RedisSentinel: commands follow the master through failovers).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "host.h"

struct redisReply;

namespace dispatch {

struct RedisConfig {
  enum class Mode { kSingle, kCluster, kSentinel };
  Mode mode = Mode::kSingle;
  std::string host;      // an IP literal
  int port = 6379;
  std::string unix_path; // preferred when set
  int db = 0;
  std::string password;  // empty: no AUTH
  std::string user;      // an ACL user; empty: AUTH with the password alone
  uint64_t timeout_ms = 1000;
  // kCluster: seed nodes; kSentinel: the sentinels. IP literal and port.
  std::vector<std::pair<std::string, int>> nodes;
  std::string master_name;  // kSentinel
  int wait = 0;             // replicas that confirm a write (WAIT); 0: none
};

class RedisLink {
 public:
  // reply is null and error set when the command failed or Redis is away;
  // an error reply from Redis comes as a reply of type REDIS_REPLY_ERROR.
  using Callback = std::function<void(const redisReply *reply, const std::string &error)>;
  using MessageCallback = std::function<void(const std::string &payload)>;

  virtual ~RedisLink() = default;

  // Sends a command (binary-safe arguments). The callback runs exactly once,
  // possibly before command() returns when Redis is known to be away. A
  // MULTI … EXEC sent without returning to the event loop in between reaches
  // one server as one piece: its keys must share a slot.
  virtual void command(const std::vector<std::string> &args, Callback cb) = 0;

  // Starts connecting ahead of the first command.
  virtual void connect() = 0;

  // Drops the connections for good: pending commands fail now, while their
  // requesters still exist. Later commands fail at once.
  virtual void close() = 0;

  // Makes this a subscriber (pub/sub needs a connection of its own): the
  // channel is subscribed on every (re)connect, each message's payload goes
  // to on_message, and on_subscribed runs each time the subscription is live
  // again (messages may have been missed in between).
  virtual void subscribe(const std::string &channel, MessageCallback on_message,
                         std::function<void()> on_subscribed) = 0;

  // For the log: where the store is.
  virtual std::string address() const = 0;

  // For dispatch_status: the link can reach its store now (a cluster: the
  // map is known and its masters are connected; Sentinel: the master is).
  virtual bool connected() const = 0;

  // For dispatch_status: counted over the link's connections since the
  // last take.
  struct Stats {
    uint64_t reconnects = 0;   // connections made after the first
    uint64_t commands = 0;     // replies received
    double command_ms = 0;     // from sending to their reply

    void add(const Stats &o) {
      reconnects += o.reconnects;
      commands += o.commands;
      command_ms += o.command_ms;
    }
  };
  virtual Stats take_stats() = 0;

  // Commands sent or waiting to be, not yet answered: where a KV operation
  // goes when it has a choice of links (KvStore).
  virtual size_t in_flight() const = 0;

  // A command without a key of its own (WAIT) sent where key's commands
  // go: for WAIT, the connection that carried the writes to confirm.
  virtual void command_for(const std::string &key, const std::vector<std::string> &args,
                           Callback cb) {
    (void)key;
    command(args, std::move(cb));
  }

  // With wait=N: the writes this link sent for key are confirmed by N
  // replicas (WAIT N, within half the command timeout, so that the
  // connection's own deadline never fires first); done gets "" or why not.
  // Without: done("") at once.
  void confirm_writes(const std::string &key, std::function<void(const std::string &)> done);


  static std::unique_ptr<RedisLink> create(const Host &host, const RedisConfig &config);

 private:
  int wait_replicas_ = 0;
  uint64_t wait_timeout_ms_ = 0;
};

// The command's name, upper-cased, and the key that routes it (empty when
// it has none: MULTI, EXEC, PUBLISH, PING…).
std::string redis_command_name(const std::vector<std::string> &args);
const std::string *redis_routing_key(const std::vector<std::string> &args);

// An error reply that starts with prefix ("MOVED ", "READONLY").
bool redis_error_is(const redisReply *reply, const char *prefix);

// Redis Cluster's slot of a key: CRC16 of the key, or of its hash tag (the
// part between the first '{' and the next '}', when not empty), mod 16384.
unsigned redis_key_slot(const std::string &key);

}  // namespace dispatch

// redis_sentinel.h: the store as a master that Redis Sentinel watches.
//
// The worker asks the sentinels, in turn, for the master's address
// (SENTINEL get-master-addr-by-name), sends every command to it, and
// follows a failover as soon as a sentinel announces it (+switch-master,
// subscribed on one sentinel), or when the master answers READONLY (it was
// demoted: nothing was written) or cannot be reached; it asks again every
// few seconds in case an announcement was missed. A write never goes on to
// a demoted master: the connection to it is closed at the switch.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "redis_client.h"
#include "redis_link.h"

namespace dispatch {

class RedisSentinel : public RedisLink {
 public:
  RedisSentinel(const Host &host, RedisConfig config);
  ~RedisSentinel() override;
  RedisSentinel(const RedisSentinel &) = delete;
  RedisSentinel &operator=(const RedisSentinel &) = delete;

  void command(const std::vector<std::string> &args, Callback cb) override;
  void connect() override;
  void close() override;
  void subscribe(const std::string &channel, MessageCallback on_message,
                 std::function<void()> on_subscribed) override;
  std::string address() const override;
  bool connected() const override;
  size_t in_flight() const override;
  Stats take_stats() override;

 private:
  struct Op {
    std::vector<std::string> args;
    Callback cb;
    bool resent = false;
    bool in_transaction = false;
  };
  using OpPtr = std::shared_ptr<Op>;

  RedisClient &sentinel(size_t i);
  void send(OpPtr op);
  void on_reply(const OpPtr &op, bool unsent, const redisReply *reply, const std::string &error);
  void deliver(const OpPtr &op, const redisReply *reply, const std::string &error);
  void discover();
  void ask_sentinel(size_t i, size_t tried);
  void use_master(const std::string &host, int port);
  void on_announcement(const std::string &payload);
  void watch_on(size_t i);
  void on_recheck();
  void fail_waiting(const std::string &why);

  const Host &host_;
  RedisConfig config_;
  bool closed_ = false;
  bool started_ = false;
  std::vector<std::unique_ptr<RedisClient>> sentinels_;  // lazily, as config_.nodes
  size_t sentinel_ = 0;                                  // the last that answered
  bool discovering_ = false;
  std::unique_ptr<RedisClient> master_;
  std::string master_host_;
  int master_port_ = 0;
  std::deque<OpPtr> waiting_;  // for a master
  bool in_transaction_ = false;
  bool sending_ = false;

  // +switch-master announcements, from one sentinel
  std::unique_ptr<RedisClient> watch_;
  size_t watch_sentinel_ = 0;
  uint64_t watch_down_since_ = 0;
  Timer recheck_timer_;

  // the engine's own subscription, on the master
  std::unique_ptr<RedisClient> subscriber_;
  std::string channel_;
  MessageCallback on_message_;
  std::function<void()> on_subscribed_;
};

}  // namespace dispatch

// redis_client.h: one asynchronous Redis connection on the host's event loop.
//
// hiredis 0.14 has no timers: connect and command timeouts are the host's
// timers here. A command that times out poisons the connection (replies are
// matched by order), so the connection is dropped, every pending command
// fails, and a back-off timer reconnects. While backing off, commands fail at
// once: a request for an uncached script answers 503 without waiting.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clock.h"
#include "host.h"
#include "redis_link.h"

struct redisAsyncContext;
struct redisReply;

namespace dispatch {

// One connection to one Redis server.
class RedisClient : public RedisLink {
 public:
  RedisClient(const Host &host, RedisConfig config);
  ~RedisClient() override;
  RedisClient(const RedisClient &) = delete;
  RedisClient &operator=(const RedisClient &) = delete;

  void command(const std::vector<std::string> &args, Callback cb) override;
  void connect() override;
  void close() override;
  void subscribe(const std::string &channel, MessageCallback on_message,
                 std::function<void()> on_subscribed) override;

  std::string address() const override;

  size_t in_flight() const override { return pending_.size(); }

  // Connected now (not connecting, backing off or closed).
  bool connected() const override { return state_ == State::kConnected; }

  Stats take_stats() override {
    Stats s = stats_;
    stats_ = Stats();
    return s;
  }

 private:
  enum class State { kDisconnected, kConnecting, kConnected, kBackoff, kClosed };
  struct Op;

  // hiredis hooks
  static void on_connect(const redisAsyncContext *ac, int status);
  static void on_disconnect(const redisAsyncContext *ac, int status);
  static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);
  static void on_handshake_reply(redisAsyncContext *ac, void *reply, void *privdata);
  static void on_subscription(redisAsyncContext *ac, void *reply, void *privdata);
  static void ev_add_read(void *data);
  static void ev_del_read(void *data);
  static void ev_add_write(void *data);
  static void ev_del_write(void *data);
  static void ev_cleanup(void *data);
  static void on_io(void *arg, int readable, int writable);

  static void want(void *data, bool read, bool on);
  void arm_deadline();
  void on_deadline();
  void drop_connection(const std::string &why);
  void connection_lost(const std::string &why);
  void schedule_reconnect();

  const Host &host_;
  RedisConfig config_;
  State state_ = State::kDisconnected;
  redisAsyncContext *ac_ = nullptr;
  dispatch_io_t *io_ = nullptr;
  bool want_read_ = false;
  bool want_write_ = false;
  uint64_t connect_deadline_ = 0;
  std::deque<Op *> pending_;  // in the order Redis answers them
  Timer deadline_timer_;      // connect and command timeouts
  Timer backoff_timer_;       // reconnects while Redis is away
  uint64_t backoff_ms_ = 0;
  bool reported_down_ = false;
  bool connected_once_ = false;
  Stats stats_;
  std::string channel_;
  MessageCallback on_message_;
  std::function<void()> on_subscribed_;
};

}  // namespace dispatch

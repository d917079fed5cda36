// redis_cluster.h: the store as a Redis Cluster.
//
// The worker learns the slot map (CLUSTER SLOTS) from the seed nodes and
// sends each command to the master of its key's slot, over one RedisClient
// per node. MOVED updates the map (and re-learns it), ASK sends the command
// once to the importing node after ASKING, TRYAGAIN and CLUSTERDOWN retry
// after a pause within the command's timeout. A command that could not even
// be sent (its node is away) waits for a fresh map and goes again; one that
// was sent and lost its connection fails: it may have run.
//
// A MULTI … EXEC is held until its EXEC and sent whole to the node of its
// first key (the management API's transactions keep to one namespace's hash
// tag, so to one slot).
//
// Pub/sub is cluster-wide in Redis Cluster (a PUBLISH on any node reaches
// the subscribers of every node), so the subscription lives on one node
// and moves to the next seed when that node stays away.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redis_client.h"
#include "redis_link.h"

namespace dispatch {

class RedisCluster : public RedisLink {
 public:
  RedisCluster(const Host &host, RedisConfig config);
  ~RedisCluster() override;
  RedisCluster(const RedisCluster &) = delete;
  RedisCluster &operator=(const RedisCluster &) = delete;

  void command(const std::vector<std::string> &args, Callback cb) override;
  void connect() override;
  void close() override;
  void subscribe(const std::string &channel, MessageCallback on_message,
                 std::function<void()> on_subscribed) override;
  std::string address() const override;
  bool connected() const override;
  size_t in_flight() const override;
  Stats take_stats() override;
  void command_for(const std::string &key, const std::vector<std::string> &args,
                   Callback cb) override;

 private:
  struct Op {
    std::vector<std::string> args;
    Callback cb;
    int attempts = 0;
    uint64_t deadline = 0;
    std::string route_key;  // command_for(): routed by this, not by args
  };
  using OpPtr = std::shared_ptr<Op>;

  RedisClient &node(const std::string &host, int port);
  RedisClient *node_for(const std::vector<OpPtr> &ops);
  void send(OpPtr op);
  void send_group(std::vector<OpPtr> group);
  void send_to(RedisClient &via, OpPtr op, bool retry);
  void on_reply(const OpPtr &op, bool retry, bool unsent, const redisReply *reply,
                const std::string &error);
  void deliver(const OpPtr &op, const redisReply *reply, const std::string &error);
  void refresh();
  void refresh_from(size_t i, std::shared_ptr<std::vector<std::pair<std::string, int>>> order);
  bool learn_slots(const redisReply *reply, const std::string &asked_host);
  void flush_waiting();
  void fail_waiting(const std::string &why);
  void on_retry_timer();
  void watch_subscriber();
  void subscribe_on(size_t seed);

  const Host &host_;
  RedisConfig config_;
  bool closed_ = false;
  bool connecting_ = false;
  std::map<std::string, std::unique_ptr<RedisClient>> nodes_;  // "host:port"
  std::vector<RedisClient *> slots_;  // 16384 masters; null: not known
  bool have_map_ = false;
  bool refreshing_ = false;
  uint64_t refreshed_at_ = 0;         // when the last refresh ended
  Timer refresh_timer_;
  std::deque<OpPtr> waiting_;         // for a slot map
  std::deque<OpPtr> retry_;           // TRYAGAIN, CLUSTERDOWN
  std::vector<OpPtr> group_;          // a MULTI until its EXEC
  bool in_group_ = false;
  bool sending_ = false;              // inside RedisClient::command()
  Timer retry_timer_;

  // the subscription
  std::unique_ptr<RedisClient> subscriber_;
  size_t subscriber_seed_ = 0;
  uint64_t subscriber_down_since_ = 0;
  std::string channel_;
  MessageCallback on_message_;
  std::function<void()> on_subscribed_;
  Timer watch_timer_;
};

}  // namespace dispatch

#include "redis_cluster.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <set>

namespace dispatch {

namespace {

constexpr unsigned kSlots = 16384;
constexpr int kMaxAttempts = 6;            // redirects and resends of one command
constexpr uint64_t kRetryPauseMs = 100;    // TRYAGAIN, CLUSTERDOWN
// While a master is away every command sent to it asks for a new map: at
// most one CLUSTER SLOTS round per this, whatever the request rate.
constexpr uint64_t kRefreshEveryMs = 50;
constexpr uint64_t kWatchIntervalMs = 1000;
constexpr uint64_t kSubscriberPatienceMs = 3000;

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"
bool parse_redirect(const redisReply *r, unsigned *slot, std::string *host, int *port) {
  std::string text(r->str, r->len);
  size_t a = text.find(' ');
  size_t b = a == std::string::npos ? a : text.find(' ', a + 1);
  if (b == std::string::npos) return false;
  std::string addr = text.substr(b + 1);
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  char *end = nullptr;
  unsigned long s = std::strtoul(text.c_str() + a + 1, &end, 10);
  long p = std::strtol(addr.c_str() + colon + 1, nullptr, 10);
  if (s >= kSlots || p <= 0 || p > 65535) return false;
  *slot = unsigned(s);
  *host = addr.substr(0, colon);
  *port = int(p);
  return true;
}

std::string addr_key(const std::string &host, int port) {
  return host + ":" + std::to_string(port);
}

}  // namespace

RedisCluster::RedisCluster(const Host &host, RedisConfig config)
    : host_(host),
      config_(std::move(config)),
      slots_(kSlots, nullptr),
      refresh_timer_(host, [this] { refresh(); }, true),
      retry_timer_(host, [this] { on_retry_timer(); }, true),
      watch_timer_(host, [this] { watch_subscriber(); }, true) {}

RedisCluster::~RedisCluster() { close(); }

std::string RedisCluster::address() const {
  std::string out = "cluster ";
  for (size_t i = 0; i < config_.nodes.size(); i++) {
    if (i) out += ",";
    out += addr_key(config_.nodes[i].first, config_.nodes[i].second);
  }
  return out;
}

size_t RedisCluster::in_flight() const {
  size_t n = waiting_.size() + retry_.size();
  for (const auto &node : nodes_) n += node.second->in_flight();
  return n;
}

bool RedisCluster::connected() const {
  if (!have_map_) return false;
  for (RedisClient *n : slots_) {
    if (n == nullptr || !n->connected()) return false;
  }
  return true;
}

RedisLink::Stats RedisCluster::take_stats() {
  Stats sum;
  for (auto &n : nodes_) sum.add(n.second->take_stats());
  if (subscriber_) sum.add(subscriber_->take_stats());
  return sum;
}

RedisClient &RedisCluster::node(const std::string &host, int port) {
  std::string key = addr_key(host, port);
  auto it = nodes_.find(key);
  if (it != nodes_.end()) return *it->second;
  RedisConfig c;
  c.host = host;
  c.port = port;
  c.password = config_.password;
  c.user = config_.user;
  c.timeout_ms = config_.timeout_ms;
  auto client = std::make_unique<RedisClient>(host_, c);
  RedisClient &ref = *client;
  nodes_.emplace(key, std::move(client));
  return ref;
}

void RedisCluster::connect() {
  if (closed_ || connecting_) return;
  connecting_ = true;
  refresh();
}

void RedisCluster::close() {
  if (closed_) return;
  closed_ = true;
  retry_timer_.stop();
  refresh_timer_.stop();
  watch_timer_.stop();
  std::deque<OpPtr> failing;
  failing.swap(waiting_);
  for (OpPtr &op : retry_) failing.push_back(op);
  retry_.clear();
  for (OpPtr &op : group_) failing.push_back(op);
  group_.clear();
  for (OpPtr &op : failing) deliver(op, nullptr, "the Redis Cluster client is closed");
  // Pending commands get their null replies now, and reach deliver().
  for (auto &n : nodes_) n.second->close();
  if (subscriber_) subscriber_->close();
}

void RedisCluster::command(const std::vector<std::string> &args, Callback cb) {
  auto op = std::make_shared<Op>();
  op->args = args;
  op->cb = std::move(cb);
  op->deadline = monotonic_ms() + config_.timeout_ms;
  if (closed_) {
    deliver(op, nullptr, "the Redis Cluster client is closed");
    return;
  }
  std::string name = redis_command_name(args);
  if (in_group_ || name == "MULTI") {
    in_group_ = true;
    group_.push_back(op);
    if (name == "EXEC" || name == "DISCARD") {
      in_group_ = false;
      std::vector<OpPtr> group;
      group.swap(group_);
      send_group(std::move(group));
    }
    return;
  }
  send(op);
}

void RedisCluster::command_for(const std::string &key, const std::vector<std::string> &args,
                               Callback cb) {
  auto op = std::make_shared<Op>();
  op->args = args;
  op->cb = std::move(cb);
  op->deadline = monotonic_ms() + config_.timeout_ms;
  op->route_key = key;
  if (closed_) {
    deliver(op, nullptr, "the Redis Cluster client is closed");
    return;
  }
  send(op);
}

// The master of the first routed key among ops; any known master when none
// has a key (PUBLISH); null while the map is not known.
RedisClient *RedisCluster::node_for(const std::vector<OpPtr> &ops) {
  if (!have_map_) return nullptr;
  for (const OpPtr &op : ops) {
    if (!op->route_key.empty()) return slots_[redis_key_slot(op->route_key)];
    if (const std::string *key = redis_routing_key(op->args)) {
      return slots_[redis_key_slot(*key)];
    }
  }
  for (RedisClient *n : slots_) {
    if (n != nullptr && n->connected()) return n;
  }
  for (RedisClient *n : slots_) {
    if (n != nullptr) return n;
  }
  return nullptr;
}

void RedisCluster::send(OpPtr op) {
  RedisClient *via = node_for({op});
  if (via == nullptr) {
    waiting_.push_back(std::move(op));
    refresh();
    return;
  }
  send_to(*via, std::move(op), true);
}

// A transaction goes whole to one node and is never resent in part: its
// replies (QUEUED, then EXEC's) reach their callbacks as they come, and a
// redirect inside it (the slot moved) aborts it with EXECABORT, which the
// caller reports. The map is learnt again for the next one.
void RedisCluster::send_group(std::vector<OpPtr> group) {
  RedisClient *via = node_for(group);
  if (via == nullptr) {
    for (OpPtr &op : group) waiting_.push_back(std::move(op));
    refresh();
    return;
  }
  for (OpPtr &op : group) send_to(*via, std::move(op), false);
}

void RedisCluster::send_to(RedisClient &via, OpPtr op, bool retry) {
  op->attempts++;
  bool was = sending_;
  sending_ = true;
  std::vector<std::string> args = op->args;
  via.command(args, [this, op, retry](const redisReply *reply, const std::string &error) {
    on_reply(op, retry, sending_, reply, error);
  });
  sending_ = was;
}

void RedisCluster::on_reply(const OpPtr &op, bool retry, bool unsent, const redisReply *reply,
                            const std::string &error) {
  if (closed_) {
    deliver(op, reply, error);
    return;
  }
  bool may_retry = retry && op->attempts < kMaxAttempts;
  if (reply == nullptr) {
    // Never sent (its node is away): safe to send again on a fresh map.
    // Sent and lost: it may have run, so it fails; the map is learnt again.
    if (unsent && may_retry) {
      waiting_.push_back(op);
    }
    refresh();
    if (!(unsent && may_retry)) deliver(op, reply, error);
    return;
  }
  if (redis_error_is(reply, "MOVED ") || redis_error_is(reply, "ASK ")) {
    unsigned slot;
    std::string host;
    int port;
    bool moved = redis_error_is(reply, "MOVED ");
    if (parse_redirect(reply, &slot, &host, &port)) {
      if (host.empty()) host = config_.nodes.empty() ? "127.0.0.1" : config_.nodes[0].first;
      RedisClient &target = node(host, port);
      if (moved) {
        slots_[slot] = &target;
        refresh();
      }
      if (may_retry) {
        if (moved && op->attempts >= 3 && monotonic_ms() + kRetryPauseMs < op->deadline) {
          // Redirected back and forth: the masters do not agree yet who
          // owns the slot (a resharding tells them one at a time). Again
          // after a pause, on the map as it is then.
          retry_.push_back(op);
          if (!retry_timer_.armed()) retry_timer_.start(kRetryPauseMs);
        } else if (moved) {
          send_to(target, op, true);
        } else {
          // ASK: this command alone goes to the importing node, after ASKING
          // on the same connection.
          target.command({"ASKING"}, [](const redisReply *, const std::string &) {});
          send_to(target, op, true);
        }
        return;
      }
    }
  } else if ((redis_error_is(reply, "TRYAGAIN") || redis_error_is(reply, "CLUSTERDOWN")) && may_retry &&
             monotonic_ms() + kRetryPauseMs < op->deadline) {
    retry_.push_back(op);
    if (!retry_timer_.armed()) retry_timer_.start(kRetryPauseMs);
    return;
  }
  deliver(op, reply, error);
}

void RedisCluster::deliver(const OpPtr &op, const redisReply *reply, const std::string &error) {
  if (!op->cb) return;
  Callback cb = std::move(op->cb);
  op->cb = nullptr;
  cb(reply, reply == nullptr && error.empty() ? "the Redis Cluster did not answer" : error);
}

void RedisCluster::on_retry_timer() {
  std::deque<OpPtr> again;
  again.swap(retry_);
  for (OpPtr &op : again) send(op);
}

void RedisCluster::refresh() {
  if (refreshing_ || closed_ || refresh_timer_.armed()) return;
  uint64_t now = monotonic_ms();
  if (refreshed_at_ != 0 && now - refreshed_at_ < kRefreshEveryMs) {
    refresh_timer_.start(kRefreshEveryMs - (now - refreshed_at_));
    return;
  }
  refreshing_ = true;
  // The masters it knows first (one of them may be the node that answered
  // MOVED), then the seeds.
  auto order = std::make_shared<std::vector<std::pair<std::string, int>>>();
  std::set<std::string> seen;
  for (RedisClient *n : slots_) {
    if (n == nullptr) continue;
    for (auto &entry : nodes_) {
      if (entry.second.get() != n || seen.count(entry.first)) continue;
      seen.insert(entry.first);
      size_t colon = entry.first.rfind(':');
      order->emplace_back(entry.first.substr(0, colon),
                          std::atoi(entry.first.c_str() + colon + 1));
    }
    if (seen.size() >= nodes_.size()) break;
  }
  for (const auto &seed : config_.nodes) {
    if (seen.insert(addr_key(seed.first, seed.second)).second) order->push_back(seed);
  }
  refresh_from(0, order);
}

void RedisCluster::refresh_from(size_t i,
                                std::shared_ptr<std::vector<std::pair<std::string, int>>> order) {
  if (closed_) return;
  if (i >= order->size()) {
    refreshing_ = false;
    refreshed_at_ = monotonic_ms();
    fail_waiting("no node of the Redis Cluster (" + address() + ") answered");
    return;
  }
  std::string asked = (*order)[i].first;
  RedisClient &via = node(asked, (*order)[i].second);
  via.command({"CLUSTER", "SLOTS"}, [this, i, order, asked](const redisReply *reply,
                                                            const std::string &) {
    if (closed_) return;
    if (reply != nullptr && learn_slots(reply, asked)) {
      refreshing_ = false;
      refreshed_at_ = monotonic_ms();
      flush_waiting();
      return;
    }
    refresh_from(i + 1, order);
  });
}

// CLUSTER SLOTS: [[start, end, [ip, port, id…], replica…], …]
bool RedisCluster::learn_slots(const redisReply *reply, const std::string &asked_host) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return false;
  std::vector<RedisClient *> map(kSlots, nullptr);
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) return false;
    const redisReply *start = range->element[0], *end = range->element[1];
    const redisReply *master = range->element[2];
    if (start->type != REDIS_REPLY_INTEGER || end->type != REDIS_REPLY_INTEGER ||
        master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
        master->element[0]->type != REDIS_REPLY_STRING ||
        master->element[1]->type != REDIS_REPLY_INTEGER) {
      return false;
    }
    if (start->integer < 0 || end->integer >= kSlots || start->integer > end->integer ||
        master->element[1]->integer <= 0 || master->element[1]->integer > 65535) {
      return false;
    }
    std::string host(master->element[0]->str, master->element[0]->len);
    // An empty or unknown address means "the node you asked".
    if (host.empty() || host == "?") host = asked_host;
    RedisClient *n = &node(host, int(master->element[1]->integer));
    for (long long s = start->integer; s <= end->integer; s++) map[size_t(s)] = n;
  }
  slots_.swap(map);
  have_map_ = true;
  return true;
}

void RedisCluster::flush_waiting() {
  std::deque<OpPtr> ready;
  ready.swap(waiting_);
  // Transactions were queued whole and in order: resend them whole.
  std::vector<OpPtr> group;
  for (OpPtr &op : ready) {
    std::string name = redis_command_name(op->args);
    if (!group.empty() || name == "MULTI") {
      group.push_back(op);
      if (name == "EXEC" || name == "DISCARD") {
        send_group(std::move(group));
        group.clear();
      }
      continue;
    }
    if (op->attempts >= kMaxAttempts) {
      deliver(op, nullptr, "the Redis Cluster kept redirecting the command");
      continue;
    }
    send(op);
  }
  for (OpPtr &op : group) deliver(op, nullptr, "an unfinished transaction");
}

void RedisCluster::fail_waiting(const std::string &why) {
  std::deque<OpPtr> failing;
  failing.swap(waiting_);
  for (OpPtr &op : failing) deliver(op, nullptr, why);
}

void RedisCluster::subscribe(const std::string &channel, MessageCallback on_message,
                             std::function<void()> on_subscribed) {
  channel_ = channel;
  on_message_ = std::move(on_message);
  on_subscribed_ = std::move(on_subscribed);
  if (config_.nodes.empty()) return;
  subscribe_on(0);
  watch_timer_.start(kWatchIntervalMs);
}

void RedisCluster::subscribe_on(size_t seed) {
  subscriber_seed_ = seed % config_.nodes.size();
  RedisConfig c;
  c.host = config_.nodes[subscriber_seed_].first;
  c.port = config_.nodes[subscriber_seed_].second;
  c.password = config_.password;
  c.user = config_.user;
  c.timeout_ms = config_.timeout_ms;
  if (subscriber_) subscriber_->close();
  subscriber_ = std::make_unique<RedisClient>(host_, c);
  subscriber_down_since_ = 0;
  subscriber_->subscribe(channel_, on_message_, on_subscribed_);
}

// The subscription stays on its node while the node comes back quickly;
// past kSubscriberPatienceMs away it moves to the next seed.
void RedisCluster::watch_subscriber() {
  if (closed_ || !subscriber_) return;
  uint64_t now = monotonic_ms();
  if (subscriber_->connected()) {
    subscriber_down_since_ = 0;
  } else if (subscriber_down_since_ == 0) {
    subscriber_down_since_ = now;
  } else if (now - subscriber_down_since_ >= kSubscriberPatienceMs) {
    subscribe_on(subscriber_seed_ + 1);
  }
  watch_timer_.start(kWatchIntervalMs);
}

}  // namespace dispatch

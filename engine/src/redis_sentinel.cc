#include "redis_sentinel.h"

#include <hiredis/hiredis.h>

#include <cstdlib>

namespace dispatch {

namespace {

constexpr uint64_t kRecheckMs = 5000;
constexpr uint64_t kWatchPatienceMs = 3000;
constexpr size_t kMaxWaiting = 100000;

}  // namespace

RedisSentinel::RedisSentinel(const Host &host, RedisConfig config)
    : host_(host),
      config_(std::move(config)),
      recheck_timer_(host, [this] { on_recheck(); }, true) {
  sentinels_.resize(config_.nodes.size());
}

RedisSentinel::~RedisSentinel() { close(); }

std::string RedisSentinel::address() const {
  std::string out = "master \"" + config_.master_name + "\"";
  if (master_) out += " at " + master_->address();
  return out;
}

size_t RedisSentinel::in_flight() const {
  return waiting_.size() + (master_ ? master_->in_flight() : 0);
}

bool RedisSentinel::connected() const { return master_ && master_->connected(); }

// The sentinels' connections count too: they are the link's.
RedisLink::Stats RedisSentinel::take_stats() {
  Stats sum;
  if (master_) sum.add(master_->take_stats());
  if (subscriber_) sum.add(subscriber_->take_stats());
  if (watch_) sum.add(watch_->take_stats());
  for (auto &s : sentinels_) {
    if (s) sum.add(s->take_stats());
  }
  return sum;
}

RedisClient &RedisSentinel::sentinel(size_t i) {
  if (!sentinels_[i]) {
    // Sentinels take no AUTH and no db here: the password is the master's.
    RedisConfig c;
    c.host = config_.nodes[i].first;
    c.port = config_.nodes[i].second;
    c.timeout_ms = config_.timeout_ms;
    sentinels_[i] = std::make_unique<RedisClient>(host_, c);
  }
  return *sentinels_[i];
}

void RedisSentinel::connect() {
  if (closed_ || started_ || config_.nodes.empty()) return;
  started_ = true;
  discover();
  watch_on(0);
  recheck_timer_.start(kRecheckMs);
}

void RedisSentinel::close() {
  if (closed_) return;
  closed_ = true;
  recheck_timer_.stop();
  fail_waiting("the Redis Sentinel client is closed");
  if (master_) master_->close();
  if (subscriber_) subscriber_->close();
  if (watch_) watch_->close();
  for (auto &s : sentinels_) {
    if (s) s->close();
  }
}

void RedisSentinel::command(const std::vector<std::string> &args, Callback cb) {
  auto op = std::make_shared<Op>();
  op->args = args;
  op->cb = std::move(cb);
  if (closed_) {
    deliver(op, nullptr, "the Redis Sentinel client is closed");
    return;
  }
  // Commands of a transaction are never resent one by one.
  std::string name = redis_command_name(args);
  if (name == "MULTI") in_transaction_ = true;
  op->in_transaction = in_transaction_;
  if (name == "EXEC" || name == "DISCARD") in_transaction_ = false;
  if (!started_) connect();
  send(op);
}

void RedisSentinel::send(OpPtr op) {
  if (!master_ || !waiting_.empty()) {
    // In order behind the others that wait.
    if (waiting_.size() >= kMaxWaiting) {
      deliver(op, nullptr, "too many commands wait for the Redis master");
      return;
    }
    waiting_.push_back(std::move(op));
    discover();
    return;
  }
  bool was = sending_;
  sending_ = true;
  std::vector<std::string> args = op->args;
  master_->command(args, [this, op](const redisReply *reply, const std::string &error) {
    on_reply(op, sending_, reply, error);
  });
  sending_ = was;
}

void RedisSentinel::on_reply(const OpPtr &op, bool unsent, const redisReply *reply,
                             const std::string &error) {
  if (closed_) {
    deliver(op, reply, error);
    return;
  }
  // READONLY: the server was demoted and refused the write, which did not
  // happen; never sent: the master is away. Either way the sentinels are
  // asked again, and the command waits for their answer once.
  bool demoted = redis_error_is(reply, "READONLY");
  if ((demoted || (reply == nullptr && unsent)) && !op->resent && !op->in_transaction) {
    op->resent = true;
    if (demoted) {
      // Nothing more goes to it until the sentinels name the master.
      master_.reset();
    }
    waiting_.push_back(op);
    discover();
    return;
  }
  if (demoted || reply == nullptr) discover();
  deliver(op, reply, error);
}

void RedisSentinel::deliver(const OpPtr &op, const redisReply *reply, const std::string &error) {
  if (!op->cb) return;
  Callback cb = std::move(op->cb);
  op->cb = nullptr;
  cb(reply, reply == nullptr && error.empty() ? "the Redis master did not answer" : error);
}

void RedisSentinel::discover() {
  if (discovering_ || closed_ || config_.nodes.empty()) return;
  discovering_ = true;
  ask_sentinel(sentinel_, 0);
}

void RedisSentinel::ask_sentinel(size_t i, size_t tried) {
  if (closed_) return;
  if (tried >= config_.nodes.size()) {
    discovering_ = false;
    fail_waiting("no sentinel (" + std::to_string(config_.nodes.size()) +
                 " asked) names the master \"" + config_.master_name + "\"");
    return;
  }
  i %= config_.nodes.size();
  sentinel(i).command({"SENTINEL", "get-master-addr-by-name", config_.master_name},
                      [this, i, tried](const redisReply *reply, const std::string &) {
    if (closed_) return;
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
      long port = std::strtol(std::string(reply->element[1]->str,
                                          reply->element[1]->len).c_str(), nullptr, 10);
      if (port > 0 && port <= 65535) {
        discovering_ = false;
        sentinel_ = i;
        use_master(std::string(reply->element[0]->str, reply->element[0]->len), int(port));
        return;
      }
    }
    ask_sentinel(i + 1, tried + 1);
  });
}

void RedisSentinel::use_master(const std::string &host, int port) {
  if (!master_ || host != master_host_ || port != master_port_) {
    if (master_ || !master_host_.empty()) {
      host_.log(DISPATCH_LOG_NOTICE, "dispatch: Redis master \"" + config_.master_name +
                "\" is now " + host + ":" + std::to_string(port) +
                (master_host_.empty() ? std::string()
                                      : " (was " + master_host_ + ":" +
                                            std::to_string(master_port_) + ")"));
    }
    // Commands sent to the old one and not answered fail now: they may have
    // run there, so they are not sent again.
    std::unique_ptr<RedisClient> old = std::move(master_);
    if (old) old->close();
    RedisConfig c;
    c.host = host;
    c.port = port;
    c.db = config_.db;
    c.password = config_.password;
    c.user = config_.user;
    c.timeout_ms = config_.timeout_ms;
    master_host_ = host;
    master_port_ = port;
    master_ = std::make_unique<RedisClient>(host_, c);
    master_->connect();
    if (!channel_.empty()) {
      if (subscriber_) subscriber_->close();
      subscriber_ = std::make_unique<RedisClient>(host_, c);
      subscriber_->subscribe(channel_, on_message_, on_subscribed_);
    }
  }
  std::deque<OpPtr> ready;
  ready.swap(waiting_);
  for (OpPtr &op : ready) send(op);
}

// "+switch-master NAME OLD-IP OLD-PORT NEW-IP NEW-PORT", as the payload of
// the channel's message.
void RedisSentinel::on_announcement(const std::string &payload) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= payload.size() && words.size() < 6) {
    size_t space = payload.find(' ', start);
    if (space == std::string::npos) space = payload.size();
    words.push_back(payload.substr(start, space - start));
    start = space + 1;
  }
  if (words.size() != 5 || words[0] != config_.master_name) return;
  long port = std::strtol(words[4].c_str(), nullptr, 10);
  if (port <= 0 || port > 65535) return;
  use_master(words[3], int(port));
}

void RedisSentinel::watch_on(size_t i) {
  watch_sentinel_ = i % config_.nodes.size();
  RedisConfig c;
  c.host = config_.nodes[watch_sentinel_].first;
  c.port = config_.nodes[watch_sentinel_].second;
  c.timeout_ms = config_.timeout_ms;
  if (watch_) watch_->close();
  watch_ = std::make_unique<RedisClient>(host_, c);
  watch_down_since_ = 0;
  // Once the watch is live again, announcements may have been missed.
  watch_->subscribe("+switch-master",
                    [this](const std::string &payload) { on_announcement(payload); },
                    [this] { discover(); });
}

void RedisSentinel::on_recheck() {
  if (closed_) return;
  uint64_t now = monotonic_ms();
  if (watch_ && watch_->connected()) {
    watch_down_since_ = 0;
  } else if (watch_down_since_ == 0) {
    watch_down_since_ = now;
  } else if (now - watch_down_since_ >= kWatchPatienceMs) {
    watch_on(watch_sentinel_ + 1);
  }
  discover();
  recheck_timer_.start(kRecheckMs);
}

void RedisSentinel::fail_waiting(const std::string &why) {
  std::deque<OpPtr> failing;
  failing.swap(waiting_);
  for (OpPtr &op : failing) deliver(op, nullptr, why);
}

void RedisSentinel::subscribe(const std::string &channel, MessageCallback on_message,
                              std::function<void()> on_subscribed) {
  channel_ = channel;
  on_message_ = std::move(on_message);
  on_subscribed_ = std::move(on_subscribed);
  connect();
}

}  // namespace dispatch

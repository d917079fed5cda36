#include "redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>

namespace dispatch {

namespace {
constexpr uint64_t kBackoffFirstMs = 100;
constexpr uint64_t kBackoffMaxMs = 2000;
}  // namespace

// A command in flight. Heap-owned and handed to hiredis as privdata: hiredis
// may call back with a null reply long after the requester is gone, so an
// Op never points into a request, only at its callback.
struct RedisClient::Op {
  RedisClient *client;
  Callback cb;
  uint64_t deadline;
  double sent_ms;
};

RedisClient::RedisClient(const Host &host, RedisConfig config)
    : host_(host),
      config_(std::move(config)),
      deadline_timer_(host, [this] { on_deadline(); }, false),
      backoff_timer_(host, [this] { connect(); }, true) {}

RedisClient::~RedisClient() { close(); }

void RedisClient::close() {
  deadline_timer_.stop();
  backoff_timer_.stop();
  state_ = State::kClosed;
  // Pending callbacks get a null reply and fail their requesters.
  if (ac_) redisAsyncFree(ac_);
}

void RedisClient::subscribe(const std::string &channel, MessageCallback on_message,
                            std::function<void()> on_subscribed) {
  channel_ = channel;
  on_message_ = std::move(on_message);
  on_subscribed_ = std::move(on_subscribed);
  connect();
}

// Called for the subscription's confirmation, for every message, and with
// a null reply when the connection goes.
void RedisClient::on_subscription(redisAsyncContext *, void *reply, void *privdata) {
  auto *self = static_cast<RedisClient *>(privdata);
  auto *r = static_cast<redisReply *>(reply);
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  const redisReply *kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING) return;
  std::string k(kind->str, kind->len);
  if (k == "subscribe") {
    if (self->on_subscribed_) self->on_subscribed_();
  } else if (k == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
    if (self->on_message_) {
      self->on_message_(std::string(r->element[2]->str, r->element[2]->len));
    }
  }
}

std::string RedisClient::address() const {
  if (!config_.unix_path.empty()) return "unix:" + config_.unix_path;
  return config_.host + ":" + std::to_string(config_.port);
}

void RedisClient::connect() {
  // ac_ is set while a context is alive, even one hiredis is still freeing.
  if (state_ == State::kConnecting || state_ == State::kConnected ||
      state_ == State::kClosed || ac_) {
    return;
  }
  backoff_timer_.stop();

  redisAsyncContext *ac = config_.unix_path.empty()
      ? redisAsyncConnect(config_.host.c_str(), config_.port)
      : redisAsyncConnectUnix(config_.unix_path.c_str());
  if (ac == nullptr) {
    connection_lost("out of memory");
    return;
  }
  if (ac->err) {
    std::string why = ac->errstr;
    redisAsyncFree(ac);
    connection_lost(why);
    return;
  }

  io_ = host_.raw().io_open(host_.raw().data, ac->c.fd, &RedisClient::on_io, this);
  if (io_ == nullptr) {
    redisAsyncFree(ac);
    connection_lost("cannot watch the connection");
    return;
  }
  ac_ = ac;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  state_ = State::kConnecting;
  // Setting the connect callback makes hiredis wait for writability.
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);

  // hiredis queues commands until the connection is up; the handshake goes
  // first so every later command runs authenticated on the right db.
  if (!config_.password.empty() && !config_.user.empty()) {
    // An ACL user of its own lets Redis hold a tier to its own keys.
    redisAsyncCommand(ac, on_handshake_reply, this, "AUTH %b %b", config_.user.data(),
                      config_.user.size(), config_.password.data(), config_.password.size());
  } else if (!config_.password.empty()) {
    redisAsyncCommand(ac, on_handshake_reply, this, "AUTH %b",
                      config_.password.data(), config_.password.size());
  }
  if (config_.db != 0) {
    redisAsyncCommand(ac, on_handshake_reply, this, "SELECT %d", config_.db);
  }
  if (!channel_.empty()) {
    redisAsyncCommand(ac, on_subscription, this, "SUBSCRIBE %b", channel_.data(),
                      channel_.size());
  }
  connect_deadline_ = monotonic_ms() + config_.timeout_ms;
  arm_deadline();
}

void RedisClient::command(const std::vector<std::string> &args, Callback cb) {
  if (state_ == State::kDisconnected) connect();
  if (state_ != State::kConnecting && state_ != State::kConnected) {
    cb(nullptr, "Redis at " + address() + " is unavailable");
    return;
  }

  std::vector<const char *> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const auto &a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }

  double now = clock_ms(CLOCK_MONOTONIC);
  auto *op = new Op{this, std::move(cb), uint64_t(now) + config_.timeout_ms, now};
  if (redisAsyncCommandArgv(ac_, on_reply, op, int(argv.size()), argv.data(),
                            argvlen.data()) != REDIS_OK) {
    Callback failed = std::move(op->cb);
    delete op;
    failed(nullptr, "Redis at " + address() + " is disconnecting");
    return;
  }
  pending_.push_back(op);
  if (pending_.size() == 1) arm_deadline();
}

void RedisClient::on_reply(redisAsyncContext *, void *reply, void *privdata) {
  auto *op = static_cast<Op *>(privdata);
  RedisClient *self = op->client;
  auto it = std::find(self->pending_.begin(), self->pending_.end(), op);
  if (it != self->pending_.end()) self->pending_.erase(it);
  Callback cb = std::move(op->cb);
  if (reply != nullptr) {
    self->stats_.commands++;
    self->stats_.command_ms += clock_ms(CLOCK_MONOTONIC) - op->sent_ms;
  }
  delete op;
  if (reply == nullptr) {
    cb(nullptr, "lost the connection to Redis at " + self->address());
  } else {
    cb(static_cast<redisReply *>(reply), std::string());
  }
  if (self->state_ == State::kConnecting || self->state_ == State::kConnected) {
    self->arm_deadline();
  }
}

void RedisClient::on_handshake_reply(redisAsyncContext *ac, void *reply, void *privdata) {
  auto *self = static_cast<RedisClient *>(privdata);
  auto *r = static_cast<redisReply *>(reply);
  if (r && r->type == REDIS_REPLY_ERROR) {
    self->host_.log(DISPATCH_LOG_ERR, "dispatch: Redis at " + self->address() +
                    " refused the handshake: " + std::string(r->str, r->len));
    // Deferred by hiredis until this callback returns.
    redisAsyncDisconnect(ac);
  }
}

void RedisClient::on_connect(const redisAsyncContext *ac, int status) {
  auto *self = static_cast<RedisClient *>(ac->data);
  if (status != REDIS_OK) {
    // hiredis frees the context itself after this callback.
    self->connection_lost(ac->errstr);
    return;
  }
  self->state_ = State::kConnected;
  self->backoff_ms_ = 0;
  if (self->connected_once_) self->stats_.reconnects++;
  self->connected_once_ = true;
  if (self->reported_down_) {
    self->host_.log(DISPATCH_LOG_NOTICE,
                    "dispatch: reconnected to Redis at " + self->address());
    self->reported_down_ = false;
  }
  self->arm_deadline();
}

void RedisClient::on_disconnect(const redisAsyncContext *ac, int status) {
  auto *self = static_cast<RedisClient *>(ac->data);
  if (self->state_ == State::kDisconnected || self->state_ == State::kClosed) {
    return;  // we asked for it
  }
  self->connection_lost(status == REDIS_OK ? "connection closed" : ac->errstr);
}

void RedisClient::connection_lost(const std::string &why) {
  if (state_ == State::kClosed) return;
  state_ = State::kBackoff;
  if (!reported_down_) {
    host_.log(DISPATCH_LOG_ERR, "dispatch: Redis at " + address() +
              " is unavailable: " + why);
    reported_down_ = true;
  }
  schedule_reconnect();
}

void RedisClient::schedule_reconnect() {
  backoff_ms_ = backoff_ms_ == 0 ? kBackoffFirstMs
                                 : std::min(backoff_ms_ * 2, kBackoffMaxMs);
  backoff_timer_.start(backoff_ms_);
  if (pending_.empty()) deadline_timer_.stop();
}

// Drops the connection from our side (timeout): every pending command gets
// its null reply from hiredis, then we back off and reconnect.
void RedisClient::drop_connection(const std::string &why) {
  state_ = State::kDisconnected;  // on_disconnect must not report it twice
  if (ac_) redisAsyncFree(ac_);
  connection_lost(why);
}

void RedisClient::arm_deadline() {
  uint64_t deadline = 0;
  if (state_ == State::kConnecting) deadline = connect_deadline_;
  if (!pending_.empty()) {
    uint64_t d = pending_.front()->deadline;
    deadline = deadline ? std::min(deadline, d) : d;
  }
  if (deadline == 0) {
    deadline_timer_.stop();
    return;
  }
  uint64_t now = monotonic_ms();
  deadline_timer_.start(deadline > now ? deadline - now : 0);
}

void RedisClient::on_deadline() {
  uint64_t now = monotonic_ms();
  if (state_ == State::kConnecting && connect_deadline_ <= now) {
    drop_connection("connect timed out");
    return;
  }
  if (!pending_.empty() && pending_.front()->deadline <= now) {
    drop_connection("command timed out");
    return;
  }
  arm_deadline();
}

// hiredis says which directions it waits for; the host watches those.
void RedisClient::want(void *data, bool read, bool on) {
  auto *self = static_cast<RedisClient *>(data);
  (read ? self->want_read_ : self->want_write_) = on;
  if (self->io_) self->host_.raw().io_want(self->io_, self->want_read_, self->want_write_);
}

void RedisClient::ev_add_read(void *data) { want(data, true, true); }
void RedisClient::ev_del_read(void *data) { want(data, true, false); }
void RedisClient::ev_add_write(void *data) { want(data, false, true); }
void RedisClient::ev_del_write(void *data) { want(data, false, false); }

// hiredis is freeing the context: the host closes the fd, and hiredis must
// not close it a second time.
void RedisClient::ev_cleanup(void *data) {
  auto *self = static_cast<RedisClient *>(data);
  if (self->io_) {
    self->host_.raw().io_close(self->io_);
    self->io_ = nullptr;
  }
  self->want_read_ = self->want_write_ = false;
  if (self->ac_) {
    self->ac_->c.fd = -1;
    self->ac_ = nullptr;
  }
}

void RedisClient::on_io(void *arg, int readable, int writable) {
  auto *self = static_cast<RedisClient *>(arg);
  // Each direction arrives as its own call, so a read that frees the
  // context is never followed by a write on it.
  if (readable && self->ac_) {
    redisAsyncHandleRead(self->ac_);
  } else if (writable && self->ac_) {
    redisAsyncHandleWrite(self->ac_);
  }
}

}  // namespace dispatch

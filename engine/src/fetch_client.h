// fetch_client.h: outbound HTTP/1.1 for fetch(), above the host's byte
// streams (dispatch_engine.h). One FetchExchange is one request and its
// response on one connection; redirects, bodies as Web streams and the
// Fetch Standard's rules are the built-ins' (engine/js/fetch.js). The
// engine decides where a connection may go (EgressPolicy: every resolved
// address, at connect time, on every hop); the upstream is treated as
// hostile too: its head is bounded and every number it sends is checked.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dispatch_engine.h"
#include "egress_policy.h"
#include "host.h"

namespace dispatch {

class OutboundPool;

// Whoever uses a connection: a fetch() exchange, or a socket (socket_client.h).
class ConnectionUser {
 public:
  virtual ~ConnectionUser() = default;
  virtual void on_stream(int events) = 0;
};

// One outbound connection. The host's stream calls back into it for its
// whole life, whoever uses it: an exchange or a socket, or the pool while
// it is idle.
struct Connection {
  OutboundPool *pool = nullptr;
  dispatch_stream_t *stream = nullptr;
  std::string key;              // tls, address, port and SNI: reused only for the same
  ConnectionUser *user = nullptr;
  std::string owner;            // the script using it, while one does
  std::unique_ptr<Timer> idle_timer;
  static void on_event(void *arg, int events);
};

// Idle keep-alive connections and the count of open ones, per worker.
class OutboundPool {
 public:
  OutboundPool(const Host &host, size_t max_connections);
  ~OutboundPool();
  OutboundPool(const OutboundPool &) = delete;
  OutboundPool &operator=(const OutboundPool &) = delete;

  const Host &host() const { return host_; }
  // A new connection to addr:port for user, or null (with *why) when the
  // worker has as many open as it may (idle ones are closed first).
  // A script (owner, "NS/NAME") may use at most a quarter of them at once
  // (at least 6), so that no tenant takes every connection of the worker.
  Connection *open(const dispatch_addr_t &addr, int port, bool tls, const std::string &sni,
                   uint64_t timeout_ms, const std::string &key, ConnectionUser *user,
                   const std::string &owner, std::string *why);
  // An idle connection for key, now used by user; or null.
  Connection *take(const std::string &key, ConnectionUser *user, const std::string &owner);
  size_t per_owner_max() const { return std::max<size_t>(6, max_ / 4); }
  // Done with it: kept for reuse, or closed.
  void put_back(Connection *c, bool reusable);
  void close(Connection *c);
  size_t open_count() const { return conns_.size(); }

 private:
  friend struct Connection;
  void idle_event(Connection *c, int events);
  bool close_oldest_idle();

  const Host &host_;
  size_t max_;
  void unuse(Connection *c);

  std::unordered_map<Connection *, std::unique_ptr<Connection>> conns_;
  std::deque<Connection *> idle_;  // oldest first
  std::unordered_map<std::string, size_t> in_use_;  // by owner
};

// Up to max bytes from the front of queue (pieces as they were read),
// moved out; *bytes, the count queue holds, goes down by as many.
std::string take_queued(std::deque<std::string> &queue, size_t *bytes, size_t max);

// Writes out[*pos..] to the stream until it is all sent (kSent: out is
// emptied), the stream takes no more now (kAgain) or fails (kFailed);
// *progressed: some of it went.
enum class WriteResult { kSent, kAgain, kFailed };
WriteResult write_queued(const dispatch_host_t &host, dispatch_stream_t *stream, std::string &out,
                         size_t *pos, bool *progressed);

// What the built-ins asked for.
struct FetchRequestHead {
  std::string method;
  bool tls = false;
  std::string host;          // as the URL serialised it ("example.com", "[::1]")
  int port = 80;
  std::string path;          // path and query
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t body_length = 0;   // -1: a stream of unknown length (chunked)
  std::string body;          // a body of known bytes, whole
  bool body_streamed = false;
};

struct FetchLimits {
  uint64_t connect_timeout_ms = 10000;
  uint64_t send_timeout_ms = 60000;
  uint64_t read_timeout_ms = 60000;
};

// One request and its response. Events come back through the callbacks,
// always from the host's loop (never from inside a call into it).
class FetchExchange : public ConnectionUser {
 public:
  struct Events {
    // The response's head, or a failure before it (TypeError message).
    std::function<void(int status, const std::string &reason,
                       const std::vector<std::pair<std::string, std::string>> &headers)> head;
    std::function<void(const std::string &error)> failed;
    // Body bytes are ready (body_take), it ended, or it broke.
    std::function<void()> body_ready;
    // The request body's writer may write more.
    std::function<void()> writable;
  };

  FetchExchange(OutboundPool &pool, const EgressPolicy &policy, const FetchLimits &limits,
                FetchRequestHead request, Events events, std::string owner);
  ~FetchExchange() override;
  FetchExchange(const FetchExchange &) = delete;
  FetchExchange &operator=(const FetchExchange &) = delete;

  void start();
  // A streamed request body: a piece, then the end. false: not now (the
  // send buffer is full; wait for Events::writable).
  bool write_body(const char *data, size_t len);
  void end_body();
  bool write_ready() const;

  // What the response body holds now: up to max bytes, moved out.
  std::string body_take(size_t max);
  bool body_queued() const { return !body_.empty(); }
  size_t body_bytes() const { return body_bytes_; }
  bool body_complete() const { return body_done_; }  // all of it arrived
  bool body_ended() const { return body_done_ && body_.empty(); }
  const std::string &body_error() const { return body_error_; }
  // Stops it: the connection is closed, no event comes after.
  void abort();
  bool finished() const { return state_ == State::kDone || state_ == State::kFailed; }
  // Done with, as far as the request's connection slots go: failed or
  // aborted, or its body read to the end by the script (as on Workers, a
  // response whose body is not read holds its slot).
  bool drained() const {
    return state_ == State::kFailed || (state_ == State::kDone && body_done_ && body_.empty());
  }

  static constexpr size_t kMaxHead = 64u << 10;
  static constexpr size_t kBodyHighWater = 64u << 10;
  static constexpr size_t kSendHighWater = 256u << 10;

 private:
  enum class State { kIdle, kResolving, kConnecting, kExchanging, kDone, kFailed };

  friend struct Connection;
  void on_resolved(int status, const char *error, const dispatch_addr_t *addrs, size_t n);
  void connect(const dispatch_addr_t &addr);
  void on_stream(int events) override;
  void fail(const std::string &why);
  void flush();
  void pump_read();
  bool parse_head();
  bool decode_body();
  void finish_if_done();
  void arm_read_timer();
  static void resolved(void *arg, int status, const char *error, const dispatch_addr_t *addrs,
                       size_t n);

  OutboundPool &pool_;
  const EgressPolicy &policy_;
  FetchLimits limits_;
  FetchRequestHead req_;
  Events events_;
  std::string owner_;
  State state_ = State::kIdle;
  dispatch_resolve_t *resolving_ = nullptr;
  Connection *conn_ = nullptr;
  bool reused_ = false;
  std::string key_;

  std::string out_;        // bytes to send
  size_t out_pos_ = 0;
  bool body_sent_ = false;  // the request's last byte is in out_
  uint64_t body_written_ = 0;  // of a streamed body, by write_body

  std::string in_;          // bytes read, not yet parsed
  bool head_done_ = false;
  // events_.head was called: the script has a Response to read a body error
  // from. A body that breaks in the read that brought the head (a malformed
  // chunk, the connection closed short) fails the fetch() itself.
  bool head_told_ = false;
  int status_ = 0;
  std::string reason_;
  std::vector<std::pair<std::string, std::string>> headers_;
  enum class Framing { kNone, kLength, kChunked, kClose } framing_ = Framing::kNone;
  uint64_t left_ = 0;       // of the length, or of the current chunk
  enum class Chunk { kSize, kData, kDataEnd, kTrailer } chunk_ = Chunk::kSize;
  bool keep_alive_ = true;
  std::deque<std::string> body_;
  size_t body_bytes_ = 0;
  bool body_done_ = false;
  std::string body_error_;
  bool eof_ = false;

  std::unique_ptr<Timer> read_timer_;
  std::unique_ptr<Timer> send_timer_;
  std::unique_ptr<Timer> later_;  // failures found inside a call, reported from the loop
  std::string later_error_;
};

}  // namespace dispatch

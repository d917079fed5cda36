// socket_client.h: a TCP or TLS stream for cloudflare:sockets connect(),
// above the host's byte streams as fetch()'s exchanges are (fetch_client.h):
// the same egress policy on every resolved address, the same worker-wide
// and per-script connection counts (OutboundPool), no HTTP. Bounded both
// ways: at most kReadHighWater bytes are read ahead of what the script took
// (a peer that floods waits on TCP), at most kSendHighWater wait to be sent
// (the script's writes wait on it). A peer that takes nothing for
// send_timeout fails the socket; one that sends nothing may (a database
// connection idles): the socket ends with its request.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "dispatch_engine.h"
#include "egress_policy.h"
#include "fetch_client.h"
#include "host.h"

namespace dispatch {

class SocketStream : public ConnectionUser {
 public:
  // Called from the host's loop, never from inside a call into this.
  struct Events {
    std::function<void()> opened;    // connected (or upgraded to TLS), or failed
    std::function<void()> readable;  // bytes, the end, or a failure to read
    std::function<void()> writable;  // the send buffer drained below its mark
  };

  SocketStream(OutboundPool &pool, const EgressPolicy &policy, const FetchLimits &limits,
               std::string host, int port, bool tls, Events events, std::string owner);
  ~SocketStream() override;
  SocketStream(const SocketStream &) = delete;
  SocketStream &operator=(const SocketStream &) = delete;

  void start();
  // Queues bytes; false: wait for Events::writable before the next.
  bool write(const char *data, size_t len);
  bool write_ready() const { return out_.size() - out_pos_ + tls_out_.size() < kSendHighWater; }
  // The writable side closed: FIN once what is queued is sent.
  void end();
  // STARTTLS once what is queued is sent; Events::opened when it is up.
  bool start_tls(const std::string &sni, std::string *why);
  // Up to max bytes of what the peer sent, moved out.
  std::string take(size_t max);
  void close();

  // Up, and not about to be upgraded to TLS.
  bool open() const { return state_ == State::kOpen && tls_sni_.empty(); }
  bool failed() const { return state_ == State::kFailed; }
  bool closed() const { return state_ == State::kClosed; }
  bool upgrading() const { return state_ == State::kUpgrading; }
  const std::string &error() const { return error_; }
  bool read_queued() const { return !in_.empty(); }
  size_t read_bytes() const { return in_bytes_; }
  bool read_ended() const { return eof_ && in_.empty(); }
  const std::string &remote_address() const { return remote_; }
  // Its connection slot is free: closed or failed.
  bool drained() const { return state_ == State::kFailed || state_ == State::kClosed; }

  static constexpr size_t kReadHighWater = 64u << 10;
  static constexpr size_t kReadPiece = 16u << 10;  // one read from the peer
  static constexpr size_t kSendHighWater = 64u << 10;

 private:
  enum class State { kIdle, kResolving, kConnecting, kOpen, kUpgrading, kFailed, kClosed };

  void on_stream(int events) override;
  void on_resolved(int status, const char *error, const dispatch_addr_t *addrs, size_t n);
  void connect(const dispatch_addr_t &addr);
  void flush();
  void after_flush();
  void pump_read();
  void fail(const std::string &why);
  void fail_later(const std::string &why);
  void release();
  static void resolved(void *arg, int status, const char *error, const dispatch_addr_t *addrs,
                       size_t n);

  OutboundPool &pool_;
  const EgressPolicy &policy_;
  FetchLimits limits_;
  std::string host_;
  int port_;
  bool tls_;
  Events events_;
  std::string owner_;
  State state_ = State::kIdle;
  std::string error_;
  std::string remote_;
  dispatch_resolve_t *resolving_ = nullptr;
  Connection *conn_ = nullptr;

  std::string out_;
  size_t out_pos_ = 0;
  bool ending_ = false;   // end() asked: shut down once out_ is sent
  bool ended_ = false;
  std::string tls_sni_;   // start_tls() asked: upgrade once out_ is sent
  std::string tls_out_;   // written after start_tls(): sent once TLS is up

  std::deque<std::string> in_;
  size_t in_bytes_ = 0;
  bool eof_ = false;

  std::unique_ptr<Timer> send_timer_;
  std::unique_ptr<Timer> later_;  // a read or a failure, from the loop
  std::string later_error_;
};

}  // namespace dispatch

#include "socket_client.h"

#include <sys/socket.h>

#include <algorithm>

namespace dispatch {

SocketStream::SocketStream(OutboundPool &pool, const EgressPolicy &policy,
                           const FetchLimits &limits, std::string host, int port, bool tls,
                           Events events, std::string owner)
    : pool_(pool),
      policy_(policy),
      limits_(limits),
      host_(std::move(host)),
      port_(port),
      tls_(tls),
      events_(std::move(events)),
      owner_(std::move(owner)) {}

SocketStream::~SocketStream() { release(); }

// The connection and the resolver query go; no callback comes after.
void SocketStream::release() {
  if (resolving_) pool_.host().raw().resolve_cancel(resolving_);
  resolving_ = nullptr;
  if (conn_) pool_.close(conn_);
  conn_ = nullptr;
  if (send_timer_) send_timer_->stop();
}

void SocketStream::fail_later(const std::string &why) {
  state_ = State::kConnecting;
  later_error_ = why;
  later_ = std::make_unique<Timer>(pool_.host(), [this] { fail(later_error_); }, false);
  later_->start(0);
}

void SocketStream::start() {
  const Host &host = pool_.host();
  dispatch_addr_t addr;
  if (parse_ip_literal(host_, &addr)) {
    std::string why;
    if (!policy_.allows(addr, port_, &why)) {
      fail_later("connect(): " + why);
      return;
    }
    state_ = State::kConnecting;
    connect(addr);
    return;
  }
  if (host.raw().resolve == nullptr) {
    fail_later("connect() cannot resolve host names here");
    return;
  }
  char err[256] = "";
  state_ = State::kResolving;
  resolving_ = host.raw().resolve(host.raw().data, host_.data(), host_.size(),
                                  &SocketStream::resolved, this, err, sizeof(err));
  if (resolving_ == nullptr) fail_later(err[0] ? err : "cannot resolve " + host_);
}

void SocketStream::resolved(void *arg, int status, const char *error,
                            const dispatch_addr_t *addrs, size_t n) {
  static_cast<SocketStream *>(arg)->on_resolved(status, error, addrs, n);
}

void SocketStream::on_resolved(int status, const char *error, const dispatch_addr_t *addrs,
                               size_t n) {
  resolving_ = nullptr;
  if (status != 0 || n == 0) {
    fail("connect(): " + host_ + " could not be resolved" +
         (error && *error ? std::string(": ") + error : std::string()));
    return;
  }
  // As fetch(): a name with any refused address is refused whole.
  for (size_t i = 0; i < n; i++) {
    std::string why;
    if (!policy_.allows(addrs[i], port_, &why)) {
      fail("connect(): " + host_ + " resolves to " + EgressPolicy::format(addrs[i]) + ": " + why);
      return;
    }
  }
  state_ = State::kConnecting;
  connect(addrs[0]);
}

void SocketStream::connect(const dispatch_addr_t &addr) {
  std::string sni = host_;
  if (sni.size() > 2 && sni.front() == '[') sni = sni.substr(1, sni.size() - 2);
  std::string a = EgressPolicy::format(addr);
  remote_ = (addr.family == AF_INET6 ? "[" + a + "]" : a) + ":" + std::to_string(port_);
  std::string why;
  // Never pooled: its key matches no fetch()'s.
  conn_ = pool_.open(addr, port_, tls_, sni, limits_.connect_timeout_ms, "socket", this, owner_,
                     &why);
  if (conn_ == nullptr) fail_later("connect(): " + why);
}

void SocketStream::on_stream(int events) {
  if (drained()) return;
  if (events & DISPATCH_STREAM_FAILED) {
    std::string why = conn_ && conn_->stream ? pool_.host().raw().stream_error(conn_->stream) : "";
    fail(std::string(state_ == State::kUpgrading ? "startTls(): " : "connect(): ") +
         "could not connect to " + host_ + ":" + std::to_string(port_) +
         (why.empty() ? std::string() : ": " + why));
    return;
  }
  if (events & DISPATCH_STREAM_CONNECTED) {
    if (state_ == State::kUpgrading) out_.swap(tls_out_);  // out_ was sent before the handshake
    state_ = State::kOpen;
    if (events_.opened) events_.opened();
    if (drained()) return;
  }
  if (state_ != State::kOpen) return;
  if (events & (DISPATCH_STREAM_CONNECTED | DISPATCH_STREAM_WRITABLE)) {
    bool was_ready = write_ready();
    flush();
    if (drained()) return;
    if (!was_ready && write_ready() && events_.writable) events_.writable();
    if (drained()) return;
  }
  if (events & (DISPATCH_STREAM_CONNECTED | DISPATCH_STREAM_READABLE)) pump_read();
}

void SocketStream::flush() {
  if (state_ != State::kOpen || conn_ == nullptr) return;
  const dispatch_host_t &h = pool_.host().raw();
  bool progressed;
  switch (write_queued(h, conn_->stream, out_, &out_pos_, &progressed)) {
    case WriteResult::kSent:
      if (send_timer_) send_timer_->stop();
      after_flush();
      return;
    case WriteResult::kAgain:
      // A peer that takes nothing for this long fails the socket.
      if (!send_timer_) {
        send_timer_ = std::make_unique<Timer>(pool_.host(), [this] {
          fail("the peer did not take what the socket wrote within dispatch_fetch_send_timeout");
        }, false);
      }
      if (progressed || !send_timer_->armed()) send_timer_->start(limits_.send_timeout_ms);
      return;
    case WriteResult::kFailed:
      fail("connect(): the connection to " + host_ + ":" + std::to_string(port_) +
           " was lost while writing: " + h.stream_error(conn_->stream));
      return;
  }
}

// Everything written is sent: what waited on that happens now.
void SocketStream::after_flush() {
  const dispatch_host_t &h = pool_.host().raw();
  if (!tls_sni_.empty()) {
    std::string sni;
    sni.swap(tls_sni_);
    // Bytes the peer sent before the upgrade belong to the plain socket,
    // which has ended: the TLS one starts with nothing read. An end() the
    // TLS socket asked for waits for it to be up.
    in_.clear();
    in_bytes_ = 0;
    state_ = State::kUpgrading;
    if (h.stream_starttls(conn_->stream, sni.data(), sni.size(), limits_.connect_timeout_ms) != 0) {
      fail_later("startTls(): TLS cannot be started on this connection");
    }
    return;
  }
  if (ending_ && !ended_) {
    ended_ = true;
    if (h.stream_shutdown != nullptr && h.stream_shutdown(conn_->stream) != 0) {
      fail("connect(): closing the writable side failed: " +
           std::string(h.stream_error(conn_->stream)));
    }
  }
}

bool SocketStream::write(const char *data, size_t len) {
  if (drained()) return true;
  if (!tls_sni_.empty() || state_ == State::kUpgrading) {
    // For the TLS socket startTls() returned: never in the clear.
    tls_out_.append(data, len);
    return write_ready();
  }
  out_.append(data, len);
  flush();
  return write_ready();
}

void SocketStream::end() {
  if (ending_) return;
  ending_ = true;
  if (state_ == State::kOpen && out_pos_ == out_.size()) after_flush();
}

bool SocketStream::start_tls(const std::string &sni, std::string *why) {
  if (pool_.host().raw().stream_starttls == nullptr) {
    *why = "startTls(): this host cannot upgrade a connection to TLS";
    return false;
  }
  if (ending_ || drained()) {
    *why = "startTls(): the socket is closed";
    return false;
  }
  tls_sni_ = sni;
  if (state_ == State::kOpen && out_pos_ == out_.size()) after_flush();
  return true;
}

void SocketStream::pump_read() {
  if (state_ != State::kOpen || conn_ == nullptr || eof_ || !tls_sni_.empty()) return;
  const dispatch_host_t &h = pool_.host().raw();
  size_t was = in_bytes_;
  char buf[kReadPiece];
  // Backpressure: nothing more is read while the script has not taken
  // what is queued (TCP slows the peer down).
  while (in_bytes_ < kReadHighWater) {
    long n = h.stream_read(conn_->stream, buf, sizeof(buf));
    if (n > 0) {
      in_.emplace_back(buf, size_t(n));
      in_bytes_ += size_t(n);
      continue;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    if (n == DISPATCH_STREAM_AGAIN) break;
    fail("connect(): the connection to " + host_ + ":" + std::to_string(port_) +
         " was lost: " + h.stream_error(conn_->stream));
    return;
  }
  if ((in_bytes_ != was || eof_) && events_.readable) events_.readable();
}

std::string SocketStream::take(size_t max) {
  std::string out = take_queued(in_, &in_bytes_, max);
  // The script caught up: the peer may send more (from the loop).
  if (state_ == State::kOpen && !eof_ && in_bytes_ < kReadHighWater) {
    if (!later_) later_ = std::make_unique<Timer>(pool_.host(), [this] { pump_read(); }, false);
    if (!later_->armed()) later_->start(0);
  }
  return out;
}

void SocketStream::close() {
  if (drained()) return;
  release();
  state_ = State::kClosed;
  in_.clear();
  in_bytes_ = 0;
  std::string().swap(out_);
  std::string().swap(tls_out_);
  out_pos_ = 0;
  if (later_) later_->stop();  // stopped, not destroyed: this may run inside it
}

void SocketStream::fail(const std::string &why) {
  if (drained()) return;
  bool was_open = state_ == State::kOpen;
  release();
  state_ = State::kFailed;
  error_ = why;
  std::string().swap(out_);
  std::string().swap(tls_out_);
  out_pos_ = 0;
  // Whoever waits hears of it: the opening, a read, a write.
  if (!was_open && events_.opened) events_.opened();
  if (drained() && events_.readable) events_.readable();
  if (drained() && events_.writable) events_.writable();
}

}  // namespace dispatch

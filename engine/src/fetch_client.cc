#include "fetch_client.h"

#include <algorithm>
#include <cstring>

#include "http_syntax.h"

namespace dispatch {

namespace {

constexpr uint64_t kIdleMs = 30000;        // an idle keep-alive connection is kept this long
constexpr size_t kMaxLineBytes = 8192;     // a chunk-size or trailer line
constexpr size_t kMaxHeaders = 256;
constexpr size_t kReadPiece = 16384;

std::string lower(std::string s) {
  for (char &c : s) c = char(tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A decimal the upstream sent: digits only, at most 2^53.
bool parse_length(const std::string &s, uint64_t *out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint64_t(c - '0');
  }
  if (n > (uint64_t(1) << 53)) return false;
  *out = n;
  return true;
}

bool parse_chunk_size(const std::string &line, uint64_t *out) {
  size_t end = line.find_first_of("; \t");
  std::string hex = line.substr(0, end);
  if (hex.empty() || hex.size() > 12) return false;
  uint64_t n = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    n = n * 16 + uint64_t(d);
  }
  *out = n;
  return true;
}

}  // namespace

// ---- connections -------------------------------------------------------------

void Connection::on_event(void *arg, int events) {
  auto *c = static_cast<Connection *>(arg);
  if (c->user != nullptr) {
    c->user->on_stream(events);
  } else {
    c->pool->idle_event(c, events);
  }
}

OutboundPool::OutboundPool(const Host &host, size_t max_connections)
    : host_(host), max_(max_connections ? max_connections : 256) {}

OutboundPool::~OutboundPool() {
  for (auto &entry : conns_) {
    if (entry.second->stream) host_.raw().stream_close(entry.second->stream);
  }
}

bool OutboundPool::close_oldest_idle() {
  if (idle_.empty()) return false;
  close(idle_.front());
  return true;
}

Connection *OutboundPool::open(const dispatch_addr_t &addr, int port, bool tls,
                               const std::string &sni, uint64_t timeout_ms,
                               const std::string &key, ConnectionUser *user,
                               const std::string &owner, std::string *why) {
  if (host_.raw().stream_open == nullptr) {
    *why = "fetch() is not available here: the host opens no outbound connections";
    return nullptr;
  }
  auto used = in_use_.find(owner);
  if (used != in_use_.end() && used->second >= per_owner_max()) {
    *why = "script \"" + owner + "\" has " + std::to_string(used->second) +
           " outbound connections open in this worker, the most it may (a quarter of "
           "dispatch_fetch_connections)";
    return nullptr;
  }
  while (conns_.size() >= max_) {
    if (!close_oldest_idle()) {
      *why = "this worker has " + std::to_string(conns_.size()) +
             " outbound connections open, the most dispatch_fetch_connections allows";
      return nullptr;
    }
  }
  auto owned = std::make_unique<Connection>();
  Connection *c = owned.get();
  c->pool = this;
  c->key = key;
  c->user = user;
  c->owner = owner;
  c->stream = host_.raw().stream_open(host_.raw().data, &addr, port, tls ? 1 : 0, sni.data(),
                                      sni.size(), timeout_ms, &Connection::on_event, c);
  if (c->stream == nullptr) {
    *why = "cannot open a connection";
    return nullptr;
  }
  conns_.emplace(c, std::move(owned));
  in_use_[owner]++;
  return c;
}

void OutboundPool::unuse(Connection *c) {
  if (c->user == nullptr) return;
  auto it = in_use_.find(c->owner);
  if (it != in_use_.end() && --it->second == 0) in_use_.erase(it);
  c->user = nullptr;
  c->owner.clear();
}

Connection *OutboundPool::take(const std::string &key, ConnectionUser *user,
                               const std::string &owner) {
  auto used = in_use_.find(owner);
  if (used != in_use_.end() && used->second >= per_owner_max()) return nullptr;
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
    Connection *c = *it;
    if (c->key != key) continue;
    idle_.erase(std::next(it).base());
    c->idle_timer.reset();
    c->user = user;
    c->owner = owner;
    in_use_[owner]++;
    return c;
  }
  return nullptr;
}

void OutboundPool::put_back(Connection *c, bool reusable) {
  if (!reusable) {
    close(c);
    return;
  }
  unuse(c);
  c->idle_timer = std::make_unique<Timer>(host_, [this, c] { close(c); }, true);
  c->idle_timer->start(kIdleMs);
  idle_.push_back(c);
  // Idle ones never take more than half of what the worker may open.
  while (idle_.size() > std::max<size_t>(1, max_ / 2)) close(idle_.front());
}

void OutboundPool::close(Connection *c) {
  unuse(c);
  auto it = std::find(idle_.begin(), idle_.end(), c);
  if (it != idle_.end()) idle_.erase(it);
  if (c->stream) host_.raw().stream_close(c->stream);
  c->stream = nullptr;
  conns_.erase(c);  // destroys c and its idle timer
}

// An idle connection the upstream closed, or sent something unasked.
void OutboundPool::idle_event(Connection *c, int) { close(c); }

// ---- one exchange ----------------------------------------------------------------

FetchExchange::FetchExchange(OutboundPool &pool, const EgressPolicy &policy,
                             const FetchLimits &limits, FetchRequestHead request, Events events,
                             std::string owner)
    : pool_(pool),
      policy_(policy),
      limits_(limits),
      req_(std::move(request)),
      events_(std::move(events)),
      owner_(std::move(owner)) {}

FetchExchange::~FetchExchange() {
  // Nothing may call back into a gone exchange.
  if (resolving_) pool_.host().raw().resolve_cancel(resolving_);
  if (conn_) pool_.close(conn_);
}

void FetchExchange::start() {
  const Host &host = pool_.host();
  auto fail_later = [this, &host](const std::string &why) {
    state_ = State::kFailed;
    later_error_ = why;
    later_ = std::make_unique<Timer>(host, [this] {
      state_ = State::kIdle;  // fail() reports once
      fail(later_error_);
    }, false);
    later_->start(0);
  };
  dispatch_addr_t addr;
  if (parse_ip_literal(req_.host, &addr)) {
    std::string why;
    if (!policy_.allows(addr, req_.port, &why)) {
      fail_later(why);
      return;
    }
    state_ = State::kConnecting;
    connect(addr);
    return;
  }
  if (host.raw().resolve == nullptr) {
    fail_later("fetch() cannot resolve host names here");
    return;
  }
  char err[256] = "";
  state_ = State::kResolving;
  resolving_ = host.raw().resolve(host.raw().data, req_.host.data(), req_.host.size(),
                                  &FetchExchange::resolved, this, err, sizeof(err));
  if (resolving_ == nullptr) fail_later(err[0] ? err : "cannot resolve " + req_.host);
}

void FetchExchange::resolved(void *arg, int status, const char *error,
                             const dispatch_addr_t *addrs, size_t n) {
  static_cast<FetchExchange *>(arg)->on_resolved(status, error, addrs, n);
}

void FetchExchange::on_resolved(int status, const char *error, const dispatch_addr_t *addrs,
                                size_t n) {
  resolving_ = nullptr;
  if (status != 0 || n == 0) {
    fail("fetch(): " + req_.host + " could not be resolved" +
         (error && *error ? std::string(": ") + error : std::string()));
    return;
  }
  // A name whose answer holds any address the policy refuses is refused
  // whole: the upstream must not get to choose among them.
  for (size_t i = 0; i < n; i++) {
    std::string why;
    if (!policy_.allows(addrs[i], req_.port, &why)) {
      fail(req_.host + " resolves to " + EgressPolicy::format(addrs[i]) + ": " + why);
      return;
    }
  }
  state_ = State::kConnecting;
  connect(addrs[0]);
}

void FetchExchange::connect(const dispatch_addr_t &addr) {
  std::string sni = req_.host;
  if (sni.size() > 2 && sni.front() == '[') sni = sni.substr(1, sni.size() - 2);
  key_ = std::string(req_.tls ? "https " : "http ") + EgressPolicy::format(addr) + " " +
         std::to_string(req_.port) + " " + sni;
  conn_ = pool_.take(key_, this, owner_);
  if (conn_ != nullptr) {
    reused_ = true;
    on_stream(DISPATCH_STREAM_CONNECTED);
    return;
  }
  reused_ = false;
  std::string why;
  conn_ = pool_.open(addr, req_.port, req_.tls, sni, limits_.connect_timeout_ms, key_, this,
                     owner_, &why);
  if (conn_ == nullptr) {
    later_error_ = why;
    later_ = std::make_unique<Timer>(pool_.host(), [this] { fail(later_error_); }, false);
    later_->start(0);
  }
}

void FetchExchange::on_stream(int events) {
  if (finished()) return;
  if (events & DISPATCH_STREAM_FAILED) {
    std::string why = conn_ && conn_->stream ? pool_.host().raw().stream_error(conn_->stream) : "";
    fail("fetch() could not connect to " + req_.host + ":" + std::to_string(req_.port) +
         (why.empty() ? std::string() : ": " + why));
    return;
  }
  if (events & DISPATCH_STREAM_CONNECTED) {
    state_ = State::kExchanging;
    std::string head = req_.method + " " + req_.path + " HTTP/1.1\r\nHost: " + req_.host;
    if (req_.port != (req_.tls ? 443 : 80)) head += ":" + std::to_string(req_.port);
    head += "\r\n";
    for (const auto &h : req_.headers) head += h.first + ": " + h.second + "\r\n";
    if (req_.body_streamed && req_.body_length < 0) {
      head += "Transfer-Encoding: chunked\r\n";
    } else if (req_.body_streamed || !req_.body.empty() || req_.method == "POST" ||
               req_.method == "PUT" || req_.method == "PATCH") {
      head += "Content-Length: " +
              std::to_string(req_.body_streamed ? uint64_t(req_.body_length) : req_.body.size()) +
              "\r\n";
    }
    head += "\r\n";
    // Pieces of a streamed body may have come before the connection did.
    out_.insert(0, head + req_.body);
    out_pos_ = 0;
    std::string().swap(req_.body);
    if (!req_.body_streamed) body_sent_ = true;
    arm_read_timer();
  }
  if (events & (DISPATCH_STREAM_CONNECTED | DISPATCH_STREAM_WRITABLE)) {
    bool was_ready = write_ready();
    flush();
    if (finished()) return;
    if (!was_ready && write_ready() && events_.writable) events_.writable();
    if (finished()) return;
  }
  if (events & (DISPATCH_STREAM_CONNECTED | DISPATCH_STREAM_READABLE)) pump_read();
}

WriteResult write_queued(const dispatch_host_t &host, dispatch_stream_t *stream, std::string &out,
                         size_t *pos, bool *progressed) {
  *progressed = false;
  while (*pos < out.size()) {
    long n = host.stream_write(stream, out.data() + *pos, out.size() - *pos);
    if (n > 0) {
      *pos += size_t(n);
      *progressed = true;
      continue;
    }
    if (n != DISPATCH_STREAM_AGAIN) return WriteResult::kFailed;
    if (*pos > (64u << 10) && *pos * 2 > out.size()) {
      out.erase(0, *pos);
      *pos = 0;
    }
    return WriteResult::kAgain;
  }
  out.clear();
  *pos = 0;
  return WriteResult::kSent;
}

void FetchExchange::flush() {
  if (state_ != State::kExchanging || conn_ == nullptr) return;
  const dispatch_host_t &h = pool_.host().raw();
  bool progressed;
  switch (write_queued(h, conn_->stream, out_, &out_pos_, &progressed)) {
    case WriteResult::kSent:
      if (send_timer_) send_timer_->stop();
      finish_if_done();
      return;
    case WriteResult::kAgain:
      if (!send_timer_) {
        send_timer_ = std::make_unique<Timer>(pool_.host(), [this] {
          fail("the upstream did not take the request within dispatch_fetch_send_timeout");
        }, false);
      }
      if (progressed || !send_timer_->armed()) send_timer_->start(limits_.send_timeout_ms);
      return;
    case WriteResult::kFailed:
      fail("fetch() lost its connection to " + req_.host + " while sending: " +
           h.stream_error(conn_->stream));
      return;
  }
}

bool FetchExchange::write_ready() const { return out_.size() - out_pos_ < kSendHighWater; }

bool FetchExchange::write_body(const char *data, size_t len) {
  if (finished() || body_sent_ || len == 0) return true;
  // A body of announced length never sends a byte more than it announced:
  // the rest would reach the upstream as a request of its own.
  if (req_.body_length >= 0 && len > uint64_t(req_.body_length) - body_written_) {
    fail("fetch(): the request body is longer than its announced length (" +
         std::to_string(req_.body_length) + " bytes)");
    return true;
  }
  body_written_ += len;
  if (req_.body_length < 0) {
    char size[24];
    snprintf(size, sizeof(size), "%zx\r\n", len);
    out_ += size;
    out_.append(data, len);
    out_ += "\r\n";
  } else {
    out_.append(data, len);
  }
  flush();
  return write_ready();
}

void FetchExchange::end_body() {
  if (finished() || body_sent_) return;
  // Shorter than announced: the upstream would take the next request on
  // this connection for the rest of this body.
  if (req_.body_length >= 0 && body_written_ != uint64_t(req_.body_length)) {
    fail("fetch(): the request body is shorter than its announced length (" +
         std::to_string(req_.body_length) + " bytes)");
    return;
  }
  if (req_.body_length < 0) out_ += "0\r\n\r\n";
  body_sent_ = true;
  flush();
}

void FetchExchange::arm_read_timer() {
  if (!read_timer_) {
    read_timer_ = std::make_unique<Timer>(pool_.host(), [this] {
      fail("the upstream did not answer within dispatch_fetch_read_timeout");
    }, false);
  }
  read_timer_->start(limits_.read_timeout_ms);
}

void FetchExchange::pump_read() {
  if (state_ != State::kExchanging || conn_ == nullptr) return;
  const dispatch_host_t &h = pool_.host().raw();
  bool head_was = head_done_;
  size_t body_was = body_bytes_;
  bool done_was = body_done_;
  char buf[kReadPiece];
  // Backpressure: while the script has not taken what is queued, nothing
  // more is read from the upstream (TCP slows it down).
  while (!body_done_ && body_bytes_ < kBodyHighWater && state_ == State::kExchanging) {
    long n = h.stream_read(conn_->stream, buf, sizeof(buf));
    if (n > 0) {
      in_.append(buf, size_t(n));
      arm_read_timer();
      if (!head_done_ && !parse_head()) return;
      if (head_done_ && !decode_body()) return;
      continue;
    }
    if (n == 0) {
      eof_ = true;
      keep_alive_ = false;
      if (!head_done_) {
        fail("the upstream " + req_.host + " closed the connection without a response");
        return;
      }
      if (framing_ == Framing::kClose) {
        body_done_ = true;
      } else if (!body_done_) {
        fail("the upstream " + req_.host + " closed the connection before the end of the body");
        return;
      }
      break;
    }
    if (n == DISPATCH_STREAM_AGAIN) break;
    fail("fetch() lost its connection to " + req_.host + ": " + h.stream_error(conn_->stream));
    return;
  }
  if (body_done_ || body_bytes_ >= kBodyHighWater) {
    if (read_timer_) read_timer_->stop();
  }
  // The callbacks run JavaScript, which may abort this exchange: nothing of
  // the stream is touched after them.
  bool head_now = !head_was && head_done_;
  bool body_now = body_bytes_ != body_was || body_done_ != done_was;
  finish_if_done();
  if (head_now && events_.head) {
    head_told_ = true;
    events_.head(status_, reason_, headers_);
    std::vector<std::pair<std::string, std::string>>().swap(headers_);
  }
  if (body_now && events_.body_ready && state_ != State::kFailed) events_.body_ready();
}

bool FetchExchange::parse_head() {
  for (;;) {
    size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in_.size() > kMaxHead) {
        fail("the upstream's response head is larger than " + std::to_string(kMaxHead >> 10) +
             " KiB");
        return false;
      }
      return true;
    }
    std::string head = in_.substr(0, end);
    in_.erase(0, end + 4);
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    // HTTP/1.x SSS reason
    if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[8] != ' ' ||
        !isdigit(static_cast<unsigned char>(line[9])) ||
        !isdigit(static_cast<unsigned char>(line[10])) ||
        !isdigit(static_cast<unsigned char>(line[11])) || (line.size() > 12 && line[12] != ' ')) {
      fail("the upstream " + req_.host + " sent no valid HTTP/1.x response");
      return false;
    }
    int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    bool http10 = line[7] == '0';
    std::string reason = line.size() > 13 ? line.substr(13) : "";
    // RFC 9112's reason-phrase: tabs, spaces and visible bytes. A bare LF
    // or NUL there would reach the script's statusText.
    for (unsigned char c : reason) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        fail("the upstream " + req_.host + " sent a control character in its status line");
        return false;
      }
    }
    std::vector<std::pair<std::string, std::string>> headers;
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    bool chunked = false;
    bool has_length = false;
    uint64_t length = 0;
    bool close = http10;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string field = head.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = field.find(':');
      std::string name = colon == std::string::npos ? "" : field.substr(0, colon);
      if (!http_token(name.data(), name.size()) || headers.size() >= kMaxHeaders) {
        fail("the upstream " + req_.host + " sent a malformed response header");
        return false;
      }
      std::string value = trim(field.substr(colon + 1));
      for (unsigned char c : value) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
          fail("the upstream " + req_.host + " sent a control character in a header");
          return false;
        }
      }
      std::string lname = lower(name);
      if (lname == "transfer-encoding") {
        std::string v = lower(value);
        chunked = v.size() >= 7 && v.compare(v.size() - 7, 7, "chunked") == 0;
        if (!chunked) close = true;  // an encoding we do not frame: until close
      } else if (lname == "content-length") {
        uint64_t n;
        if (!parse_length(value, &n) || (has_length && n != length)) {
          fail("the upstream " + req_.host + " sent an invalid Content-Length");
          return false;
        }
        has_length = true;
        length = n;
      } else if (lname == "connection") {
        if (lower(value).find("close") != std::string::npos) close = true;
      }
      headers.emplace_back(std::move(name), std::move(value));
    }
    if (status >= 100 && status < 200) {
      if (status == 101) {
        fail("the upstream " + req_.host + " switched protocols, which fetch() does not follow");
        return false;
      }
      continue;  // an interim response: the real one follows
    }
    status_ = status;
    reason_ = reason;
    headers_ = std::move(headers);
    keep_alive_ = !close;
    if (req_.method == "HEAD" || status == 204 || status == 304) {
      framing_ = Framing::kNone;
      body_done_ = true;
    } else if (chunked) {
      framing_ = Framing::kChunked;
    } else if (has_length) {
      framing_ = Framing::kLength;
      left_ = length;
      if (length == 0) body_done_ = true;
    } else {
      framing_ = Framing::kClose;
      keep_alive_ = false;
    }
    head_done_ = true;
    return true;
  }
}

bool FetchExchange::decode_body() {
  while (!in_.empty() && !body_done_) {
    switch (framing_) {
      case Framing::kNone:
        body_done_ = true;
        break;
      case Framing::kClose:
        body_bytes_ += in_.size();
        body_.push_back(std::move(in_));
        in_.clear();
        break;
      case Framing::kLength: {
        size_t n = size_t(std::min<uint64_t>(left_, in_.size()));
        body_.push_back(in_.substr(0, n));
        in_.erase(0, n);
        body_bytes_ += n;
        left_ -= n;
        if (left_ == 0) body_done_ = true;
        break;
      }
      case Framing::kChunked: {
        if (chunk_ == Chunk::kData) {
          size_t n = size_t(std::min<uint64_t>(left_, in_.size()));
          body_.push_back(in_.substr(0, n));
          in_.erase(0, n);
          body_bytes_ += n;
          left_ -= n;
          if (left_ == 0) chunk_ = Chunk::kDataEnd;
          break;
        }
        size_t eol = in_.find("\r\n");
        if (eol == std::string::npos) {
          if (in_.size() > kMaxLineBytes) {
            fail("the upstream " + req_.host + " sent a malformed chunked body");
            return false;
          }
          return true;
        }
        std::string line = in_.substr(0, eol);
        in_.erase(0, eol + 2);
        if (chunk_ == Chunk::kDataEnd) {
          if (!line.empty()) {
            fail("the upstream " + req_.host + " sent a malformed chunked body");
            return false;
          }
          chunk_ = Chunk::kSize;
        } else if (chunk_ == Chunk::kSize) {
          uint64_t size;
          if (!parse_chunk_size(line, &size)) {
            fail("the upstream " + req_.host + " sent a malformed chunked body");
            return false;
          }
          if (size == 0) {
            chunk_ = Chunk::kTrailer;
          } else {
            left_ = size;
            chunk_ = Chunk::kData;
          }
        } else if (line.empty()) {  // the end of the trailer section
          body_done_ = true;
        }
        break;
      }
    }
  }
  // Bytes past the end of the response: the connection cannot be trusted
  // for another one.
  if (body_done_ && !in_.empty()) keep_alive_ = false;
  return true;
}

void FetchExchange::finish_if_done() {
  if (state_ != State::kExchanging || !head_done_ || !body_done_) return;
  bool sent = body_sent_ && out_pos_ == out_.size();
  if (read_timer_) read_timer_->stop();
  if (send_timer_) send_timer_->stop();
  // Answered before the request's body was all sent: the connection is
  // not reusable; the rest of the body is dropped.
  if (conn_) pool_.put_back(conn_, sent && keep_alive_ && !eof_ && in_.empty());
  conn_ = nullptr;
  body_sent_ = true;
  state_ = State::kDone;
}

std::string take_queued(std::deque<std::string> &queue, size_t *bytes, size_t max) {
  std::string out;
  while (!queue.empty() && out.size() < max) {
    std::string &piece = queue.front();
    size_t n = std::min(piece.size(), max - out.size());
    if (out.empty() && n == piece.size()) {
      out = std::move(piece);
    } else {
      out.append(piece, 0, n);
    }
    if (n == piece.size()) {
      queue.pop_front();
    } else {
      piece.erase(0, n);
    }
  }
  *bytes -= out.size();
  return out;
}

std::string FetchExchange::body_take(size_t max) {
  std::string out = take_queued(body_, &body_bytes_, max);
  // The script caught up: the upstream may send more (from the loop).
  if (state_ == State::kExchanging && !body_done_ && body_bytes_ < kBodyHighWater) {
    if (!later_) later_ = std::make_unique<Timer>(pool_.host(), [this] { pump_read(); }, false);
    if (!later_->armed()) later_->start(0);
    arm_read_timer();
  }
  return out;
}

void FetchExchange::abort() {
  if (resolving_) {
    pool_.host().raw().resolve_cancel(resolving_);
    resolving_ = nullptr;
  }
  if (conn_) pool_.close(conn_);
  conn_ = nullptr;
  state_ = State::kFailed;
  // Stopped, not destroyed: this may run inside one of them.
  if (read_timer_) read_timer_->stop();
  if (send_timer_) send_timer_->stop();
  if (later_) later_->stop();
}

void FetchExchange::fail(const std::string &why) {
  if (finished()) return;
  state_ = State::kFailed;
  if (conn_) pool_.close(conn_);
  conn_ = nullptr;
  if (read_timer_) read_timer_->stop();
  if (send_timer_) send_timer_->stop();
  if (!head_told_) {
    if (events_.failed) events_.failed(why);
  } else {
    body_error_ = why;
    if (events_.body_ready) events_.body_ready();
  }
}

}  // namespace dispatch

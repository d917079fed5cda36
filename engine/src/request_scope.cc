#include "request_scope.h"

#include <cstdint>
#include <cstring>

#include "api/dispatch.h"
#include "api/fetch.h"
#include "api/websocket.h"
#include "memory_budget.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

// Freed scopes' blocks, for the next requests: as many as requests a
// worker usually has in flight at once; past that, back to malloc.
constexpr size_t kKeptBlocks = 64;

// Trivially destructible, so it outlives every RequestScope however late
// one is freed at exit (what it holds when the thread ends is the
// process's to reclaim).
struct KeptBlocks {
  void *blocks[kKeptBlocks];
  size_t count;
};

thread_local KeptBlocks t_kept;  // zero-initialised

}  // namespace

void *RequestScope::operator new(size_t size) {
  if (size == sizeof(RequestScope) && t_kept.count > 0) return t_kept.blocks[--t_kept.count];
  return ::operator new(size);
}

void RequestScope::operator delete(void *block, size_t size) {
  if (size == sizeof(RequestScope) && t_kept.count < kKeptBlocks) {
    t_kept.blocks[t_kept.count++] = block;
    return;
  }
  ::operator delete(block);
}

RequestScope::~RequestScope() { leave_isolate(); }

RequestScope::PendingTimer::~PendingTimer() {
  if (charged != nullptr) charged->refund(kBytes);
}

namespace {

constexpr uint64_t kByteOnes = 0x0101010101010101ull;
constexpr uint64_t kByteHighs = 0x8080808080808080ull;

// Whether any of the eight bytes is 0 (exact as a yes or no).
inline bool has_zero_byte(uint64_t word) { return ((word - kByteOnes) & ~word & kByteHighs) != 0; }

// The eight bytes with 'A'..'Z' in lower case, every other byte as it was.
// Each byte's low seven bits plus a constant below 0x81 cannot carry into
// the next byte.
inline uint64_t ascii_lower(uint64_t word) {
  uint64_t low7 = word & ~kByteHighs;
  uint64_t from_a = low7 + (0x80 - 'A') * kByteOnes;  // high bit: >= 'A'
  uint64_t past_z = low7 + (0x7f - 'Z') * kByteOnes;  // high bit: > 'Z'
  uint64_t upper = from_a & ~past_z & ~word & kByteHighs;
  return word | (upper >> 2);  // 0x80 -> 0x20 within each byte
}

}  // namespace

void RequestHead::reserve(size_t bytes) {
  block_.reset(bytes ? new char[bytes] : nullptr);
  next_ = block_.get();
}

std::string_view RequestHead::put(const char *data, size_t len) {
  if (len == 0 || data == nullptr) return {};
  memcpy(next_, data, len);
  std::string_view copied(next_, len);
  next_ += len;
  return copied;
}

void RequestHead::put_field(const char *name, size_t name_len, const char *value,
                            size_t value_len) {
  if (name == nullptr || name_len == 0 ||
      (value_len != 0 && (value == nullptr || memchr(value, '\0', value_len) != nullptr))) {
    return;
  }
  // One pass over the name, eight bytes at a time (no memchr calls):
  // copied in lower case after the field's NUL, and refused for a ':' or a
  // NUL, in which case next_ does not move and what was copied does not
  // count (the block has room for it: reserve() counted every field).
  char *out = next_ + 1;
  size_t i = 0;
  for (; i + 8 <= name_len; i += 8) {
    uint64_t word;
    memcpy(&word, name + i, 8);
    if (has_zero_byte(word) || has_zero_byte(word ^ (uint64_t(':') * kByteOnes))) return;
    word = ascii_lower(word);
    memcpy(out + i, &word, 8);
  }
  for (; i < name_len; i++) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == ':' || c == '\0') return;
    out[i] = char(unsigned(c - 'A') < 26u ? c + ('a' - 'A') : c);
  }
  *next_ = '\0';
  next_ = out + name_len;
  *next_++ = ':';
  if (value_len != 0) memcpy(next_, value, value_len);
  next_ += value_len;
}

void RequestHead::assign(const dispatch_request_view_t &view) {
  auto len = [](const dispatch_str_t &s) { return s.data ? s.len : 0; };
  size_t bytes = len(view.method) + len(view.url) + len(view.client) + len(view.request_line);
  for (size_t i = 0; i < view.nheaders; i++) {
    bytes += 2 + len(view.headers[i].name) + len(view.headers[i].value);
  }
  reserve(bytes);
  method_ = put(view.method.data, view.method.len);
  url_ = put(view.url.data, view.url.len);
  client_ = put(view.client.data, view.client.len);
  request_line_ = put(view.request_line.data, view.request_line.len);
  const char *headers = next_;
  for (size_t i = 0; i < view.nheaders; i++) {
    const dispatch_header_t &h = view.headers[i];
    put_field(h.name.data, h.name.len, h.value.data, h.value.len);
  }
  header_block_ = std::string_view(headers, size_t(next_ - headers));
}

void RequestHead::assign(std::string_view method, std::string_view url, const HeaderList &headers,
                         std::string_view client, std::string_view request_line) {
  size_t bytes = method.size() + url.size() + client.size() + request_line.size();
  for (const auto &h : headers) bytes += 2 + h.first.size() + h.second.size();
  reserve(bytes);
  method_ = put(method.data(), method.size());
  url_ = put(url.data(), url.size());
  client_ = put(client.data(), client.size());
  request_line_ = put(request_line.data(), request_line.size());
  const char *start = next_;
  for (const auto &h : headers) put_field(h.first.data(), h.first.size(), h.second.data(), h.second.size());
  header_block_ = std::string_view(start, size_t(next_ - start));
}

bool RequestScope::waiting_on_dispatch() const {
  for (const auto &entry : dispatches) {
    // (a target kept for the WebSocket it answered with has answered)
    if (entry.second->child != 0 && !entry.second->web_socket) return true;
  }
  return false;
}

void RequestScope::leave_isolate() {
  if (!isolate) return;
  // Off the isolate's list before anything else goes: an isolate that is
  // settling promises never sees a scope halfway torn down. Then the
  // handles into its heap and the timers, and the isolate last.
  isolate->detach(this);
  websocket_leave(*this);
  for (auto &d : dispatches) d.second->peer_end.Reset();
  result.Reset();
  handover.stream.Reset();
  response_stream.handle.Reset();
  response_stream.pending.Reset();
  response_stream.chunk.Reset();
  wait_until.clear();
  io.clear();
  timers.clear();
  isolate.reset();
}

}  // namespace dispatch

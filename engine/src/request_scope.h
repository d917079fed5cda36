// request_scope.h: one request's whole life, from dispatch_request_start to
// the end of its last ctx.waitUntil() work (workerd's IoContext is the
// model).
//
// The scope owns everything the request started: its timers, its pending
// I/O (KV), the promise of its handler, its waitUntil promises, its wall and
// linger timers and its hold on the isolate. All of it is released in one
// place, ~RequestScope, which the engine runs when the request ends: the
// host released it and no waitUntil work is left, the client went away, the
// linger time ran out, or its isolate was stopped by a limit. A callback
// that arrives later (a timer, a Redis reply) finds no scope and does
// nothing.
#pragma once

#include <v8.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "body_streams.h"
#include "dispatch_engine.h"
#include "host.h"

namespace dispatch {

class MemoryBudget;
class TenantIsolate;
struct FetchCall;
struct DispatchCall;
struct WebSocketSession;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What the client's request said (method, URL, headers) and, for log lines
// once the host has let go, who sent it (address, request line): copied
// from the host's view into one block, one heap allocation a request
// instead of one for every string past the short-string buffer and one for
// the list (a browser's request has a dozen headers). The headers are kept
// as the built-ins read them (headers.js): "\0name:value" for each, the
// name in lower case, the value as sent, so they reach the script as one
// string, not two for each header. Set once, then read-only.
class RequestHead {
 public:
  // A request from the host.
  void assign(const dispatch_request_view_t &view);
  // A request a script dispatched: its caller's client and request line.
  void assign(std::string_view method, std::string_view url, const HeaderList &headers,
              std::string_view client, std::string_view request_line);

  std::string_view method() const { return method_; }
  std::string_view url() const { return url_; }
  std::string_view client() const { return client_; }
  std::string_view request_line() const { return request_line_; }
  std::string_view header_block() const { return header_block_; }

 private:
  void reserve(size_t bytes);
  std::string_view put(const char *data, size_t len);
  // Appends "\0name:value" to the header block; a field the block's format
  // cannot hold (an empty name, a name with ':' or NUL, a value with NUL)
  // is left out: nginx lets none through, but the format must hold
  // whatever the host hands over.
  void put_field(const char *name, size_t name_len, const char *value, size_t value_len);

  std::unique_ptr<char[]> block_;
  char *next_ = nullptr;  // where put() writes
  std::string_view method_, url_, client_, request_line_, header_block_;
};

// A queue of body pieces. Unlike std::deque (libstdc++ allocates a map and
// a 512-byte node for every empty one), it allocates nothing until a piece
// comes: most requests have no body.
class PieceQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  std::string &front() { return items_[head_]; }
  template <typename... Args>
  void emplace_back(Args &&...args) { items_.emplace_back(std::forward<Args>(args)...); }
  void push_back(std::string piece) { items_.push_back(std::move(piece)); }
  void pop_front() {
    std::string().swap(items_[head_]);
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 16 && head_ * 2 >= items_.size()) {
      // A body that always has a piece waiting never empties the queue:
      // the slots already read go, so it stays as long as what waits.
      items_.erase(items_.begin(), items_.begin() + std::ptrdiff_t(head_));
      head_ = 0;
    }
  }

 private:
  std::vector<std::string> items_;
  size_t head_ = 0;
};

class RequestScope {
 public:
  enum class Phase {
    kWaiting,    // for its script, from Redis or the cache
    kRunning,    // on its isolate, until it has a response
    kResponded,  // the host may read the response
    kLingering,  // the host released it; ctx.waitUntil work goes on
  };

  RequestScope() = default;
  ~RequestScope();
  RequestScope(const RequestScope &) = delete;
  RequestScope &operator=(const RequestScope &) = delete;

  // One is made and freed per request. Its memory is kept for the next
  // request rather than handed back to malloc: a block this size (past
  // 1 KiB) makes glibc consolidate every small free chunk first, a cost
  // perf shows on every request. Event-loop thread only.
  static void *operator new(size_t size);
  static void operator delete(void *block, size_t size);

  // Declared first so it is released last: every V8 handle below goes
  // before the isolate can.
  std::shared_ptr<TenantIsolate> isolate;
  size_t isolate_index = 0;  // its place in the isolate's list of requests

  uint64_t id = 0;
  void *host_ctx = nullptr;  // null once the host released the request
  Phase phase = Phase::kWaiting;

  // What the host's view held, copied.
  std::string ns;
  std::string script;
  RequestHead head;
  // request.cf (api/request_cf.h): dispatch_request_cf's properties for a
  // request from the host; for a dispatched one, its caller's Request's cf
  // as JSON (empty: none).
  HeaderList cf;
  std::string cf_json;
  std::string body;          // all of it, when it came whole
  // The host's request id (nginx's $request_id), for log lines: asked
  // for the first time a line needs it (Engine::request_id_of). A request
  // a script dispatched to carries the id of the chain's first request.
  std::string request_id;
  bool request_id_asked = false;
  uint64_t chain_root = 0;   // that first request's scope id (0: this one)
  // On that first request: dispatches its tree has made (api/dispatch.h).
  uint32_t tree_dispatches = 0;

  uint64_t cpu_limit_ms = 50;
  uint64_t wall_limit_ms = 30000;
  uint32_t script_concurrency = 64;
  uint32_t subrequest_limit = 50;
  // The location's own limits, before a script's metadata narrowed them:
  // what a dispatch from this request starts from (api/dispatch.h).
  uint64_t location_cpu_limit_ms = 50;
  uint32_t location_subrequest_limit = 50;

  // A request one script dispatched to another (env.NS.get(name).fetch(),
  // a service binding): the call of its caller that it answers (0 for a
  // request from the host), the scripts of the chain above it ("NS/NAME",
  // the root first), the args that reach it as further env values (JSON),
  // and what its uncaught exception said (for its caller's Error).
  uint64_t dispatch_call = 0;
  std::vector<std::string> chain;
  // The first script of the chain started by this request that failed,
  // "NS/NAME outcome" ($dispatch_chain_failure); on the chain's first scope.
  std::string chain_failure;
  std::string args_json;
  std::string failure;
  // Its outbound worker ("NS" and script; empty for none): every fetch()
  // it makes is a dispatch to that script instead (api/dispatch.h), with
  // these args (JSON) as further env values. A request inherits its
  // caller's unless the binding that dispatched to it names its own.
  std::string outbound_ns;
  std::string outbound_script;
  std::string outbound_args;
  // A request of an outbound worker made for a fetch() of script "NS/NAME"
  // (empty for any other): it counts against that script's
  // dispatch_script_concurrency and outbound connections, not the outbound
  // worker's, which every tenant behind it shares (one tenant's slow
  // fetch() calls took all of them, and every tenant's fetch() failed).
  std::string fetch_for;
  // A request of env.ASSETS: answered from its script's static assets,
  // never by its worker.
  bool assets_only = false;

  // What the request started, owned here.
  struct PendingTimer {
    PendingTimer() = default;
    PendingTimer(const PendingTimer &) = delete;
    PendingTimer &operator=(const PendingTimer &) = delete;
    ~PendingTimer();
    v8::Global<v8::Function> callback;
    std::unique_ptr<Timer> timer;
    uint64_t interval_ms = 0;  // 0: fires once
    // The isolate's budget, charged kBytes while the timer is pending: its
    // host timer, this map's node and the callback's handle are memory
    // outside V8's heap (10,000 pending timers, an isolate's most, ~5 MB).
    MemoryBudget *charged = nullptr;
    static constexpr size_t kBytes = 512;
  };
  std::unordered_map<uint64_t, PendingTimer> timers;                   // by timer id
  std::unordered_map<uint64_t, v8::Global<v8::Promise::Resolver>> io;  // by operation id
  v8::Global<v8::Promise> result;                // what the handler's promise became
  std::vector<v8::Global<v8::Promise>> wait_until;
  // dispatch_wall_limit; a request in flight keeps a shutting-down worker
  // alive, so neither timer is cancelable. The wall timer, which every
  // request has, lives in the scope: no heap block of its own.
  std::optional<Timer> wall_timer;
  std::unique_ptr<Timer> linger_timer;

  // Its fetch() exchanges (api/fetch.h), by id: their connections and
  // resolver queries end with the request.
  std::unordered_map<uint64_t, std::unique_ptr<FetchCall>> fetches;
  // Its dispatches to other scripts (api/dispatch.h), by id.
  std::unordered_map<uint64_t, std::unique_ptr<DispatchCall>> dispatches;

  // Counters the limits read.
  double cpu_ms = 0;
  uint32_t subrequests = 0;
  uint32_t kv_ops = 0;
  uint32_t log_lines = 0;       // console lines, written or not
  uint32_t log_suppressed = 0;  // past dispatch_log_limit
  size_t log_bytes = 0;         // of the console lines written
  uint64_t log_bytes_dropped = 0;
  // For dispatch_status (metrics.h): counted as it goes, added to the
  // script's counters when the request ends.
  uint64_t kv_bytes = 0;
  uint64_t response_bytes = 0;
  double started_ms = 0;        // CLOCK_MONOTONIC
  double responded_ms = 0;

  // The response, once phase is kResponded or later.
  dispatch_outcome_e outcome = DISPATCH_OUTCOME_OK;
  int status = 0;
  std::string status_text;
  // The headers as the built-ins handed them over: NUL-ended names and
  // values in one block, which the host reads through header_views (no
  // hop-by-hop ones) and copies once.
  std::string response_header_block;
  std::vector<dispatch_header_t> header_views;  // into response_header_block
  std::string response_body;
  // Or a body held, not copied: a static asset's content, shared with the
  // asset cache (a 500 KiB file copied per request cost more than the rest
  // of its answer).
  std::shared_ptr<const std::string> shared_body;
  std::string_view response_view() const {
    return shared_body ? std::string_view(*shared_body) : std::string_view(response_body);
  }
  // Lets go of the response's headers and body, memory included: it failed
  // and an error goes instead, or the host has sent them.
  void drop_response() {
    std::vector<dispatch_header_t>().swap(header_views);
    std::string().swap(response_header_block);
    std::string().swap(response_body);
    shared_body.reset();
  }
  size_t held_bytes = 0;  // of response_body, charged while the host sends it
  bool held_asset = false;  // shared_body, counted in Engine::held_assets_

  // What the built-ins handed over (native.respond, response_output.h),
  // taken once the turn's microtasks have run (TenantIsolate::turn). The
  // status, headers and body go straight into the fields above: the host
  // reads them only once the request has responded, and a failure clears
  // them.
  struct Handover {
    bool ready = false;
    std::string error;               // it cannot be sent: why
    v8::Global<v8::Object> stream;   // a streamed body's [stream, reader]
    int64_t length = -1;
    uint64_t passthrough = 0;
  } handover;

  // A request body that arrives in pieces (body_streams.h): the host
  // writes them here, the script's request.body reads them, at most
  // kHighWater ahead of the script.
  struct RequestBody {
    bool more = false;     // it arrives in pieces
    bool ended = false;    // the last piece is in
    int failed = -1;       // the host's status once the rest will not come
    bool paused = false;   // the host was told to stop reading
    int64_t length = -1;   // Content-Length
    PieceQueue pieces;
    size_t queued = 0;
    uint64_t forward_call = 0;  // passed unread to a dispatched request by this call
    uint64_t read_op = 0;  // the script's read waiting for a piece (an io
    uint64_t read_request = 0;  // operation of this request, which may be another)
    // How often a waiting read gets a small piece (a client that drips its
    // body must not cost the script a turn per byte).
    ReadPacer pacer;
  } request_body;

  // A response body the script produces as a stream, read by the host
  // through the engine one piece at a time.
  struct ResponseStream {
    bool on = false;
    bool passthrough = false;  // the request body, unchanged: no JavaScript per piece
    bool ended = false;
    bool failed = false;
    int64_t length = -1;       // fixed by the script, else -1
    uint64_t sent = 0;
    v8::Global<v8::Object> handle;     // the built-ins' [stream, reader]
    v8::Global<v8::Promise> pending;   // the read in progress
    v8::Global<v8::ArrayBufferView> chunk;  // what is left of the last piece read
    size_t offset = 0;
    bool reading = false;      // the host's read is starting one: no wake
  } response_stream;

  // A WebSocket the script accepted and answered with a 101 (api/websocket.h).
  std::unique_ptr<WebSocketSession> ws;
  // Or a 101 whose WebSocket a script this one dispatched to answered
  // with, returned as it is: that request's id (it holds the socket and
  // runs its events; this one's call keeps it until this one ends), and
  // this client's Sec-WebSocket-Accept. On that request, ws_for is this one.
  uint64_t ws_via = 0;
  uint64_t ws_for = 0;
  std::string ws_accept;

  bool responded() const { return phase == Phase::kResponded || phase == Phase::kLingering; }
  // A script it dispatched to is still running for it (api/dispatch.h).
  bool waiting_on_dispatch() const;

  // Lets go of the isolate and of everything the request holds in it (its
  // handles and timers); the isolate is disposed here if this was its last
  // hold. What the host still needs (the response) stays.
  void leave_isolate();
};

}  // namespace dispatch

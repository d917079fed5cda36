// fetch.h: the native side of fetch() (engine/js/fetch.js). One FetchCall
// is one HTTP exchange of a request (a redirect hop is another); the
// request's scope owns it, so everything it holds (its connection, its
// resolver query) goes when the request ends, and no callback outlives it.
#pragma once

#include <v8.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "body_streams.h"
#include "fetch_client.h"
#include "host.h"
#include "memory_budget.h"
#include "socket_client.h"

namespace dispatch {

// One of a request's outbound connections: a fetch() exchange, or a
// cloudflare:sockets socket (api/sockets.h); both count toward the
// request's connections and its subrequests.
struct FetchCall {
  uint64_t owner = 0;  // the request's id
  std::unique_ptr<FetchExchange> exchange;
  std::unique_ptr<SocketStream> socket;  // instead of exchange
  // What a socket's buffers may hold, charged to its isolate's budget
  // while it exists (the isolate outlives its request's calls).
  MemoryBudget *budget = nullptr;
  size_t charged = 0;
  FetchCall() = default;
  FetchCall(const FetchCall &) = delete;
  FetchCall &operator=(const FetchCall &) = delete;
  ~FetchCall() {
    socket.reset();
    if (budget != nullptr) budget->refund(charged);
  }
  bool started = false;
  // The script's promises waiting on it, as io operations (request id, op).
  std::pair<uint64_t, uint64_t> head_wait{0, 0};
  std::pair<uint64_t, uint64_t> read_wait{0, 0};
  std::pair<uint64_t, uint64_t> write_wait{0, 0};
  // How often the waiting read gets a small piece of the response body (an
  // upstream that drips its body must not cost the script a turn per byte).
  ReadPacer pacer;
  bool head_ready = false;
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;   // why it failed before its head

  bool drained() const { return exchange ? exchange->drained() : socket->drained(); }
  void start() {
    if (exchange) exchange->start();
    else socket->start();
  }
};

// Connections one request may have open at once (as on Workers); more
// fetch() calls wait for one of them to finish.
constexpr size_t kMaxConnectionsPerRequest = 6;

// native.fetchStart(method, tls, host, port, path, headers, body, length)
// -> id; fetchHead(id) -> promise of a frozen [status, reason, headers];
// fetchRead(id) -> Uint8Array, null at the end, or a promise of a frozen
// [Uint8Array or null]; fetchWrite(id, bytes) -> undefined, or a promise
// to wait on; fetchEnd(id); fetchAbort(id).
void install_fetch_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

class Engine;
class RequestScope;
// Starts the request's calls that wait for a connection, up to its bound.
void start_waiting_fetches(Engine &engine, RequestScope &scope);
// The outbound call (a socket's, or else a fetch()'s) whose id is info[0],
// of a request on this isolate; else null with a TypeError thrown.
FetchCall *find_outbound_call(const v8::FunctionCallbackInfo<v8::Value> &info,
                              RequestScope **scope, bool socket);
// A read's answer: piece, or while it is undefined (nothing yet) a promise
// that *wait settles.
void piece_or_wait(const v8::FunctionCallbackInfo<v8::Value> &info, v8::Local<v8::Value> piece,
                   std::pair<uint64_t, uint64_t> *wait);
// A write's answer: nothing when it was taken at once (wrote), else a
// promise that *wait settles once there is room.
void write_or_wait(const v8::FunctionCallbackInfo<v8::Value> &info, bool wrote,
                   std::pair<uint64_t, uint64_t> *wait);
// Whether the request may make one more subrequest (fetch(), connect());
// false with an Error thrown when dispatch_subrequest_limit is reached.
bool subrequest_allowed(v8::Isolate *isolate, const RequestScope &scope);

}  // namespace dispatch

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

namespace dispatch {

struct FetchCall {
  uint64_t owner = 0;  // the request's id
  std::unique_ptr<FetchExchange> exchange;
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

}  // namespace dispatch

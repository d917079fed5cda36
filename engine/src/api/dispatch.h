// dispatch.h: the native side of dynamic dispatch (engine/js/dispatch_namespace.js):
// env.NS.get(name, args, options).fetch(request) for a dispatch_namespace
// binding, and env.SVC.fetch(request) for a service binding.
//
// One DispatchCall is one call of a script (the caller) to another (the
// target). The caller's scope owns it; the target runs as a request of its
// own (a RequestScope whose dispatch_call names the call), in its own
// isolate, started from the loop and never inside the caller's native call
// (the CPU watchdog, termination and microtask checkpoints assume one
// isolate on the stack). The call is the target's "host": it feeds the
// target the caller's request body through request_body_write and pulls
// the target's response body with response_body_read, from the loop, into
// a queue of pieces that the caller's stream reads; each piece is copied
// into an ArrayBuffer of the caller's own budget, so no backing store of one
// isolate ever reaches another.
#pragma once

#include <v8.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "body_streams.h"

namespace dispatch {

class Engine;
class RequestScope;

// A chain of dispatches (router -> tenant -> service -> ...) is at most this
// deep; a script already in the chain is never dispatched to again (a loop).
constexpr size_t kMaxDispatchDepth = 16;
// Dispatches one request's whole tree may make (its own and those of every
// script they reach, through dispatch_namespace and service bindings;
// env.ASSETS and outbound workers' calls not counted): each script of a tree
// has limits of its own, so without a bound on the tree a request of 50
// dispatches each making 50 more was 2,500 scripts' work (~6 s of a worker).
constexpr uint32_t kMaxTreeDispatches = 64;
// Largest `args` (as JSON) one dispatch may hand its target.
constexpr size_t kMaxDispatchArgs = 1u << 20;
// Longest URL a dispatch hands its target (Cloudflare's is 16 KB): the
// target's static assets are routed by it in C++, outside any limit, and
// 100 run_worker_first rules over a 1 MB URL cost ~85 ms a dispatch.
constexpr size_t kMaxDispatchUrl = 64u << 10;
// Most values one JSON of a dispatch (args, outbound args, request.cf) may
// hold: the target parses it (and freezes a cf) in its own request, on its
// own CPU limit, and 1 MiB of "[[],[],...]" or "[0,0,...]" cost it past
// 50 ms.
constexpr size_t kMaxDispatchJsonValues = 10000;

struct DispatchCall {
  uint64_t owner = 0;   // the caller's request id
  uint64_t child = 0;   // the target's request id, once it is made
  bool loaded = false;  // the target's script was asked for
  std::string ns;
  std::string script;
  // The caller's waiting promises, as io operations (request id, op).
  std::pair<uint64_t, uint64_t> head_wait{0, 0};
  std::pair<uint64_t, uint64_t> read_wait{0, 0};
  std::pair<uint64_t, uint64_t> write_wait{0, 0};
  // The target's answer.
  bool head_ready = false;
  int status = 0;
  std::string status_text;
  std::vector<std::pair<std::string, std::string>> headers;
  bool has_body = false;
  bool streamed = false;     // pulled from the target as it comes
  size_t pulled = 0;         // a whole body's bytes pulled from the target so far
  std::string error;         // why it failed (the caller's Error message)
  // Its body, pulled from the target ahead of the caller's reads.
  std::deque<std::string> pieces;
  size_t queued = 0;
  bool body_ended = false;
  std::string body_error;
  // How often the caller's waiting read is handed a small piece: each is a
  // turn charged to the caller, and a target must not spend its caller's
  // CPU limit by answering a byte at a time.
  ReadPacer pacer;
  // A 101 with a WebSocket (api/websocket.h): the target is kept until the
  // caller ends, for the caller's own 101 to carry it to its client.
  bool web_socket = false;
  // Its caller's end of that WebSocket, once the caller accept()ed it
  // (api/websocket.h: bridged); released with the caller's isolate.
  v8::Global<v8::Object> peer_end;
  bool aborted = false;      // the caller let go of it
  bool forward = false;      // the caller's own request body, passed on unread
};

// native.dispatchCheck(binding, name), dispatchStart(binding, name, args,
// cpuMs, subRequests, method, url, headers, body, length, outbound) -> id,
// where body is bytes, true, or the id of the request whose unread body it
// is (the caller's own is passed on natively); a negative id: the built-ins
// write the body with dispatchWrite; outbound is the JSON of the call's
// options.outbound, of which the values the binding's outbound params name
// reach its outbound worker as env; binding -1 is the current request's
// outbound worker (fetch() of a request that has one);
// dispatchHead(id) -> promise of a frozen [status, statusText, headers,
// hasBody, webSocket]; dispatchRead(id) -> Uint8Array, null at the end, or a promise
// of a frozen [Uint8Array or null]; dispatchWrite(id, bytes) -> undefined,
// or a promise to wait on; dispatchEnd(id); dispatchAbort(id);
// dispatchOutbound() -> whether the current request's fetch() calls go to
// an outbound worker.
void install_dispatch_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

// From the loop: the call moves on (its target started, answered, has
// more body, wants more of the caller's body, or ended).
void dispatch_pump(Engine &engine, uint64_t call_id);

// The message of the caller's Error when the target's request ended with
// this outcome (e.g. "Worker \"x\" exceeded CPU time limit.").
std::string dispatch_failure_message(const RequestScope &target);

}  // namespace dispatch

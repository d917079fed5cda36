// websocket.h: a WebSocket a script accepted (WebSocketPair, a 101
// Response), carried over the client's own connection.
//
// After the 101 the host hands the client's bytes to the engine
// (dispatch_websocket_input) and sends what dispatch_response_read gives.
// The engine parses RFC 6455 frames as hostile input (masked client frames,
// bounded control frames, fragments, UTF-8 of text), answers pings, runs
// the close handshake and turns each message into an event of the server
// end, one turn of JavaScript under the request's CPU limit per event (as
// Workers limits CPU per event). Bounds: a message is at most 1 MiB (1009
// past it); bytes queued for a client that does not read are charged to
// the script's memory budget and bounded (send() throws past it); the host
// reads from the client only while the script keeps up.
#pragma once

#include <v8.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "dispatch_engine.h"
#include "host.h"

namespace dispatch {

class Engine;
class RequestScope;

constexpr size_t kWsMaxMessage = size_t(1) << 20;       // per message, either way
constexpr size_t kWsMaxQueued = size_t(4) << 20;        // unsent, per socket; reads
                                                        // pause at half of it
constexpr int kWsEventsPerSlice = 16;                   // then the loop runs others
constexpr uint64_t kWsCloseWaitMs = 5000;               // for the client's Close
constexpr uint64_t kWsHandOverWaitUntilMs = 30000;      // a caller's waitUntil after its 101

struct WebSocketSession {
  v8::Global<v8::Object> server;  // the end the script holds
  bool accepted = false;
  uint64_t event_cpu_ms = 50;     // the CPU each event gets
  std::string accept_key;         // Sec-WebSocket-Accept

  // The frame being read.
  uint8_t hdr[14] = {};
  size_t hdr_len = 0;
  bool in_payload = false;
  uint64_t remaining = 0;
  uint8_t mask[4] = {};
  size_t mask_pos = 0;
  int op = 0;
  bool fin = false;
  std::string control;            // a control frame's payload (<= 125)
  std::string message;            // the data message being assembled
  size_t message_held = 0;        // ... charged to the budget as it grows
  int message_op = 0;             // 1 text, 2 binary, 0 none
  std::string pending;            // input not yet parsed (a slice ended)

  std::string out;                // bytes for the client
  size_t out_off = 0;
  size_t held = 0;                // charged to the budget for out

  bool close_received = false;    // a Close frame came (or the input ended)
  bool close_sent = false;        // ours is queued
  bool eof = false;               // the client is gone
  bool stopped = false;           // no more JavaScript (a limit, a shutdown)
  bool delivering = false;
  std::unique_ptr<Timer> resume;  // the next slice of pending input
  std::unique_ptr<Timer> closing; // the client's Close is overdue

  // Bridged: no client, but the script that dispatched to this request
  // accept()ed the webSocket of its 101 (request `peer`, its dispatch call
  // `peer_call`, which holds that end). Messages and Closes go both ways
  // as events, from the loop, never inside the other isolate's turn; what
  // waits either way is charged to this script's budget and bounded as a
  // client's queue is.
  struct PeerItem {
    int kind = 0;                 // as wsDeliver's (text, binary, close)
    std::string data;
    int code = 0;
    std::string reason;
    bool clean = true;            // a Close's wasClean
    size_t charged = 0;
  };
  uint64_t peer = 0;
  uint64_t peer_call = 0;
  bool peer_closed = false;       // the caller's end's Close was queued
  bool peer_release = false;      // the caller ended: released once delivered
  std::deque<PeerItem> to_peer;   // for the caller's end
  std::deque<PeerItem> from_peer; // for the server end
  size_t peer_held = 0;
  std::unique_ptr<Timer> peer_timer;
};

// native.wsRequest, wsAttach, wsAdopt, wsBridge, wsPeerSend, wsPeerClose, wsAccept,
// wsSend, wsClose.
void install_websocket_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

// A WebSocket through a dispatch namespace or a service binding: the
// target's script answers its request with a 101 and holds the socket (its
// events run in its isolate, under its limits). The caller gets a Response
// whose webSocket stands for it; returning that (as it is, or in a new
// Response) with a 101 makes the caller's request carry the target's
// socket (native.wsAdopt: ws_via, ws_for): the host's calls on the
// caller's request reach the target's session, its wake-ups the caller's
// host, and the caller's isolate is let go of (websocket_handed_over).
// Or the caller's script accept()s that webSocket (native.wsBridge): the
// target's session is bridged to it (WebSocketSession::peer), messages
// and Closes go both ways as events from the loop, until the caller ends
// (websocket_peer_gone).
// Whether the request answers with a WebSocket, its own or one it carries.
bool websocket_answer(const RequestScope &scope);

// For a 101 the script handed over with a WebSocket: whether the client's
// request asked for one (Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Version: 13, a Sec-WebSocket-Key), with the accept header
// added to the response; false with the reason. A dispatched request only
// needs Upgrade: websocket (as on Workers), and gets no accept header: the
// request of the client's connection computes its own.
bool websocket_handshake(RequestScope &scope, std::string *why);

// The caller's 101 with a target's WebSocket is out: its isolate is let go
// of (from the loop) once no ctx.waitUntil() work of it is left, at most
// kWsHandOverWaitUntilMs later, so that a long-lived socket pins nothing
// of it.
void websocket_handed_over(Engine &engine, RequestScope &scope);

// The host's side (c_api.cc), on the request of the client's connection.
int websocket_input(Engine &engine, RequestScope &scope, const char *data, size_t len, bool eof);
bool websocket_wanted(Engine &engine, RequestScope &scope);
long websocket_read(Engine &engine, RequestScope &scope, char *buf, size_t size);

// No more JavaScript for it: the isolate was stopped (code 1011) or the
// worker shuts down (1001). The client gets a Close frame, then the end.
void websocket_stop(Engine &engine, RequestScope &scope, uint16_t code, const char *reason);

// Lets go of its handles into the isolate and of its budget charge.
void websocket_leave(RequestScope &scope);

// Request `caller`, whose script accept()ed scope's socket (bridged), ends:
// what it sent is delivered and the server end gets close 1006 if it had
// no Close, then scope is released, from the loop. False when scope is
// not bridged to it (the caller releases it at once).
bool websocket_peer_gone(Engine &engine, RequestScope &scope, uint64_t caller);

// A timer of a request whose WebSocket is open fires as an event of its
// own: it gets the CPU of one event, as Workers bills each invocation (a
// heartbeat of a silent client ran out of the last message's budget).
// Only while a client is connected to it (directly or through a router)
// and has not closed it.
void websocket_event_budget(RequestScope &scope);

}  // namespace dispatch

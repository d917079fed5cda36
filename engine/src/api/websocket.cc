#include "api/websocket.h"

#include <openssl/sha.h>
#include <strings.h>

#include <algorithm>
#include <cstring>

#include "api/dispatch.h"
#include "asset_upload.h"
#include "engine.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

enum : int { kOpCont = 0, kOpText = 1, kOpBinary = 2, kOpClose = 8, kOpPing = 9, kOpPong = 10 };
// What the built-ins' wsDeliver is told.
enum : int { kEvText = 0, kEvBinary = 1, kEvClose = 2, kEvError = 3 };

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

// A close code a peer may send (RFC 6455 7.4): 1000-1014 but the reserved
// 1004-1006, or 3000-4999.
bool valid_close_code(uint32_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

// The header "\0name:value" of the request, or null.
bool request_header(const RequestScope &scope, const char *name, std::string_view *value) {
  std::string_view block = scope.head.header_block();
  size_t name_len = strlen(name);
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find('\0', pos + 1);
    if (end == std::string_view::npos) end = block.size();
    std::string_view field = block.substr(pos + 1, end - pos - 1);
    if (field.size() > name_len && field[name_len] == ':' && field.compare(0, name_len, name) == 0) {
      *value = field.substr(name_len + 1);
      return true;
    }
    pos = end;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated list holds token (case-insensitive).
bool list_has(std::string_view list, const char *token) {
  size_t len = strlen(token);
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (item.size() == len && strncasecmp(item.data(), token, len) == 0) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

WebSocketSession *session_of(TenantIsolate *self, v8::Local<v8::Value> id_value,
                             RequestScope **out = nullptr) {
  if (!id_value->IsNumber()) return nullptr;
  double id = id_value.As<v8::Number>()->Value();
  if (!(id >= 1 && id <= 9007199254740991.0)) return nullptr;
  RequestScope *scope = self->engine().find(uint64_t(id));
  if (scope == nullptr || scope->isolate.get() != self || !scope->ws) return nullptr;
  if (out) *out = scope;
  return scope->ws.get();
}

// The request that holds the socket a request answers with: itself, or
// the one its ws_via leads to (through a chain of dispatches, each of which
// holds the next); null once that one is gone.
RequestScope *holder_of(Engine &engine, RequestScope &scope) {
  RequestScope *s = &scope;
  for (size_t hops = 0; s != nullptr && !s->ws && s->ws_via != 0; hops++) {
    if (hops > kMaxDispatchDepth) return nullptr;
    s = engine.find(s->ws_via);
  }
  return s != nullptr && s->ws ? s : nullptr;
}

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

// Queues one unmasked frame for the client, charged to the script's budget
// while it waits; false when that would pass the bounds.
bool queue_frame(RequestScope &scope, int op, const char *data, size_t len, bool force) {
  WebSocketSession &ws = *scope.ws;
  size_t frame = len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
  size_t waiting = ws.out.size() - ws.out_off;
  if (!force) {
    if (waiting + frame > kWsMaxQueued) return false;
    if (!scope.isolate || !scope.isolate->budget().hold(frame)) return false;
    ws.held += frame;
  }
  if (ws.out_off > 0 && ws.out_off == ws.out.size()) {
    ws.out.clear();
    ws.out_off = 0;
  }
  char head[10];
  size_t n = 0;
  head[n++] = char(0x80 | op);
  if (len < 126) {
    head[n++] = char(len);
  } else if (len < 65536) {
    head[n++] = char(126);
    head[n++] = char(len >> 8);
    head[n++] = char(len);
  } else {
    head[n++] = char(127);
    for (int i = 7; i >= 0; i--) head[n++] = char(uint64_t(len) >> (8 * i));
  }
  ws.out.append(head, n);
  ws.out.append(data, len);
  return true;
}

void deliver(Engine &engine, RequestScope &scope, int kind, const std::string &data, int code,
             const std::string &reason, bool clean);

// Ours went first: a client that does not answer it within
// kWsCloseWaitMs is not waited for (the script gets close 1006).
void await_close(Engine &engine, RequestScope &scope) {
  WebSocketSession &ws = *scope.ws;
  if (ws.close_received || ws.closing) return;
  uint64_t id = scope.id;
  ws.closing = std::make_unique<Timer>(engine.host(), [&engine, id] {
    RequestScope *s = engine.find(id);
    if (s == nullptr || !s->ws || s->ws->close_received) return;
    s->ws->close_received = true;
    s->ws->pending.clear();
    engine.log(*s, DISPATCH_LOG_INFO, "WebSocket closed: the client did not answer the Close");
    deliver(engine, *s, kEvClose, "", 1006, "the client did not answer the Close frame", false);
    engine.wake(*s);
  }, false);
  ws.closing->start(kWsCloseWaitMs);
}

void queue_close(RequestScope &scope, int code, std::string_view reason) {
  WebSocketSession &ws = *scope.ws;
  if (ws.close_sent) return;
  ws.close_sent = true;
  char payload[125];
  size_t n = 0;
  if (code >= 0) {
    payload[n++] = char(code >> 8);
    payload[n++] = char(code);
    size_t r = std::min(reason.size(), sizeof(payload) - 2);
    memcpy(payload + n, reason.data(), r);
    n += r;
  }
  queue_frame(scope, kOpClose, payload, n, true);
}

// One event of a WebSocket end `end` of scope's isolate: a turn of
// JavaScript (wsDeliver) under what scope's CPU limit allows now.
void run_event(RequestScope &scope, const v8::Global<v8::Object> &end, int kind,
               const std::string &data, int code, const std::string &reason, bool clean) {
  TenantIsolate *isolate = scope.isolate.get();
  if (isolate == nullptr || isolate->dead() || end.IsEmpty()) return;
  isolate->run_turn(scope, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch) {
    v8::Isolate *v8i = context->GetIsolate();
    v8::Local<v8::Value> payload;
    if (kind == kEvBinary) {
      v8::Local<v8::ArrayBuffer> buffer;
      if (!new_array_buffer(v8i, data.data(), data.size()).ToLocal(&buffer)) {
        if (!try_catch.HasTerminated()) {
          isolate->log_uncaught(&scope, DISPATCH_LOG_ERR, "a WebSocket message was dropped: " +
                                describe_exception(v8i, try_catch.Exception(), try_catch.Message()));
        }
        return;
      }
      payload = buffer;
    } else if (kind == kEvClose) {
      payload = v8::Boolean::New(v8i, clean);
    } else {
      payload = v8_utf8_str(v8i, data);
    }
    v8::Local<v8::Value> args[] = {end.Get(v8i), v8::Integer::New(v8i, kind), payload,
                                   v8::Integer::New(v8i, code), v8_utf8_str(v8i, reason)};
    if (isolate->ws_deliver()->Call(context, v8::Undefined(v8i), 5, args).IsEmpty() &&
        !try_catch.HasTerminated() && try_catch.HasCaught()) {
      isolate->log_uncaught(&scope, DISPATCH_LOG_ERR, "uncaught exception in a WebSocket event: " +
                            describe_exception(v8i, try_catch.Exception(), try_catch.Message()));
    }
  });
}

// One event of the server end, a turn of JavaScript with the CPU of one
// event.
void deliver(Engine &engine, RequestScope &scope, int kind, const std::string &data, int code,
             const std::string &reason, bool clean) {
  WebSocketSession &ws = *scope.ws;
  TenantIsolate *isolate = scope.isolate.get();
  if (ws.stopped || isolate == nullptr || isolate->dead() || ws.server.IsEmpty()) return;
  scope.cpu_limit_ms = uint64_t(scope.cpu_ms) + ws.event_cpu_ms;
  ws.delivering = true;
  run_event(scope, ws.server, kind, data, code, reason, clean);
  ws.delivering = false;
  (void) engine;
}

// A message in progress is held against the script's budget while it
// waits for its last fragment: many clients each sending most of a 1 MiB
// message must not grow the worker outside every bound.
void release_message(RequestScope &scope) {
  WebSocketSession &ws = *scope.ws;
  if (ws.message_held && scope.isolate) scope.isolate->budget().unhold(ws.message_held);
  ws.message_held = 0;
}

// ---- bridged: the caller's script holds the other end ----------------------

using PeerItem = WebSocketSession::PeerItem;

void peer_pump(Engine &engine, uint64_t id);

void peer_schedule(Engine &engine, RequestScope &scope) {
  WebSocketSession &ws = *scope.ws;
  if (!ws.peer_timer) {
    uint64_t id = scope.id;
    ws.peer_timer = std::make_unique<Timer>(engine.host(), [&engine, id] { peer_pump(engine, id); },
                                            false);
  }
  if (!ws.peer_timer->armed()) ws.peer_timer->start(0);
}

// Queues an item one way; a message is charged to the target's budget and
// bounded with what waits both ways (a Close always goes).
bool peer_queue(RequestScope &scope, std::deque<PeerItem> &queue, PeerItem item) {
  WebSocketSession &ws = *scope.ws;
  if (item.kind != kEvClose) {
    size_t bytes = item.data.size() + 64;
    if (ws.peer_held + bytes > kWsMaxQueued || !scope.isolate ||
        !scope.isolate->budget().hold(bytes)) {
      return false;
    }
    ws.peer_held += bytes;
    item.charged = bytes;
  }
  queue.push_back(std::move(item));
  return true;
}

PeerItem peer_take(RequestScope &scope, std::deque<PeerItem> &queue) {
  WebSocketSession &ws = *scope.ws;
  PeerItem item = std::move(queue.front());
  queue.pop_front();
  if (item.charged) {
    ws.peer_held -= item.charged;
    if (scope.isolate) scope.isolate->budget().unhold(item.charged);
  }
  return item;
}

// The target's Close for the caller's end (its own, or the runtime's
// answer to the caller's).
void peer_close(Engine &engine, RequestScope &scope, int code, const std::string &reason) {
  WebSocketSession &ws = *scope.ws;
  if (ws.close_sent) return;
  ws.close_sent = true;
  PeerItem item;
  item.kind = kEvClose;
  item.code = code < 0 ? 1005 : code;
  item.reason = reason;
  peer_queue(scope, ws.to_peer, std::move(item));
  peer_schedule(engine, scope);
}

// What waits both ways, a slice of events at a time: the caller's
// messages are the server end's events (the target's CPU per event), the
// target's the caller's end's (the caller's CPU: per event while a client
// is on its own socket).
void peer_pump(Engine &engine, uint64_t id) {
  int events = 0;
  for (;;) {
    RequestScope *target = engine.find(id);
    if (target == nullptr || !target->ws) return;
    WebSocketSession &ws = *target->ws;
    bool closed = ws.close_received || ws.stopped;
    while (closed && !ws.from_peer.empty()) peer_take(*target, ws.from_peer);
    bool to_server = !ws.from_peer.empty() && ws.accepted;
    if (!to_server && ws.to_peer.empty()) {
      if (ws.peer_release) {
        // Its caller ended and all it sent was told: the caller's call
        // let go of it (Engine::end); nothing of the session is used after.
        ws.peer_release = false;
        engine.release(target);
      }
      return;
    }
    if (events >= kWsEventsPerSlice) {
      peer_schedule(engine, *target);
      return;
    }
    events++;
    if (to_server) {
      PeerItem item = peer_take(*target, ws.from_peer);
      if (item.kind == kEvClose) {
        ws.close_received = true;
        deliver(engine, *target, kEvClose, "", item.code, item.reason, item.clean);
        // Answered by the runtime when the script did not.
        if ((target = engine.find(id)) != nullptr && target->ws && !target->ws->close_sent) {
          peer_close(engine, *target, item.code, "");
        }
      } else {
        deliver(engine, *target, item.kind, item.data, 0, "", false);
      }
      continue;
    }
    PeerItem item = peer_take(*target, ws.to_peer);
    RequestScope *caller = nullptr;
    DispatchCall *call = ws.peer ? engine.find_dispatch(ws.peer_call, &caller) : nullptr;
    if (call == nullptr || caller->id != ws.peer || call->peer_end.IsEmpty() || !caller->isolate ||
        caller->isolate->dead()) {
      continue;  // the caller's end is gone: dropped
    }
    websocket_event_budget(*caller);
    run_event(*caller, call->peer_end, item.kind, item.data, item.code, item.reason, item.clean);
    // A Close the caller's script did not answer is answered for it.
    target = engine.find(id);
    if (item.kind == kEvClose && target != nullptr && target->ws && !target->ws->peer_closed) {
      target->ws->peer_closed = true;
      PeerItem answer;
      answer.kind = kEvClose;
      answer.code = item.code;
      peer_queue(*target, target->ws->from_peer, std::move(answer));
    }
  }
}

// The caller's script, on its end: the call it holds and the target's
// session bridged to it; else a TypeError thrown.
WebSocketSession *peer_of(const v8::FunctionCallbackInfo<v8::Value> &info, RequestScope **out) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  RequestScope *caller = nullptr;
  DispatchCall *call = nullptr;
  if (info.Length() > 0 && info[0]->IsNumber() && info[0].As<v8::Number>()->Value() >= 1) {
    call = engine.find_dispatch(uint64_t(info[0].As<v8::Number>()->Value()), &caller);
  }
  RequestScope *target = call && call->child && caller->isolate.get() == self
                             ? engine.find(call->child) : nullptr;
  RequestScope *holder = target ? holder_of(engine, *target) : nullptr;
  if (holder == nullptr || holder->ws->peer != caller->id) {
    throw_type_error(isolate, "This WebSocket belongs to a request that has ended.");
    return nullptr;
  }
  *out = holder;
  return holder->ws.get();
}

// A protocol error of the client's: our Close with code, the script's
// error and close events, and no more input.
void fail(Engine &engine, RequestScope &scope, int code, const char *why) {
  WebSocketSession &ws = *scope.ws;
  engine.log(scope, DISPATCH_LOG_INFO, std::string("WebSocket closed with ") +
             std::to_string(code) + ": " + why);
  ws.close_received = true;
  ws.pending.clear();
  std::string().swap(ws.message);
  release_message(scope);
  queue_close(scope, code, why);
  deliver(engine, scope, kEvError, why, 0, "", false);
  deliver(engine, scope, kEvClose, "", code, why, false);
  engine.wake(scope);
}

// A whole frame is in: what it means. False once no more input is read.
bool frame_done(Engine &engine, RequestScope &scope, int *events) {
  WebSocketSession &ws = *scope.ws;
  ws.in_payload = false;
  ws.hdr_len = 0;
  switch (ws.op) {
    case kOpPing:
      // A pong waits for the client as the script's messages do: counted
      // against its budget and the socket's bound. One that does not fit
      // (a client that pings and never reads what waits) is dropped.
      if (!ws.close_sent) queue_frame(scope, kOpPong, ws.control.data(), ws.control.size(), false);
      engine.wake(scope);
      return true;
    case kOpPong:
      return true;
    case kOpClose: {
      const std::string &c = ws.control;
      if (c.size() == 1) {
        fail(engine, scope, 1002, "a Close frame of one byte");
        return false;
      }
      int code = 1005;
      std::string reason;
      if (c.size() >= 2) {
        code = (uint8_t(c[0]) << 8) | uint8_t(c[1]);
        if (!valid_close_code(uint32_t(code))) {
          fail(engine, scope, 1002, "a Close frame with an invalid code");
          return false;
        }
        reason.assign(c, 2, std::string::npos);
        if (!valid_utf8(reinterpret_cast<const unsigned char *>(reason.data()), reason.size())) {
          fail(engine, scope, 1007, "a Close frame whose reason is not UTF-8");
          return false;
        }
      }
      ws.close_received = true;
      ws.pending.clear();
      deliver(engine, scope, kEvClose, "", code, reason, true);
      // The script did not answer it in its close event: the runtime does,
      // with the client's code, so that the handshake ends.
      if (scope.ws && !ws.close_sent) queue_close(scope, code == 1005 ? -1 : code, "");
      engine.wake(scope);
      (*events)++;
      return false;
    }
    default:
      break;
  }
  if (!ws.fin) return true;
  int op = ws.message_op;
  ws.message_op = 0;
  std::string message;
  message.swap(ws.message);
  release_message(scope);
  if (op == kOpText &&
      !valid_utf8(reinterpret_cast<const unsigned char *>(message.data()), message.size())) {
    fail(engine, scope, 1007, "a text message that is not UTF-8");
    return false;
  }
  deliver(engine, scope, op == kOpText ? kEvText : kEvBinary, message, 0, "", false);
  (*events)++;
  return true;
}

// A frame's header is in: whether it may be, and where its payload goes.
bool header_done(Engine &engine, RequestScope &scope) {
  WebSocketSession &ws = *scope.ws;
  const uint8_t *h = ws.hdr;
  ws.fin = (h[0] & 0x80) != 0;
  ws.op = h[0] & 0x0f;
  size_t at = 2;
  uint64_t len = h[1] & 0x7f;
  if (len == 126) {
    len = (uint64_t(h[2]) << 8) | h[3];
    at = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
    at = 10;
  }
  memcpy(ws.mask, h + at, 4);
  ws.mask_pos = 0;
  ws.remaining = len;
  if ((h[0] & 0x70) != 0) {
    fail(engine, scope, 1002, "a frame with reserved bits set (no extension was agreed)");
    return false;
  }
  if (ws.op >= 8) {
    if (ws.op != kOpClose && ws.op != kOpPing && ws.op != kOpPong) {
      fail(engine, scope, 1002, "a frame with an unknown opcode");
      return false;
    }
    if (!ws.fin || len > 125) {
      fail(engine, scope, 1002, "a control frame that is fragmented or longer than 125 bytes");
      return false;
    }
    ws.control.clear();
  } else {
    if (ws.op != kOpCont && ws.op != kOpText && ws.op != kOpBinary) {
      fail(engine, scope, 1002, "a frame with an unknown opcode");
      return false;
    }
    if (ws.op == kOpCont ? ws.message_op == 0 : ws.message_op != 0) {
      fail(engine, scope, 1002, "a fragment out of sequence");
      return false;
    }
    if (len > kWsMaxMessage || ws.message.size() + len > kWsMaxMessage) {
      fail(engine, scope, 1009, "a message larger than 1 MiB");
      return false;
    }
    if (ws.op != kOpCont) ws.message_op = ws.op;
  }
  return true;
}

// Parses what the client sent, delivering events; stops after a slice of
// them with the rest kept in ws.pending, and at a Close. False once no
// more input is read.
void parse(Engine &engine, RequestScope &scope, const char *p, const char *end) {
  int events = 0;
  while (p < end && scope.ws && !scope.ws->close_received && !scope.ws->stopped) {
    WebSocketSession &ws = *scope.ws;
    if (events >= kWsEventsPerSlice) {
      ws.pending.assign(p, size_t(end - p));
      if (!ws.resume) {
        uint64_t id = scope.id;
        ws.resume = std::make_unique<Timer>(engine.host(), [&engine, id] {
          RequestScope *s = engine.find(id);
          if (s == nullptr || !s->ws) return;
          std::string rest;
          rest.swap(s->ws->pending);
          parse(engine, *s, rest.data(), rest.data() + rest.size());
          if (s->ws && s->ws->pending.empty()) engine.wake(*s);
        }, false);
      }
      ws.resume->start(0);
      return;
    }
    if (!ws.in_payload) {
      // 2 bytes, then what they say is left of the header (the mask too).
      size_t need = 2;
      if (ws.hdr_len >= 2) {
        if ((ws.hdr[1] & 0x80) == 0) {
          fail(engine, scope, 1002, "an unmasked frame from the client");
          return;
        }
        uint8_t l = ws.hdr[1] & 0x7f;
        need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + 4;
      }
      while (ws.hdr_len < need && p < end) ws.hdr[ws.hdr_len++] = uint8_t(*p++);
      if (ws.hdr_len < need) return;
      if (need == 2) continue;  // now the rest of the header
      if (!header_done(engine, scope)) return;
      ws.in_payload = true;
    }
    size_t k = size_t(std::min<uint64_t>(ws.remaining, uint64_t(end - p)));
    if (ws.op < 8 && k) {
      if (!scope.isolate || !scope.isolate->budget().hold(k)) {
        fail(engine, scope, 1009, "no memory is left for the message in the script's budget");
        return;
      }
      ws.message_held += k;
    }
    std::string &to = ws.op >= 8 ? ws.control : ws.message;
    size_t at = to.size();
    to.append(p, k);
    for (size_t i = 0; i < k; i++) to[at + i] = char(to[at + i] ^ ws.mask[(ws.mask_pos + i) & 3]);
    ws.mask_pos = (ws.mask_pos + k) & 3;
    ws.remaining -= k;
    p += k;
    if (ws.remaining == 0 && !frame_done(engine, scope, &events)) return;
  }
}

// Whether the host may read more of the client's input for the socket.
bool wanted(const RequestScope &scope) {
  const WebSocketSession *ws = scope.ws.get();
  return ws != nullptr && ws->accepted && !ws->close_received && !ws->stopped && !ws->eof &&
         ws->pending.empty() && ws->out.size() - ws->out_off < kWsMaxQueued / 2;
}

// native.wsRequest(): the request whose code runs now (a WebSocketPair
// belongs to it); a TypeError outside any request.
void on_ws_request(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = TenantIsolate::from(isolate)->current_request();
  if (scope == nullptr) {
    throw_type_error(isolate, "WebSocketPair can only be used while handling a request");
    return;
  }
  info.GetReturnValue().Set(v8::Number::New(isolate, double(scope->id)));
}

// native.wsAttach(id, server): request id answers with a 101 whose
// WebSocket's other end is server. False when it cannot (answered, gone).
void on_ws_attach(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  info.GetReturnValue().Set(false);
  if (info.Length() != 2 || !info[0]->IsNumber() || !info[1]->IsObject()) return;
  double id = info[0].As<v8::Number>()->Value();
  RequestScope *scope =
      id >= 1 && id <= 9007199254740991.0 ? self->engine().find(uint64_t(id)) : nullptr;
  // (A request another script dispatched to answers that script, which
  // may return the socket to its client: on_ws_adopt.)
  if (scope == nullptr || scope->isolate.get() != self || self->dead() || scope->responded() ||
      websocket_answer(*scope) || (scope->host_ctx == nullptr && scope->dispatch_call == 0)) {
    return;
  }
  scope->ws = std::make_unique<WebSocketSession>();
  scope->ws->server.Reset(isolate, info[1].As<v8::Object>());
  scope->ws->event_cpu_ms = scope->cpu_limit_ms;
  info.GetReturnValue().Set(true);
}

// The socket the target of dispatch call `call_value` answered with, for
// `scope` (the call's owner) to return or to accept: its holder, with
// *call and *target set; null when there is none for it (not its call,
// returned or accepted already); null with a TypeError thrown when the
// target was stopped (a limit, a new version, retired) before that.
RequestScope *dispatched_socket(v8::Isolate *isolate, RequestScope *scope,
                                v8::Local<v8::Value> call_value, const char *done,
                                DispatchCall **call_out, RequestScope **target_out) {
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  if (scope == nullptr || self->dead() || !call_value->IsNumber()) return nullptr;
  double call_id = call_value.As<v8::Number>()->Value();
  if (!(call_id >= 1 && call_id <= 9007199254740991.0)) return nullptr;
  RequestScope *owner = nullptr;
  DispatchCall *call = engine.find_dispatch(uint64_t(call_id), &owner);
  if (call == nullptr || owner != scope || !call->web_socket || !call->peer_end.IsEmpty()) {
    return nullptr;
  }
  RequestScope *target = call->child ? engine.find(call->child) : nullptr;
  RequestScope *holder =
      target != nullptr && target->ws_for == 0 ? holder_of(engine, *target) : nullptr;
  if (holder == nullptr || holder->ws->peer != 0) return nullptr;
  if (holder->ws->stopped || !holder->isolate || holder->isolate->dead()) {
    throw_type_error(isolate, "The WebSocket's Worker (\"" + call->script +
                              "\") stopped before the WebSocket was " + done);
    return nullptr;
  }
  *call_out = call;
  *target_out = target;
  return holder;
}

// native.wsAdopt(id, call): request id answers with a 101 whose WebSocket
// is the one the target of its dispatch `call` answered with. False when
// it cannot (not this request's call, answered, gone); a TypeError when
// the target's socket was stopped (its isolate hit a limit, was replaced
// or retired) before it was returned.
void on_ws_adopt(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  info.GetReturnValue().Set(false);
  if (info.Length() != 2 || !info[0]->IsNumber()) return;
  double id = info[0].As<v8::Number>()->Value();
  RequestScope *scope = id >= 1 && id <= 9007199254740991.0 ? self->engine().find(uint64_t(id))
                                                              : nullptr;
  if (scope == nullptr || scope->isolate.get() != self || scope->responded() ||
      websocket_answer(*scope) || (scope->host_ctx == nullptr && scope->dispatch_call == 0)) {
    return;
  }
  DispatchCall *call = nullptr;
  RequestScope *target = nullptr;
  if (dispatched_socket(isolate, scope, info[1], "returned: it cannot be sent", &call, &target) ==
      nullptr) {
    return;
  }
  scope->ws_via = target->id;
  target->ws_for = scope->id;
  info.GetReturnValue().Set(true);
}

// A message send() was given: a string (text, as UTF-8) or bytes
// (binary), at most 1 MiB; false with a TypeError thrown.
bool message_of(v8::Isolate *isolate, v8::Local<v8::Value> value, std::string *out, int *op) {
  const char *data = nullptr;
  size_t len = 0;
  if (value->IsString()) {
    v8::Local<v8::String> s = value.As<v8::String>();
    if (size_t(s->Length()) > kWsMaxMessage || size_t(s->Utf8Length(isolate)) > kWsMaxMessage) {
      throw_type_error(isolate, "WebSocket send(): a message may be at most 1 MiB");
      return false;
    }
    out->resize(size_t(s->Utf8Length(isolate)));
    s->WriteUtf8(isolate, out->data(), int(out->size()), nullptr,
                 v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    *op = kOpText;
    return true;
  }
  if (!buffer_source_bytes(value, &data, &len)) {
    throw_type_error(isolate, "WebSocket send(): the message must be a string or bytes");
    return false;
  }
  if (len > kWsMaxMessage) {
    throw_type_error(isolate, "WebSocket send(): a message may be at most 1 MiB");
    return false;
  }
  out->assign(data, len);
  *op = kOpBinary;
  return true;
}

// A bridged socket's message for the other end, or a TypeError when what
// waits is at its bound.
void peer_send(v8::Isolate *isolate, Engine &engine, RequestScope &target,
               std::deque<PeerItem> &queue, int op, std::string data) {
  PeerItem item;
  item.kind = op == kOpText ? kEvText : kEvBinary;
  item.data = std::move(data);
  if (!peer_queue(target, queue, std::move(item))) {
    throw_type_error(isolate, "WebSocket send(): " + std::to_string(target.ws->peer_held) +
                     " bytes already wait for the other end: the send buffer is full");
    return;
  }
  peer_schedule(engine, target);
}

// native.wsBridge(call, end): the current request's script accept()s end,
// the webSocket of the 101 its dispatch `call` answered with: the target's
// socket is bridged to it. False when it cannot (not this request's, or
// returned already); a TypeError when the target's socket was stopped.
void on_ws_bridge(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  info.GetReturnValue().Set(false);
  if (info.Length() != 2 || !info[1]->IsObject()) return;
  RequestScope *scope = self->current_request();
  DispatchCall *call = nullptr;
  RequestScope *target = nullptr;
  RequestScope *holder = dispatched_socket(isolate, scope, info[0], "accepted", &call, &target);
  if (holder == nullptr) return;
  WebSocketSession &ws = *holder->ws;
  ws.peer = scope->id;
  ws.peer_call = uint64_t(info[0].As<v8::Number>()->Value());
  call->peer_end.Reset(isolate, info[1].As<v8::Object>());
  // What the target sent before (frames that waited for a client) goes to
  // this end as messages, charged as they were.
  if (ws.held && holder->isolate) holder->isolate->budget().unhold(ws.held);
  ws.held = 0;
  const std::string &o = ws.out;
  size_t p = ws.out_off;
  while (p + 2 <= o.size()) {
    int op = uint8_t(o[p]) & 0x0f;
    uint64_t len = uint8_t(o[p + 1]) & 0x7f;
    size_t at = p + 2;
    if (len == 126) {
      len = (uint64_t(uint8_t(o[at])) << 8) | uint8_t(o[at + 1]);
      at += 2;
    } else if (len == 127) {
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | uint8_t(o[at + i]);
      at += 8;
    }
    if (at + len > o.size()) break;
    PeerItem item;
    item.data = o.substr(at, size_t(len));
    p = at + size_t(len);
    if (op == kOpClose) {
      item.kind = kEvClose;
      item.code = item.data.size() >= 2 ? (uint8_t(item.data[0]) << 8) | uint8_t(item.data[1]) : 1005;
      item.reason = item.data.size() > 2 ? item.data.substr(2) : std::string();
      item.data.clear();
      ws.to_peer.push_back(std::move(item));
    } else if (op == kOpText || op == kOpBinary) {
      item.kind = op == kOpText ? kEvText : kEvBinary;
      peer_queue(*holder, ws.to_peer, std::move(item));
    }
  }
  std::string().swap(ws.out);
  ws.out_off = 0;
  peer_schedule(engine, *holder);
  info.GetReturnValue().Set(true);
}

// native.wsPeerSend(call, data): a message of the caller's end for the
// target's server end.
void on_ws_peer_send(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *target = nullptr;
  if (info.Length() != 2) return;
  WebSocketSession *ws = peer_of(info, &target);
  if (ws == nullptr) return;
  std::string message;
  int op;
  if (!message_of(isolate, info[1], &message, &op)) return;
  if (ws->close_received || ws->stopped || ws->peer_closed) return;  // dropped
  peer_send(isolate, TenantIsolate::from(isolate)->engine(), *target, ws->from_peer, op,
            std::move(message));
}

// native.wsPeerClose(call, code, reason): the caller's end closes (code -1:
// none, 1005 to the other end).
void on_ws_peer_close(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *target = nullptr;
  if (info.Length() != 3 || !info[1]->IsInt32()) return;
  WebSocketSession *ws = peer_of(info, &target);
  if (ws == nullptr || ws->peer_closed) return;
  int code = info[1].As<v8::Int32>()->Value();
  if (code != -1 && (code < 1000 || code > 4999)) return;
  std::string reason = info[2]->IsString() ? to_std_string(isolate, info[2]) : std::string();
  if (reason.size() > 123) reason.resize(123);
  ws->peer_closed = true;
  PeerItem item;
  item.kind = kEvClose;
  item.code = code < 0 ? 1005 : code;
  item.reason = std::move(reason);
  peer_queue(*target, ws->from_peer, std::move(item));
  peer_schedule(TenantIsolate::from(isolate)->engine(), *target);
}

// native.wsAccept(id): the script called accept(); input may flow.
void on_ws_accept(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  if (info.Length() != 1) return;
  WebSocketSession *ws = session_of(TenantIsolate::from(info.GetIsolate()), info[0], &scope);
  if (ws == nullptr || ws->accepted) return;
  ws->accepted = true;
  if (ws->peer) peer_schedule(scope->isolate->engine(), *scope);
  if (scope->responded()) scope->isolate->engine().wake(*scope);
}

// native.wsSend(id, data): a string (text) or bytes (binary) for the
// client. Dropped once the client is gone; a TypeError past the bounds.
void on_ws_send(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  if (info.Length() != 2) return;
  WebSocketSession *ws = session_of(TenantIsolate::from(isolate), info[0], &scope);
  if (ws == nullptr || ws->eof || ws->stopped || ws->close_sent) return;
  std::string message;
  int op;
  if (!message_of(isolate, info[1], &message, &op)) return;
  Engine &engine = scope->isolate->engine();
  if (ws->peer) {
    peer_send(isolate, engine, *scope, ws->to_peer, op, std::move(message));
    return;
  }
  if (!queue_frame(*scope, op, message.data(), message.size(), false)) {
    throw_type_error(isolate, "WebSocket send(): " + std::to_string(ws->out.size() - ws->out_off) +
                     " bytes already wait for the client: the send buffer is full");
    return;
  }
  if (scope->responded()) engine.wake(*scope);
}

// native.wsClose(id, code, reason): code -1 for none (an empty Close).
void on_ws_close(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  if (info.Length() != 3 || !info[1]->IsInt32()) return;
  WebSocketSession *ws = session_of(TenantIsolate::from(isolate), info[0], &scope);
  if (ws == nullptr || ws->eof || ws->stopped || ws->close_sent) return;
  int code = info[1].As<v8::Int32>()->Value();
  if (code != -1 && (code < 1000 || code > 4999)) return;
  std::string reason = info[2]->IsString() ? to_std_string(isolate, info[2]) : std::string();
  if (reason.size() > 123) reason.resize(123);
  if (ws->peer) {
    peer_close(scope->isolate->engine(), *scope, code, reason);
    return;
  }
  queue_close(*scope, code, reason);
  await_close(scope->isolate->engine(), *scope);
  if (scope->responded()) scope->isolate->engine().wake(*scope);
}

}  // namespace

void install_websocket_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "wsRequest", on_ws_request);
  set_function(context, native, "wsAttach", on_ws_attach);
  set_function(context, native, "wsAdopt", on_ws_adopt);
  set_function(context, native, "wsBridge", on_ws_bridge);
  set_function(context, native, "wsPeerSend", on_ws_peer_send);
  set_function(context, native, "wsPeerClose", on_ws_peer_close);
  set_function(context, native, "wsAccept", on_ws_accept);
  set_function(context, native, "wsSend", on_ws_send);
  set_function(context, native, "wsClose", on_ws_close);
}

bool websocket_answer(const RequestScope &scope) { return scope.ws || scope.ws_via; }

bool websocket_handshake(RequestScope &scope, std::string *why) {
  if (!websocket_answer(scope)) {
    *why = "a 101 response needs a webSocket";
    return false;
  }
  std::string_view upgrade, connection, version, key;
  if (scope.dispatch_call != 0) {
    // Its caller's request is the client's (or leads to it): that one
    // checks the client's handshake and answers it.
    if (!request_header(scope, "upgrade", &upgrade) || !list_has(upgrade, "websocket")) {
      *why = "the request did not ask for a WebSocket (Upgrade: websocket)";
      return false;
    }
    return true;
  }
  if (scope.head.method() != "GET" || !request_header(scope, "upgrade", &upgrade) ||
      !list_has(upgrade, "websocket") || !request_header(scope, "connection", &connection) ||
      !list_has(connection, "upgrade") || !request_header(scope, "sec-websocket-version", &version) ||
      trim(version) != "13" || !request_header(scope, "sec-websocket-key", &key) ||
      trim(key).size() != 24) {
    *why = "the request did not ask for a WebSocket (a GET with Upgrade: websocket, Connection: "
           "upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key)";
    return false;
  }
  std::string text(trim(key));
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char *>(text.data()), text.size(), digest);
  std::string &accept = scope.ws ? scope.ws->accept_key : scope.ws_accept;
  accept = base64_encode(std::string_view(reinterpret_cast<char *>(digest), sizeof(digest)), false);
  static const char kName[] = "sec-websocket-accept";
  // The handshake's answer is the runtime's: a script's own
  // Sec-WebSocket-Accept would go out next to it, and its
  // Sec-WebSocket-Extensions would agree to an extension (permessage-deflate)
  // this parser refuses (reserved bits close with 1002).
  auto &views = scope.header_views;
  views.erase(std::remove_if(views.begin(), views.end(), [](const dispatch_header_t &h) {
    auto is = [&h](const char *name) {
      return h.name.len == strlen(name) && strncasecmp(h.name.data, name, h.name.len) == 0;
    };
    return is(kName) || is("sec-websocket-extensions");
  }), views.end());
  scope.header_views.push_back({{kName, sizeof(kName) - 1}, {accept.data(), accept.size()}});
  return true;
}

void websocket_handed_over(Engine &engine, RequestScope &scope) {
  if (!scope.ws_via || scope.status != 101 || scope.outcome != DISPATCH_OUTCOME_OK || !scope.isolate) {
    return;
  }
  if (scope.wait_until.empty()) {
    engine.detach_later(scope.id);
    return;
  }
  uint64_t id = scope.id;
  scope.linger_timer = std::make_unique<Timer>(engine.host(), [&engine, id] {
    RequestScope *s = engine.find(id);
    if (s == nullptr || !s->isolate || s->wait_until.empty()) return;
    engine.log(*s, DISPATCH_LOG_WARN, "ctx.waitUntil() work still running 30s after the 101 "
               "went out with a dispatched Worker's WebSocket is stopped");
    s->wait_until.clear();
    engine.detach_later(id);
  }, false);
  scope.linger_timer->start(kWsHandOverWaitUntilMs);
}

int websocket_input(Engine &engine, RequestScope &client, const char *data, size_t len, bool eof) {
  RequestScope *holder = holder_of(engine, client);
  if (holder == nullptr) return 0;
  RequestScope &scope = *holder;
  WebSocketSession &ws = *scope.ws;
  if (!ws.close_received && !ws.stopped && len) parse(engine, scope, data, data + len);
  if (eof && scope.ws && !scope.ws->eof) {
    WebSocketSession &w = *scope.ws;
    w.eof = true;
    if (!w.close_received) {
      w.close_received = true;
      w.pending.clear();
      deliver(engine, scope, kEvClose, "", 1006, "WebSocket disconnected without sending Close frame.",
              false);
    }
    engine.wake(scope);
  }
  return wanted(scope) ? 1 : 0;
}

bool websocket_wanted(Engine &engine, RequestScope &client) {
  RequestScope *holder = holder_of(engine, client);
  return holder != nullptr && wanted(*holder);
}

long websocket_read(Engine &engine, RequestScope &client, char *buf, size_t size) {
  RequestScope *holder = holder_of(engine, client);
  if (holder == nullptr) return 0;  // gone: the connection ends
  RequestScope &scope = *holder;
  WebSocketSession &ws = *scope.ws;
  size_t waiting = ws.out.size() - ws.out_off;
  if (ws.eof) return 0;
  if (waiting == 0) {
    // Done once both Close frames went (or ours after a failure).
    return ws.close_sent && ws.close_received ? 0 : DISPATCH_BODY_AGAIN;
  }
  size_t n = std::min(size, waiting);
  memcpy(buf, ws.out.data() + ws.out_off, n);
  ws.out_off += n;
  size_t refund = std::min(ws.held, n);
  if (refund) {
    ws.held -= refund;
    if (scope.isolate) scope.isolate->budget().unhold(refund);
  }
  if (ws.out_off == ws.out.size()) {
    std::string().swap(ws.out);
    ws.out_off = 0;
  }
  return long(n);
}

void websocket_stop(Engine &engine, RequestScope &scope, uint16_t code, const char *reason) {
  if (!scope.ws || scope.ws->stopped) return;
  WebSocketSession &ws = *scope.ws;
  ws.stopped = true;
  ws.close_received = true;  // no more input is read
  ws.pending.clear();
  if (ws.peer) {
    peer_close(engine, scope, code, reason);
    return;
  }
  queue_close(scope, code, reason);
  engine.wake(scope);
}

bool websocket_peer_gone(Engine &engine, RequestScope &scope, uint64_t caller) {
  if (!scope.ws || scope.ws->peer != caller) return false;
  WebSocketSession &ws = *scope.ws;
  ws.peer = 0;
  ws.peer_release = true;
  if (!ws.peer_closed) {
    ws.peer_closed = true;
    PeerItem item;
    item.kind = kEvClose;
    item.code = 1006;
    item.reason = "the other end went away";
    item.clean = false;
    peer_queue(scope, ws.from_peer, std::move(item));
  }
  peer_schedule(engine, scope);
  return true;
}

void websocket_event_budget(RequestScope &scope) {
  const WebSocketSession *ws = scope.ws.get();
  if (ws == nullptr || !scope.responded() || ws->stopped || ws->eof || ws->close_received) return;
  // Only with a client on the other end: a dispatched script's socket that
  // no caller has returned (yet) gets no budget of its own.
  if (scope.host_ctx == nullptr && scope.ws_for == 0 && ws->peer == 0) return;
  scope.cpu_limit_ms = uint64_t(scope.cpu_ms) + ws->event_cpu_ms;
}

void websocket_leave(RequestScope &scope) {
  if (!scope.ws) return;
  WebSocketSession &ws = *scope.ws;
  ws.server.Reset();
  ws.resume.reset();
  ws.closing.reset();
  // What waits for the caller's end still goes (its Close: 1011 when this
  // isolate was stopped), no longer charged to this isolate.
  if (ws.peer_held && scope.isolate) scope.isolate->budget().unhold(ws.peer_held);
  ws.peer_held = 0;
  for (PeerItem &item : ws.to_peer) item.charged = 0;
  ws.from_peer.clear();
  if (ws.held && scope.isolate) scope.isolate->budget().unhold(ws.held);
  ws.held = 0;
  release_message(scope);
  ws.stopped = true;
}

}  // namespace dispatch

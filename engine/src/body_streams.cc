#include "body_streams.h"

#include <algorithm>
#include <cstring>

#include "engine.h"
#include "isolate_entry.h"
#include "request_scope.h"
#include "response_output.h"
#include "tenant_isolate.h"
#include "memory_budget.h"
#include "v8_util.h"

namespace dispatch {

namespace {

std::string failure_reason(int status) {
  switch (status) {
    case 413: return "The request body is larger than the server accepts (client_max_body_size).";
    case 408: return "The client stopped sending the request body (client_body_timeout).";
    case 400: return "The request body is malformed.";
    case DISPATCH_BODY_AFTER_RESPONSE:
      return "Can't read from request stream after response has been sent.";
    default: return "Network connection lost.";
  }
}

// The host may read again: it was told to stop, and the script has taken
// enough that the queue is under its mark.
void maybe_resume(Engine &engine, RequestScope &scope) {
  RequestScope::RequestBody &b = scope.request_body;
  if (!b.paused || b.queued >= kRequestBodyHighWater) return;
  b.paused = false;
  engine.wake(scope);
}

// Up to kRequestBodyHighWater queued bytes, as one ArrayBuffer in the
// script's budget (empty, with a RangeError thrown, when it does not fit).
v8::MaybeLocal<v8::Uint8Array> take_pieces(v8::Isolate *isolate, RequestScope &scope) {
  RequestScope::RequestBody &b = scope.request_body;
  size_t len = std::min(b.queued, kRequestBodyHighWater);
  v8::Local<v8::ArrayBuffer> buffer;
  if (!new_array_buffer(isolate, nullptr, len).ToLocal(&buffer)) return {};
  char *out = static_cast<char *>(buffer->GetBackingStore()->Data());
  size_t filled = 0;
  while (filled < len) {
    std::string &piece = b.pieces.front();
    size_t n = std::min(piece.size(), len - filled);
    memcpy(out + filled, piece.data(), n);
    filled += n;
    if (n == piece.size()) {
      b.pieces.pop_front();
    } else {
      piece.erase(0, n);
    }
  }
  b.queued -= len;
  return v8::Uint8Array::New(buffer, 0, len);
}

// Each piece handed to a waiting read is a turn of the script's, charged
// to its CPU limit (~50 us of the built-ins' stream code): a client that
// sends its body a byte at a time (or an upstream its response) could
// otherwise run any script that reads it into exceeded_cpu in about a
// second, and into the penalty box with a few more such requests. After
// kSmallDeliveriesAtOnce reads given less than kSmallDelivery, the next
// such one waits, 1 ms at first and twice as long every
// kSmallDeliveriesPerDoubling more, up to kMaxDeliveryDelayMs, while what
// arrives meanwhile is queued for it; the end of the body, a failure and
// kSmallDelivery bytes go at once. A drip through the whole 30 s wall
// limit then makes about 360 reads (~22 ms of CPU, under the 50 ms
// default), and one read after the Response at most ten a second. No
// longer than 100 ms: a script that reads a stream of small events
// itself (server-sent events it rewrites) gets them in batches of at most
// that, not half a second.
constexpr size_t kSmallDelivery = 16u << 10;
constexpr uint32_t kSmallDeliveriesAtOnce = 16;
constexpr uint32_t kSmallDeliveriesPerDoubling = 8;
constexpr uint64_t kMaxDeliveryDelayMs = 100;

// The script's read that waits for a piece gets one now, from the loop,
// in a turn of the request that asked (what it awaits runs there), or,
// for a small one past the first few, once its delay is over (held).
void deliver(Engine &engine, RequestScope &scope, bool held = false) {
  RequestScope::RequestBody &b = scope.request_body;
  if (b.read_op == 0 || !(b.queued || b.ended || b.failed >= 0)) return;
  if (!scope.isolate) return;
  if (b.pacer.hold(engine.host(), b.queued, b.ended || b.failed >= 0, held,
                   [&engine, &scope] { deliver(engine, scope, true); })) {
    return;
  }
  uint64_t op = b.read_op;
  uint64_t reader = b.read_request;
  b.read_op = 0;
  uint64_t owner = scope.id;
  scope.isolate->complete_async(reader, op, [&engine, owner](v8::Local<v8::Context> context,
                                                            v8::Local<v8::Promise::Resolver> r) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *s = engine.find(owner);
    if (s == nullptr) {
      r->Reject(context, v8::Exception::TypeError(v8_str(isolate, failure_reason(0)))).Check();
      return;
    }
    RequestScope::RequestBody &body = s->request_body;
    if (body.queued) {
      v8::Local<v8::Uint8Array> chunk;
      v8::TryCatch try_catch(isolate);
      if (!take_pieces(isolate, *s).ToLocal(&chunk)) {
        if (try_catch.HasTerminated()) return;
        r->Reject(context, try_catch.Exception()).Check();
        return;
      }
      v8::Local<v8::Value> piece_value = chunk;
      r->Resolve(context, frozen_list(context, &piece_value, 1)).Check();
      maybe_resume(engine, *s);
    } else if (body.ended) {
      v8::Local<v8::Value> end = v8::Null(isolate);
      r->Resolve(context, frozen_list(context, &end, 1)).Check();
    } else {
      r->Reject(context, v8::Exception::TypeError(v8_str(isolate, failure_reason(body.failed))))
          .Check();
    }
  });
}

void on_request_body_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  RequestScope *scope = nullptr;
  if (info.Length() > 0 && info[0]->IsNumber() && info[0].As<v8::Number>()->Value() >= 1) {
    scope = engine.find(uint64_t(info[0].As<v8::Number>()->Value()));
  }
  if (scope == nullptr || scope->isolate.get() != self || !scope->request_body.more) {
    isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, failure_reason(0))));
    return;
  }
  RequestScope::RequestBody &b = scope->request_body;
  if (b.queued) {
    v8::Local<v8::Uint8Array> chunk;
    if (!take_pieces(isolate, *scope).ToLocal(&chunk)) return;  // RangeError thrown
    info.GetReturnValue().Set(chunk);
    maybe_resume(engine, *scope);
    return;
  }
  if (b.ended) {
    info.GetReturnValue().SetNull();
    return;
  }
  if (b.failed >= 0) {
    isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, failure_reason(b.failed))));
    return;
  }
  if (b.read_op != 0) {
    isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate,
        "the request body is already being read")));
    return;
  }
  uint64_t request_id = 0;
  uint64_t op = 0;
  v8::Local<v8::Promise> promise;
  if (!self->begin_async(&request_id, &op).ToLocal(&promise)) return;
  b.read_op = op;
  b.read_request = request_id;
  info.GetReturnValue().Set(promise);
}

}  // namespace

uint64_t ReadPacer::delay_ms(size_t bytes, bool final, bool held) {
  if (final || bytes >= kSmallDelivery) return 0;
  if (!held && small_ >= kSmallDeliveriesAtOnce) {
    uint32_t doublings = (small_ - kSmallDeliveriesAtOnce) / kSmallDeliveriesPerDoubling;
    return doublings >= 7 ? kMaxDeliveryDelayMs
                          : std::min<uint64_t>(kMaxDeliveryDelayMs, uint64_t(1) << doublings);
  }
  small_++;
  return 0;
}

int request_body_write(Engine &engine, RequestScope &scope, const char *data, size_t len,
                       bool last) {
  RequestScope::RequestBody &b = scope.request_body;
  if (!b.more || b.ended || b.failed >= 0) return 0;
  if (len) {
    b.pieces.emplace_back(data, len);
    b.queued += len;
  }
  if (last) b.ended = true;
  deliver(engine, scope);
  if (b.forward_call) engine.pump_dispatch_later(b.forward_call);
  bool want = !b.ended && b.queued < kRequestBodyHighWater;
  b.paused = !want && !b.ended;
  return want ? 1 : 0;
}

void request_body_fail(Engine &engine, RequestScope &scope, int status) {
  RequestScope::RequestBody &b = scope.request_body;
  if (!b.more || b.ended || b.failed >= 0) return;
  b.failed = status;
  b.paused = false;
  deliver(engine, scope);
  if (b.forward_call) engine.pump_dispatch_later(b.forward_call);
}

void request_body_forward(Engine &engine, RequestScope &from, RequestScope &to) {
  RequestScope::RequestBody &b = from.request_body;
  while (!b.pieces.empty() && request_body_wanted(to)) {
    std::string piece = std::move(b.pieces.front());
    b.pieces.pop_front();
    b.queued -= piece.size();
    request_body_write(engine, to, piece.data(), piece.size(), false);
  }
  if (b.pieces.empty()) {
    if (b.ended) {
      request_body_write(engine, to, nullptr, 0, true);
    } else if (b.failed >= 0) {
      request_body_fail(engine, to, b.failed);
    }
  }
  maybe_resume(engine, from);
}

bool request_body_wanted(const RequestScope &scope) {
  const RequestScope::RequestBody &b = scope.request_body;
  return b.more && !b.ended && b.failed < 0 && b.queued < kRequestBodyHighWater;
}

namespace {

// The end of the stream: a body shorter than the length the script fixed
// is cut short, as Workers cuts it.
long finish(Engine &engine, RequestScope &scope) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  if (rs.length >= 0 && rs.sent != uint64_t(rs.length)) {
    engine.log(scope, DISPATCH_LOG_ERR, "the response body ended after " +
               std::to_string(rs.sent) + " bytes, not the " + std::to_string(rs.length) +
               " its length says: the response is cut short");
    rs.failed = true;
    return DISPATCH_BODY_ERROR;
  }
  rs.ended = true;
  return 0;
}

// n more bytes may go out: not past the length the script fixed.
bool within_length(Engine &engine, RequestScope &scope, size_t n) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  if (rs.length < 0 || rs.sent + n <= uint64_t(rs.length)) return true;
  engine.log(scope, DISPATCH_LOG_ERR, "the response body is longer than the " +
             std::to_string(rs.length) + " bytes its length says: the response is cut short");
  rs.failed = true;
  return false;
}

long read_passthrough(Engine &engine, RequestScope &scope, char *buf, size_t size) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  RequestScope::RequestBody &b = scope.request_body;
  if (!b.pieces.empty()) {
    std::string &piece = b.pieces.front();
    size_t n = std::min(piece.size(), size);
    if (!within_length(engine, scope, n)) return DISPATCH_BODY_ERROR;
    memcpy(buf, piece.data(), n);
    if (n == piece.size()) {
      b.pieces.pop_front();
    } else {
      piece.erase(0, n);
    }
    b.queued -= n;
    rs.sent += n;
    maybe_resume(engine, scope);
    return long(n);
  }
  if (b.ended) return finish(engine, scope);
  if (b.failed >= 0) {
    engine.log(scope, DISPATCH_LOG_ERR, "the request body passed through as the response "
               "body failed: " + failure_reason(b.failed));
    rs.failed = true;
    return DISPATCH_BODY_ERROR;
  }
  return DISPATCH_BODY_AGAIN;
}

// Bytes of the piece read last, copied straight from its buffer; 0 when it
// has none left (or was detached meanwhile).
size_t copy_chunk(TenantIsolate &isolate, RequestScope::ResponseStream &rs, char *buf,
                  size_t size) {
  v8::Isolate *v8i = isolate.v8_isolate();
  IsolateEntry isolate_scope(v8i);
  v8::HandleScope handle_scope(v8i);
  v8::Local<v8::ArrayBufferView> view = rs.chunk.Get(v8i);
  size_t len = view->ByteLength();
  if (rs.offset >= len) {
    rs.chunk.Reset();
    rs.offset = 0;
    return 0;
  }
  std::shared_ptr<v8::BackingStore> store = view->Buffer()->GetBackingStore();
  size_t start = view->ByteOffset() + rs.offset;
  size_t n = std::min(size, len - rs.offset);
  if (store->Data() == nullptr || start > store->ByteLength() ||
      n > store->ByteLength() - start) {
    rs.chunk.Reset();
    rs.offset = 0;
    return 0;
  }
  memcpy(buf, static_cast<const char *>(store->Data()) + start, n);
  rs.offset += n;
  if (rs.offset == len) {
    rs.chunk.Reset();
    rs.offset = 0;
  }
  return n;
}

}  // namespace

long response_body_read(Engine &engine, RequestScope &scope, char *buf, size_t size) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  if (!rs.on || rs.failed || size == 0) return DISPATCH_BODY_ERROR;
  if (rs.ended) return 0;
  if (rs.passthrough) return read_passthrough(engine, scope, buf, size);
  TenantIsolate *isolate = scope.isolate.get();
  if (isolate == nullptr || isolate->dead()) {
    rs.failed = true;
    return DISPATCH_BODY_ERROR;
  }
  bool asked = false;
  for (;;) {
    while (!rs.chunk.IsEmpty()) {
      size_t n = copy_chunk(*isolate, rs, buf, size);
      if (n == 0) continue;
      if (!within_length(engine, scope, n)) return DISPATCH_BODY_ERROR;
      rs.sent += n;
      return long(n);
    }
    if (rs.failed) return DISPATCH_BODY_ERROR;
    if (rs.ended) return finish(engine, scope);
    if (!rs.pending.IsEmpty()) return DISPATCH_BODY_AGAIN;
    if (asked) {
      // An empty piece: the host asks again from its loop, so a stream of
      // nothing but empty pieces costs its CPU budget, never a hang.
      engine.wake(scope);
      return DISPATCH_BODY_AGAIN;
    }
    asked = true;
    rs.reading = true;
    isolate->run_turn(scope, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch) {
      v8::Isolate *v8i = context->GetIsolate();
      v8::Local<v8::Value> args[] = {rs.handle.Get(v8i)};
      v8::Local<v8::Value> promise;
      if (!isolate->body_reader()->Call(context, v8::Undefined(v8i), 1, args).ToLocal(&promise) ||
          !promise->IsPromise()) {
        if (try_catch.HasTerminated()) return;
        engine.log(scope, DISPATCH_LOG_ERR, "the response body cannot be read: the built-ins "
                   "failed");
        rs.failed = true;
        return;
      }
      promise.As<v8::Promise>()->MarkAsHandled();
      rs.pending.Reset(v8i, promise.As<v8::Promise>());
    });
    rs.reading = false;
    // The turn's microtasks may have settled the read already.
    if (isolate->dead()) {
      rs.failed = true;
      return DISPATCH_BODY_ERROR;
    }
  }
}

void take_response_chunk(TenantIsolate &isolate, v8::Local<v8::Context> context,
                         RequestScope &scope) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  v8::Isolate *v8i = context->GetIsolate();
  v8::Local<v8::Promise> promise = rs.pending.Get(v8i);
  if (promise->State() == v8::Promise::kPending) return;
  rs.pending.Reset();
  if (promise->State() == v8::Promise::kRejected) {
    v8::TryCatch try_catch(v8i);
    v8::Local<v8::Value> error = promise->Result();
    isolate.log_uncaught(&scope, DISPATCH_LOG_ERR, "the response body stream failed: " +
                         describe_exception(v8i, error, v8::Exception::CreateMessage(v8i, error)) +
                         "; the response is cut short");
    rs.failed = true;
  } else {
    // The built-ins' frozen, prototype-less [Uint8Array] or [null].
    v8::Local<v8::Value> result = promise->Result();
    v8::Local<v8::Value> chunk;
    if (!result->IsArray() || result.As<v8::Array>()->Length() != 1 ||
        !result.As<v8::Array>()->Get(context, 0).ToLocal(&chunk)) {
      rs.failed = true;
    } else if (chunk->IsNull()) {
      rs.ended = true;
    } else if (chunk->IsArrayBufferView()) {
      rs.chunk.Reset(v8i, chunk.As<v8::ArrayBufferView>());
      rs.offset = 0;
    } else {
      rs.failed = true;
    }
  }
  if (!rs.reading) isolate.engine().wake(scope);
}

void response_body_cancel(Engine &engine, RequestScope &scope) {
  RequestScope::ResponseStream &rs = scope.response_stream;
  if (!rs.on || rs.ended || rs.failed) return;
  rs.failed = true;
  rs.chunk.Reset();
  rs.pending.Reset();
  TenantIsolate *isolate = scope.isolate.get();
  if (rs.passthrough || isolate == nullptr || isolate->dead() || rs.handle.IsEmpty()) return;
  // The stream's cancel callback is work of the request like ctx.waitUntil:
  // the request lingers until it settles.
  isolate->run_turn(scope, [&](v8::Local<v8::Context> context, v8::TryCatch &) {
    v8::Isolate *v8i = context->GetIsolate();
    v8::Local<v8::Value> args[] = {rs.handle.Get(v8i)};
    v8::Local<v8::Value> promise;
    if (!isolate->body_canceller()->Call(context, v8::Undefined(v8i), 1, args)
             .ToLocal(&promise) ||
        !promise->IsPromise()) {
      return;
    }
    promise.As<v8::Promise>()->MarkAsHandled();
    scope.wait_until.emplace_back(v8i, promise.As<v8::Promise>());
  });
  (void) engine;
}

namespace {

// native.checkFits(length): a RangeError when length bytes cannot fit
// what is left of the script's budget (after a collection); nothing is
// taken.
void on_check_fits(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  double n = info.Length() > 0 && info[0]->IsNumber() ? info[0].As<v8::Number>()->Value() : -1;
  MemoryBudget &budget = TenantIsolate::from(isolate)->budget();
  if (n >= 0 && n <= double(budget.limit()) && budget.make_room(size_t(n))) return;
  isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate,
      "Cannot allocate " + std::to_string(uint64_t(std::max(0.0, std::min(n, 9e15)))) +
      " bytes: the script has " + std::to_string(budget.available()) +
      " bytes of its memory limit left")));
}

}  // namespace

void install_body_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  native->Set(context, v8_str(isolate, "checkFits"),
              native_function(context, on_check_fits)).Check();
  native->Set(context, v8_str(isolate, "requestBodyRead"),
              native_function(context, on_request_body_read)).Check();
  install_response_natives(context, native);  // the other end of a body
}

}  // namespace dispatch

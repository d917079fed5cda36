// body_streams.h: bodies in pieces, with backpressure both ways.
//
// A request body the host reads from the client arrives here piece by
// piece (dispatch_request_body_write) and waits, at most kHighWater bytes
// of it, until the script's request.body pulls it (native.requestBodyRead);
// past that the host is told to stop reading, and is woken when the script
// has taken some. A response body the script produces as a ReadableStream
// is read only when the host asks (dispatch_response_read): each ask that
// finds nothing ready starts one read of the stream, in a turn of the
// request, so a slow client slows the script's pull instead of growing a
// buffer. A request body the script passes through unchanged
// (new Response(request.body)) goes from one queue to the other with no
// JavaScript at all.
#pragma once

#include <v8.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "dispatch_engine.h"
#include "host.h"

namespace dispatch {

class Engine;
class TenantIsolate;
class RequestScope;

// Request body bytes held ahead of the script, and the most one read hands it.
constexpr size_t kRequestBodyHighWater = 128u << 10;

// How often a script's waiting read (of a request body, or of a fetch()
// response body) is handed a small piece: each is a turn charged to the
// script's CPU limit, so whoever sends the bytes must not make one per
// byte (body_streams.cc). One per body.
class ReadPacer {
 public:
  // False: hand over now the `bytes` that are ready (`final`: the end of
  // the body or its failure is ready too). True: not yet; again_held runs
  // from the loop once the delay is over, and asks again with held = true.
  // The timer is the pacer's: it never fires after its owner is gone.
  template <typename Fn>
  bool hold(const Host &host, size_t bytes, bool final, bool held, Fn &&again_held) {
    uint64_t wait = delay_ms(bytes, final, held);
    if (wait == 0) {
      if (timer_ != nullptr) timer_->stop();
      return false;
    }
    if (timer_ == nullptr) {
      timer_ = std::make_unique<Timer>(host, std::forward<Fn>(again_held), false);
    }
    if (!timer_->armed()) timer_->start(wait);
    return true;
  }

 private:
  // 0, or the ms to wait before handing them over.
  uint64_t delay_ms(size_t bytes, bool final, bool held);

  uint32_t small_ = 0;  // reads handed less than kSmallDelivery so far
  std::unique_ptr<Timer> timer_;
};

// dispatch_request_body_write: 1 while more is wanted now.
int request_body_write(Engine &engine, RequestScope &scope, const char *data, size_t len,
                       bool last);
// dispatch_request_body_fail.
void request_body_fail(Engine &engine, RequestScope &scope, int status);
// The body of `from`, passed unread to the request `to` that it dispatched
// to (api/dispatch.h): what `from` holds moves on as `to` wants it, with no
// JavaScript, and the host reads on as `to` takes it.
void request_body_forward(Engine &engine, RequestScope &from, RequestScope &to);
// dispatch_request_body_wanted.
bool request_body_wanted(const RequestScope &scope);

// dispatch_response_read.
long response_body_read(Engine &engine, RequestScope &scope, char *buf, size_t size);
// The host let go before the body ended: the script's stream is cancelled
// (its cancel callback runs; the request lingers until that settles).
void response_body_cancel(Engine &engine, RequestScope &scope);
// After each turn's microtasks: a read of the response stream that settled.
void take_response_chunk(TenantIsolate &isolate, v8::Local<v8::Context> context,
                         RequestScope &scope);

// native.requestBodyRead(id): the next piece of request id's body as a
// Uint8Array, null at its end, or a promise of either; throws once the
// body cannot be read to its end.
void install_body_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native);

}  // namespace dispatch

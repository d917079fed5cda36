#include "api/fetch.h"

#include "engine.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

constexpr size_t kMaxPiece = 256u << 10;  // one body read hands the script at most this

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

FetchCall *find_call(const v8::FunctionCallbackInfo<v8::Value> &info, RequestScope **scope) {
  return find_outbound_call(info, scope, false);
}

// The script's waiting promise gets what is there now, from the loop.
void settle_head(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->head_wait.second == 0 || !scope->isolate) return;
  auto wait = call->head_wait;
  call->head_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *s = nullptr;
    FetchCall *c = engine.find_fetch(id, &s);
    if (c == nullptr || !c->head_ready) {
      std::string why = c == nullptr ? "fetch() was stopped: its request ended" : c->error;
      resolver->Reject(context, v8::Exception::TypeError(v8_str(isolate, why))).Check();
      return;
    }
    v8::Local<v8::Value> parts[] = {v8::Integer::New(isolate, c->status),
                                    v8_byte_str(isolate, c->reason),
                                    frozen_header_list(context, c->headers)};
    std::vector<std::pair<std::string, std::string>>().swap(c->headers);
    resolver->Resolve(context, frozen_list(context, parts, 3)).Check();
  });
}

// The next piece of the body as a Uint8Array in the script's budget, null
// at its end; empty with an exception thrown when it broke or does not fit.
v8::MaybeLocal<v8::Value> take_piece(v8::Isolate *isolate, FetchCall *call) {
  FetchExchange &x = *call->exchange;
  if (x.body_queued()) {
    std::string piece = x.body_take(kMaxPiece);
    v8::Local<v8::ArrayBuffer> buffer;
    if (!new_array_buffer(isolate, piece.data(), piece.size()).ToLocal(&buffer)) return {};
    return v8::Uint8Array::New(buffer, 0, piece.size());
  }
  if (!x.body_error().empty()) {
    throw_type_error(isolate, x.body_error());
    return {};
  }
  if (x.body_ended()) return v8::Null(isolate).As<v8::Value>();
  return v8::Undefined(isolate).As<v8::Value>();  // nothing yet
}

void settle_read(Engine &engine, uint64_t id, bool held = false) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->read_wait.second == 0 || !scope->isolate) return;
  // Nothing for it yet (what the event announced was taken by a read the
  // script made meanwhile): the read keeps waiting.
  const FetchExchange &x = *call->exchange;
  if (!x.body_queued() && x.body_error().empty() && !x.body_ended()) return;
  if (call->pacer.hold(engine.host(), x.body_bytes(),
                       x.body_complete() || !x.body_error().empty(), held,
                       [&engine, id] { settle_read(engine, id, true); })) {
    return;
  }
  auto wait = call->read_wait;
  call->read_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *s = nullptr;
    FetchCall *c = engine.find_fetch(id, &s);
    if (c == nullptr) {
      resolver->Reject(context, v8::Exception::TypeError(v8_str(isolate,
          "Network connection lost."))).Check();
      return;
    }
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> piece;
    if (!take_piece(isolate, c).ToLocal(&piece)) {
      if (try_catch.HasTerminated()) return;
      resolver->Reject(context, try_catch.Exception()).Check();
      return;
    }
    if (c->exchange->drained()) engine.start_fetches_later(s->id);
    resolver->Resolve(context, frozen_list(context, &piece, 1)).Check();
  });
}

void settle_write(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->write_wait.second == 0 || !scope->isolate) return;
  auto wait = call->write_wait;
  call->write_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    resolver->Resolve(context, v8::Undefined(context->GetIsolate())).Check();
  });
}

// The request's calls waiting for one of its connections start as others finish.
void start_waiting(Engine &engine, RequestScope &scope) {
  size_t active = 0;
  for (auto &entry : scope.fetches) {
    FetchCall &c = *entry.second;
    if (c.started && !c.drained()) active++;
  }
  for (auto &entry : scope.fetches) {
    if (active >= kMaxConnectionsPerRequest) return;
    FetchCall &c = *entry.second;
    if (c.started) continue;
    c.started = true;
    active++;
    c.start();
  }
  (void) engine;
}

void after_event(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call != nullptr && call->drained()) start_waiting(engine, *scope);
}

std::string string_arg(v8::Isolate *isolate, v8::Local<v8::Value> v) {
  return v->IsString() ? to_byte_string(isolate, v) : std::string();
}

void on_fetch_start(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  RequestScope *scope = self->current_request();
  if (scope == nullptr) {
    throw_type_error(isolate, "fetch() can only be called while a request is being handled, "
                              "not at the top level");
    return;
  }
  // Its requests go to its outbound worker (dispatch.h): never out directly.
  if (!scope->outbound_script.empty()) {
    throw_type_error(isolate, "fetch(): this request's fetch() calls go to its outbound worker");
    return;
  }
  if (info.Length() < 8 || !info[0]->IsString() || !info[2]->IsString() ||
      !info[3]->IsInt32() || !info[4]->IsString() || !info[5]->IsArray()) {
    throw_type_error(isolate, "fetch(): bad arguments");
    return;
  }
  if (!subrequest_allowed(isolate, *scope)) return;
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  FetchRequestHead head;
  head.method = string_arg(isolate, info[0]);
  head.tls = info[1]->IsTrue();
  head.host = string_arg(isolate, info[2]);
  head.port = info[3].As<v8::Int32>()->Value();
  head.path = string_arg(isolate, info[4]);
  v8::Local<v8::Array> list = info[5].As<v8::Array>();
  for (uint32_t i = 0; i + 1 < list->Length(); i += 2) {
    v8::Local<v8::Value> name, value;
    if (!list->Get(context, i).ToLocal(&name) || !list->Get(context, i + 1).ToLocal(&value)) return;
    head.headers.emplace_back(string_arg(isolate, name), string_arg(isolate, value));
  }
  if (info[6]->IsArrayBufferView()) {
    auto view = info[6].As<v8::ArrayBufferView>();
    head.body.resize(view->ByteLength());
    if (!head.body.empty()) view->CopyContents(head.body.data(), head.body.size());
  } else if (info[6]->IsTrue()) {
    head.body_streamed = true;
    double n = info[7]->IsNumber() ? info[7].As<v8::Number>()->Value() : -1;
    head.body_length = n >= 0 && n <= 9007199254740991.0 ? int64_t(n) : -1;
  }
  // The built-ins checked these too; nothing that could split a line gets
  // to the wire, whatever they were made to pass.
  auto clean = [](const std::string &s) {
    for (unsigned char c : s) {
      if (c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
  };
  bool ok = !head.method.empty() && clean(head.method) && clean(head.host) && clean(head.path) &&
            head.path.find(' ') == std::string::npos && head.port > 0 && head.port < 65536;
  for (const auto &h : head.headers) ok = ok && !h.first.empty() && clean(h.first) && clean(h.second);
  if (!ok) {
    throw_type_error(isolate, "fetch(): the request cannot be sent");
    return;
  }

  scope->subrequests++;
  uint64_t id = engine.next_fetch_id();
  auto call = std::make_unique<FetchCall>();
  call->owner = scope->id;
  FetchExchange::Events events;
  events.head = [&engine, id](int status, const std::string &reason,
                              const std::vector<std::pair<std::string, std::string>> &headers) {
    RequestScope *s = nullptr;
    FetchCall *c = engine.find_fetch(id, &s);
    if (c == nullptr) return;
    c->head_ready = true;
    c->status = status;
    c->reason = reason;
    c->headers = headers;
    settle_head(engine, id);
    after_event(engine, id);
  };
  events.failed = [&engine, id](const std::string &why) {
    RequestScope *s = nullptr;
    FetchCall *c = engine.find_fetch(id, &s);
    if (c == nullptr) return;
    c->error = why;
    settle_head(engine, id);
    after_event(engine, id);
  };
  events.body_ready = [&engine, id] {
    settle_read(engine, id);
    after_event(engine, id);
  };
  events.writable = [&engine, id] { settle_write(engine, id); };
  call->exchange = std::make_unique<FetchExchange>(engine.outbound(), engine.egress(),
                                                   engine.fetch_limits(), std::move(head),
                                                   std::move(events),
                                                   scope->fetch_for.empty()
                                                       ? scope->ns + "/" + scope->script
                                                       : scope->fetch_for);
  engine.add_fetch(*scope, id, std::move(call));
  start_waiting(engine, *scope);
  info.GetReturnValue().Set(v8::Number::New(isolate, double(id)));
}

void on_fetch_head(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_call(info, &scope);
  if (call == nullptr) return;
  v8::Local<v8::Promise> promise;
  if (!TenantIsolate::from(isolate)->begin_async(&call->head_wait).ToLocal(&promise)) return;
  if (call->head_ready || !call->error.empty()) {
    settle_head(TenantIsolate::from(isolate)->engine(),
                uint64_t(info[0].As<v8::Number>()->Value()));
  }
  info.GetReturnValue().Set(promise);
}

void on_fetch_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_call(info, &scope);
  if (call == nullptr) return;
  v8::Local<v8::Value> piece;
  if (!take_piece(isolate, call).ToLocal(&piece)) return;
  // Its body read to the end: its slot goes to a call that waits.
  if (!piece->IsUndefined() && call->exchange->drained()) {
    TenantIsolate::from(isolate)->engine().start_fetches_later(scope->id);
  }
  piece_or_wait(info, piece, &call->read_wait);
}

void on_fetch_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_call(info, &scope);
  if (call == nullptr) return;
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len)) {
    throw_type_error(isolate, "fetch(): a request body piece must be bytes");
    return;
  }
  if (call->exchange->finished() && !call->head_ready) {
    throw_type_error(isolate, call->error.empty() ? "fetch() failed" : call->error);
    return;
  }
  write_or_wait(info, call->exchange->write_body(data, len), &call->write_wait);
}

void on_fetch_end(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  FetchCall *call = find_call(info, &scope);
  if (call != nullptr) call->exchange->end_body();
}

void on_fetch_abort(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  FetchCall *call = find_call(info, &scope);
  if (call == nullptr) return;
  call->exchange->abort();
  call->started = true;  // an aborted call that waited never starts
  // Its connection is free for the request's next call (from the loop).
  Engine &engine = TenantIsolate::from(info.GetIsolate())->engine();
  engine.start_fetches_later(scope->id);
}

}  // namespace

void start_waiting_fetches(Engine &engine, RequestScope &scope) { start_waiting(engine, scope); }

FetchCall *find_outbound_call(const v8::FunctionCallbackInfo<v8::Value> &info,
                              RequestScope **scope, bool socket) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  FetchCall *call = nullptr;
  if (info.Length() > 0 && info[0]->IsNumber() && info[0].As<v8::Number>()->Value() >= 1) {
    call = self->engine().find_fetch(uint64_t(info[0].As<v8::Number>()->Value()), scope);
  }
  if (call == nullptr || (socket ? !call->socket : !call->exchange) ||
      (*scope)->isolate.get() != self) {
    throw_type_error(isolate, socket ? "This socket belongs to a request that has ended."
                                     : "This fetch() belongs to a request that has ended.");
    return nullptr;
  }
  return call;
}

namespace {

// A promise that *wait settles, as the native's answer.
void answer_with_promise(const v8::FunctionCallbackInfo<v8::Value> &info,
                         std::pair<uint64_t, uint64_t> *wait) {
  v8::Local<v8::Promise> promise;
  if (!TenantIsolate::from(info.GetIsolate())->begin_async(wait).ToLocal(&promise)) return;
  info.GetReturnValue().Set(promise);
}

}  // namespace

void write_or_wait(const v8::FunctionCallbackInfo<v8::Value> &info, bool wrote,
                   std::pair<uint64_t, uint64_t> *wait) {
  if (!wrote) answer_with_promise(info, wait);
}

void piece_or_wait(const v8::FunctionCallbackInfo<v8::Value> &info, v8::Local<v8::Value> piece,
                   std::pair<uint64_t, uint64_t> *wait) {
  if (piece->IsUndefined()) {
    answer_with_promise(info, wait);
  } else {
    info.GetReturnValue().Set(piece);
  }
}

bool subrequest_allowed(v8::Isolate *isolate, const RequestScope &scope) {
  if (scope.subrequests < scope.subrequest_limit) return true;
  isolate->ThrowException(v8::Exception::Error(v8_str(isolate,
      "Too many subrequests: this request has made " + std::to_string(scope.subrequests) +
      ", the most dispatch_subrequest_limit (" + std::to_string(scope.subrequest_limit) +
      ") allows")));
  return false;
}

void install_fetch_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  struct Entry {
    const char *name;
    v8::FunctionCallback fn;
  } entries[] = {{"fetchStart", on_fetch_start}, {"fetchHead", on_fetch_head},
                 {"fetchRead", on_fetch_read},   {"fetchWrite", on_fetch_write},
                 {"fetchEnd", on_fetch_end},     {"fetchAbort", on_fetch_abort}};
  for (const Entry &e : entries) {
    native->Set(context, v8_str(isolate, e.name),
                native_function(context, e.fn)).Check();
  }
}

}  // namespace dispatch

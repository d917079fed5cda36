#include "api/sockets.h"

#include "api/fetch.h"
#include "engine.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

constexpr size_t kMaxPiece = 256u << 10;   // one read hands the script at most this
constexpr size_t kMaxWrite = 64u << 10;    // one write (sockets.js cuts bigger chunks)
constexpr size_t kMaxHostname = 255;
// The most a socket's native buffers hold: what is read ahead (and the
// piece that went past the mark), what waits to be sent and one write.
constexpr size_t kSocketCharge = SocketStream::kReadHighWater + SocketStream::kReadPiece +
                                 SocketStream::kSendHighWater + kMaxWrite;

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

FetchCall *find_socket(const v8::FunctionCallbackInfo<v8::Value> &info, RequestScope **scope) {
  return find_outbound_call(info, scope, true);
}

uint64_t id_of(const v8::FunctionCallbackInfo<v8::Value> &info) {
  return uint64_t(info[0].As<v8::Number>()->Value());
}

v8::Local<v8::Value> socket_error(v8::Isolate *isolate, const std::string &why) {
  return v8::Exception::Error(v8_str(isolate, why));
}

// The script's opened promise: the remote address once it is up (again,
// after startTls), its error if it failed.
void settle_opened(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->head_wait.second == 0 || !scope->isolate) return;
  const SocketStream &s = *call->socket;
  if (!s.open() && !s.drained()) return;
  auto wait = call->head_wait;
  call->head_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *sc = nullptr;
    FetchCall *c = engine.find_fetch(id, &sc);
    if (c == nullptr || !c->socket->open()) {
      std::string why = c == nullptr ? "The socket was closed: its request ended"
                        : c->socket->failed() ? c->socket->error()
                                              : "The socket was closed before it opened";
      resolver->Reject(context, socket_error(isolate, why)).Check();
      return;
    }
    resolver->Resolve(context, v8_str(isolate, c->socket->remote_address())).Check();
  });
}

// The next piece as a Uint8Array in the script's budget, null at the end,
// undefined when nothing is there yet; empty with an exception thrown when
// it broke or does not fit.
v8::MaybeLocal<v8::Value> take_piece(v8::Isolate *isolate, SocketStream &s) {
  if (s.read_queued()) {
    std::string piece = s.take(kMaxPiece);
    v8::Local<v8::ArrayBuffer> buffer;
    if (!new_array_buffer(isolate, piece.data(), piece.size()).ToLocal(&buffer)) return {};
    return v8::Uint8Array::New(buffer, 0, piece.size());
  }
  if (s.failed()) {
    isolate->ThrowException(socket_error(isolate, s.error()));
    return {};
  }
  if (s.read_ended() || s.closed()) return v8::Null(isolate).As<v8::Value>();
  return v8::Undefined(isolate).As<v8::Value>();
}

void settle_read(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->read_wait.second == 0 || !scope->isolate) return;
  const SocketStream &s = *call->socket;
  if (!s.read_queued() && !s.read_ended() && !s.drained()) return;
  auto wait = call->read_wait;
  call->read_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *sc = nullptr;
    FetchCall *c = engine.find_fetch(id, &sc);
    if (c == nullptr) {
      resolver->Reject(context, socket_error(isolate, "Network connection lost.")).Check();
      return;
    }
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> piece;
    if (!take_piece(isolate, *c->socket).ToLocal(&piece)) {
      if (try_catch.HasTerminated()) return;
      resolver->Reject(context, try_catch.Exception()).Check();
      return;
    }
    resolver->Resolve(context, frozen_list(context, &piece, 1)).Check();
  });
}

void settle_write(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call == nullptr || call->write_wait.second == 0 || !scope->isolate) return;
  auto wait = call->write_wait;
  call->write_wait = {0, 0};
  scope->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    RequestScope *sc = nullptr;
    FetchCall *c = engine.find_fetch(id, &sc);
    if (c == nullptr || c->socket->drained()) {
      resolver->Reject(context, socket_error(context->GetIsolate(),
          c == nullptr ? "Network connection lost."
          : c->socket->failed() ? c->socket->error() : "The socket is closed.")).Check();
      return;
    }
    resolver->Resolve(context, v8::Undefined(context->GetIsolate())).Check();
  });
}

// Its slot goes to a call that waits (from the loop).
void freed(Engine &engine, uint64_t id) {
  RequestScope *scope = nullptr;
  FetchCall *call = engine.find_fetch(id, &scope);
  if (call != nullptr && call->drained()) engine.start_fetches_later(scope->id);
}

// connect()'s checks are sockets.js's; these hold whatever it was made to pass.
bool valid_host(const std::string &host) {
  if (host.empty() || host.size() > kMaxHostname) return false;
  for (unsigned char c : host) {
    if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':')) {
      return false;
    }
  }
  return true;
}

void on_socket_connect(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  RequestScope *scope = self->current_request();
  if (scope == nullptr) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate,
        "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or "
        "connect()), setting a timeout, and generating random values are not allowed within "
        "global scope. To fix this error, perform this operation within a handler.")));
    return;
  }
  // Its outbound worker sees every fetch(); a socket would go around it.
  if (!scope->outbound_script.empty()) {
    throw_type_error(isolate, "connect(): this request's connections go to its outbound worker, "
                              "which takes fetch() only");
    return;
  }
  if (info.Length() < 3 || !info[0]->IsString() || !info[1]->IsInt32()) {
    throw_type_error(isolate, "connect(): bad arguments");
    return;
  }
  std::string host = to_std_string(isolate, info[0]);
  int port = info[1].As<v8::Int32>()->Value();
  if (!valid_host(host) || port < 1 || port > 65535) {
    throw_type_error(isolate, "connect(): the address cannot be connected to");
    return;
  }
  if (!subrequest_allowed(isolate, *scope)) return;
  if (!self->budget().charge_collecting(kSocketCharge)) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate,
        "connect(): a socket's buffers (" + std::to_string(kSocketCharge >> 10) +
        " KiB) do not fit in what is left of dispatch_memory_limit")));
    return;
  }
  scope->subrequests++;
  uint64_t id = engine.next_fetch_id();
  auto call = std::make_unique<FetchCall>();
  call->budget = &self->budget();
  call->charged = kSocketCharge;
  call->owner = scope->id;
  SocketStream::Events events;
  events.opened = [&engine, id] {
    settle_opened(engine, id);
    freed(engine, id);
  };
  events.readable = [&engine, id] {
    settle_read(engine, id);
    freed(engine, id);
  };
  events.writable = [&engine, id] { settle_write(engine, id); };
  call->socket = std::make_unique<SocketStream>(
      engine.outbound(), engine.egress(), engine.fetch_limits(), host, port, info[2]->IsTrue(),
      std::move(events), scope->fetch_for.empty() ? scope->ns + "/" + scope->script
                                                  : scope->fetch_for);
  engine.add_fetch(*scope, id, std::move(call));
  start_waiting_fetches(engine, *scope);
  info.GetReturnValue().Set(v8::Number::New(isolate, double(id)));
}

void on_socket_opened(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call == nullptr) return;
  v8::Local<v8::Promise> promise;
  TenantIsolate *self = TenantIsolate::from(info.GetIsolate());
  if (call->head_wait.second != 0) {
    throw_type_error(info.GetIsolate(), "connect(): the socket is waited on already");
    return;
  }
  if (!self->begin_async(&call->head_wait).ToLocal(&promise)) return;
  settle_opened(self->engine(), id_of(info));
  info.GetReturnValue().Set(promise);
}

void on_socket_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call == nullptr) return;
  if (call->read_wait.second != 0) {
    throw_type_error(isolate, "connect(): the socket is read already");
    return;
  }
  v8::Local<v8::Value> piece;
  if (!take_piece(isolate, *call->socket).ToLocal(&piece)) return;
  piece_or_wait(info, piece, &call->read_wait);
}

void on_socket_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call == nullptr) return;
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len) || len > kMaxWrite) {
    throw_type_error(isolate, "connect(): a write must be bytes");
    return;
  }
  SocketStream &s = *call->socket;
  if (s.drained()) {
    isolate->ThrowException(socket_error(isolate, s.failed() ? s.error()
                                                             : "The socket is closed."));
    return;
  }
  if (call->write_wait.second != 0) {
    throw_type_error(isolate, "connect(): the socket is written to already");
    return;
  }
  write_or_wait(info, s.write(data, len), &call->write_wait);
}

void on_socket_end(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call != nullptr) call->socket->end();
}

void on_socket_start_tls(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call == nullptr) return;
  std::string sni = info.Length() > 1 && info[1]->IsString() ? to_std_string(isolate, info[1]) : "";
  if (sni.size() > 2 && sni.front() == '[') sni = sni.substr(1, sni.size() - 2);
  if (!valid_host(sni)) {
    throw_type_error(isolate, "startTls(): the expected server host name is not valid");
    return;
  }
  std::string why;
  if (!call->socket->start_tls(sni, &why)) throw_type_error(isolate, why);
}

void on_socket_close(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = nullptr;
  FetchCall *call = find_socket(info, &scope);
  if (call == nullptr) return;
  call->socket->close();
  call->started = true;  // a socket that waited for a slot never starts
  // Its buffers are gone with it: their charge too, not at the request's
  // end (a long request that opens and closes sockets one after another).
  if (call->budget != nullptr) call->budget->refund(call->charged);
  call->charged = 0;
  Engine &engine = TenantIsolate::from(info.GetIsolate())->engine();
  uint64_t id = id_of(info);
  // Whatever waits on it hears now (from the loop).
  settle_opened(engine, id);
  settle_read(engine, id);
  settle_write(engine, id);
  engine.start_fetches_later(scope->id);
}

}  // namespace

void install_socket_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  set_function(context, native, "socketConnect", on_socket_connect);
  set_function(context, native, "socketOpened", on_socket_opened);
  set_function(context, native, "socketRead", on_socket_read);
  set_function(context, native, "socketWrite", on_socket_write);
  set_function(context, native, "socketEnd", on_socket_end);
  set_function(context, native, "socketStartTls", on_socket_start_tls);
  set_function(context, native, "socketClose", on_socket_close);
}

}  // namespace dispatch

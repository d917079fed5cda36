#include "api/dispatch.h"

#include <algorithm>
#include <cstring>

#include <jansson.h>

#include "api/websocket.h"
#include "body_streams.h"
#include "engine.h"
#include "memory_budget.h"
#include "request_scope.h"
#include "tenant_isolate.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// The target's response body pulled ahead of the caller's reads, and the
// most one pull of the target hands over.
constexpr size_t kAhead = 64u << 10;
constexpr size_t kPiece = 64u << 10;

void throw_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::Error(v8_str(isolate, msg)));
}

void throw_type_error(v8::Isolate *isolate, const std::string &msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8_str(isolate, msg)));
}

std::string not_found(const std::string &ns, const std::string &script) {
  return "Worker not found: there is no script \"" + script + "\" in namespace \"" + ns + "\"";
}

// The call with this id, of a request on this isolate; else a TypeError.
DispatchCall *find_call(const v8::FunctionCallbackInfo<v8::Value> &info, RequestScope **scope,
                        uint64_t *id) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  DispatchCall *call = nullptr;
  if (info.Length() > 0 && info[0]->IsNumber() && info[0].As<v8::Number>()->Value() >= 1) {
    *id = uint64_t(info[0].As<v8::Number>()->Value());
    call = self->engine().find_dispatch(*id, scope);
  }
  if (call == nullptr || (*scope)->isolate.get() != self) {
    throw_type_error(isolate, "This dispatch belongs to a request that has ended.");
    return nullptr;
  }
  return call;
}

// The binding number fetch() gives when the request it runs for has an
// outbound worker: the call goes to that script.
constexpr int32_t kOutboundBinding = -1;

// The target of binding `index` of this isolate (or, for kOutboundBinding,
// the current request's outbound worker), and the script name the call
// gives; false (an Error thrown) when there is no such script. *binding is
// the binding (null for the outbound worker).
bool resolve_target(v8::Isolate *isolate, const v8::FunctionCallbackInfo<v8::Value> &info,
                    std::string *ns, std::string *script,
                    const TenantIsolate::DispatchTarget **binding = nullptr) {
  TenantIsolate *self = TenantIsolate::from(isolate);
  const TenantIsolate::DispatchTarget *target = nullptr;
  if (binding != nullptr) *binding = nullptr;
  if (info.Length() > 1 && info[0]->IsInt32() &&
      info[0].As<v8::Int32>()->Value() == kOutboundBinding) {
    RequestScope *scope = self->current_request();
    if (scope == nullptr || scope->outbound_script.empty()) {
      throw_type_error(isolate, "Illegal invocation");
      return false;
    }
    *ns = scope->outbound_ns;
    *script = scope->outbound_script;
    return true;
  }
  if (info.Length() > 1 && info[0]->IsUint32()) {
    target = self->dispatch_target(info[0].As<v8::Uint32>()->Value());
  }
  if (target == nullptr) {
    throw_type_error(isolate, "Illegal invocation");
    return false;
  }
  if (binding != nullptr) *binding = target;
  *ns = target->ns;
  *script = target->script.empty() ? (info[1]->IsString() ? to_std_string(isolate, info[1]) : "")
                                   : target->script;
  if (!dispatch_name_valid(script->data(), script->size())) {
    throw_error(isolate, "Worker not found: \"" + script->substr(0, 80) +
                         "\" is not a valid script name");
    return false;
  }
  return true;
}

// The values of options.outbound (JSON) that the binding's params name, as
// the JSON of the outbound worker's further env values ("" for none).
std::string outbound_args(const std::string &given, const std::vector<std::string> &params) {
  if (given.empty() || params.empty()) return "";
  json_t *all = json_loads(given.c_str(), 0, nullptr);
  if (all == nullptr || !json_is_object(all)) {
    json_decref(all);
    return "";
  }
  json_t *picked = json_object();
  for (const std::string &p : params) {
    json_t *v = json_object_get(all, p.c_str());
    if (v != nullptr) json_object_set(picked, p.c_str(), v);
  }
  std::string out;
  if (json_object_size(picked) != 0) {
    char *dumped = json_dumps(picked, JSON_COMPACT);
    if (dumped != nullptr) out = dumped;
    free(dumped);
  }
  json_decref(picked);
  json_decref(all);
  return out;
}

// native.dispatchOutbound() -> whether the current request's fetch() calls
// go to an outbound worker.
void on_dispatch_outbound(const v8::FunctionCallbackInfo<v8::Value> &info) {
  RequestScope *scope = TenantIsolate::from(info.GetIsolate())->current_request();
  info.GetReturnValue().Set(scope != nullptr && !scope->outbound_script.empty());
}

// native.dispatchCheck(binding, name): throws when the engine knows at once
// that there is no such script (or that its namespace is cordoned off:
// dispatch_namespaces).
void on_dispatch_check(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  std::string ns, script;
  if (!resolve_target(isolate, info, &ns, &script)) return;
  Engine &engine = TenantIsolate::from(isolate)->engine();
  if (!engine.serves(ns) || engine.known_missing(ns, script)) {
    throw_error(isolate, not_found(ns, script));
  }
}

bool clean(const std::string &s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// About how many values a JSON text holds (each object or array, and each
// element or member after a comma): what parsing it, and freezing a cf,
// visit one by one. Commas and brackets inside strings do not count.
size_t json_values(const std::string &json) {
  size_t count = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); i++) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[' || c == ',') {
      count++;
    }
  }
  return count;
}

// native.dispatchStart(binding, name, args, cpuMs, subRequests, method,
// url, headers, body, length, outbound, cf) -> id.
void on_dispatch_start(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  Engine &engine = self->engine();
  RequestScope *scope = self->current_request();
  if (scope == nullptr) {
    throw_type_error(isolate, "fetch() can only be called while a request is being handled, "
                              "not at the top level");
    return;
  }
  if (info.Length() < 10 || !info[2]->IsString() || !info[3]->IsNumber() ||
      !info[4]->IsNumber() || !info[5]->IsString() || !info[6]->IsString() ||
      !info[7]->IsArray()) {
    throw_type_error(isolate, "fetch(): bad arguments");
    return;
  }
  std::string ns, script;
  const TenantIsolate::DispatchTarget *binding = nullptr;
  if (!resolve_target(isolate, info, &ns, &script, &binding)) return;
  std::string key = ns + "/" + script;
  // env.ASSETS names the script itself, but no worker runs for it.
  bool assets = binding != nullptr && binding->assets;
  if (!assets && (key == scope->ns + "/" + scope->script ||
                  std::find(scope->chain.begin(), scope->chain.end(), key) != scope->chain.end())) {
    throw_error(isolate, "Dispatch loop: \"" + key + "\" is already in this chain of dispatches; "
                         "a script never dispatches to itself or to a script that called it");
    return;
  }
  if (scope->chain.size() + 2 > kMaxDispatchDepth) {
    throw_error(isolate, "Too many nested dispatches: a chain of dispatches is at most " +
                         std::to_string(kMaxDispatchDepth) + " scripts deep");
    return;
  }
  // Calls through bindings count for the tree (a fetch() that an outbound
  // worker runs does not: its own fetch() calls go out, not to scripts).
  // The count lives on the tree's first request; a tree whose first
  // request is over makes no more.
  bool counted = binding != nullptr && !assets;
  RequestScope *root = !counted ? nullptr : scope->chain_root ? engine.find(scope->chain_root) : scope;
  if (counted && (root == nullptr || root->tree_dispatches >= kMaxTreeDispatches)) {
    throw_error(isolate, "Too many dispatches: a request and the scripts it reaches may dispatch " +
                         std::to_string(kMaxTreeDispatches) + " times in all");
    return;
  }
  if (scope->subrequests >= scope->subrequest_limit) {
    throw_error(isolate, "Too many subrequests: this request has made " +
                         std::to_string(scope->subrequests) + ", the most its limit (" +
                         std::to_string(scope->subrequest_limit) + ") allows");
    return;
  }
  std::string args = to_std_string(isolate, info[2]);
  std::string outbound = info.Length() > 10 && info[10]->IsString()
                             ? to_std_string(isolate, info[10]) : std::string();
  std::string cf = info.Length() > 11 && info[11]->IsString() ? to_std_string(isolate, info[11])
                                                                : std::string();
  if (cf.size() > kMaxDispatchArgs) {
    throw_type_error(isolate, "fetch(): request.cf is larger than " +
                              std::to_string(kMaxDispatchArgs >> 20) + " MiB as JSON");
    return;
  }
  if (args.size() > kMaxDispatchArgs || outbound.size() > kMaxDispatchArgs) {
    throw_type_error(isolate, "get(): args are larger than " +
                              std::to_string(kMaxDispatchArgs >> 20) + " MiB as JSON");
    return;
  }
  if (json_values(cf) > kMaxDispatchJsonValues || json_values(args) > kMaxDispatchJsonValues ||
      json_values(outbound) > kMaxDispatchJsonValues) {
    throw_type_error(isolate, "fetch(): args or request.cf hold more than " +
                              std::to_string(kMaxDispatchJsonValues) + " values as JSON");
    return;
  }
  // A call to the outbound worker hands it the values of options.outbound
  // its binding named.
  if (binding == nullptr) args = scope->outbound_args;
  double cpu_ms = info[3].As<v8::Number>()->Value();
  double subrequests = info[4].As<v8::Number>()->Value();
  if (info[6].As<v8::String>()->Length() > int(kMaxDispatchUrl)) {
    throw_type_error(isolate, "fetch(): the URL is longer than " +
                              std::to_string(kMaxDispatchUrl >> 10) + " KiB");
    return;
  }
  std::string method = to_byte_string(isolate, info[5]);
  std::string url = to_std_string(isolate, info[6]);
  HeaderList headers;
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> list = info[7].As<v8::Array>();
  for (uint32_t i = 0; i + 1 < list->Length(); i += 2) {
    v8::Local<v8::Value> name, value;
    if (!list->Get(context, i).ToLocal(&name) || !list->Get(context, i + 1).ToLocal(&value)) return;
    if (!name->IsString() || !value->IsString()) continue;
    headers.emplace_back(to_byte_string(isolate, name), to_byte_string(isolate, value));
  }
  // The built-ins checked these; nothing that could confuse the target
  // gets there, whatever they were made to pass.
  bool ok = !method.empty() && clean(method) && method.find(' ') == std::string::npos &&
            !url.empty() && clean(url);
  for (const auto &h : headers) ok = ok && !h.first.empty() && clean(h.first) && clean(h.second);
  if (!ok) {
    throw_type_error(isolate, "fetch(): the request cannot be sent");
    return;
  }

  // A request body given as a request id goes on natively only when it is
  // this request's own, unread; any other is written piece by piece.
  bool forward = false;
  if (info[8]->IsNumber()) {
    const RequestScope::RequestBody &from = scope->request_body;
    forward = info[8].As<v8::Number>()->Value() == double(scope->id) && from.more &&
              !from.forward_call && !from.read_op;
  }

  scope->subrequests++;
  if (root != nullptr) root->tree_dispatches++;
  uint64_t id = engine.next_dispatch_id();
  auto call = std::make_unique<DispatchCall>();
  call->owner = scope->id;
  call->ns = ns;
  call->script = script;
  DispatchCall *c = call.get();
  engine.add_dispatch(*scope, id, std::move(call));
  RequestScope *target = engine.make_dispatched(*scope, id, ns, script);
  c->child = target->id;
  target->assets_only = assets;
  target->head.assign(method, url, headers, scope->head.client(), scope->head.request_line());
  target->args_json = std::move(args);
  target->cf_json = std::move(cf);
  // Its fetch() calls go to the outbound worker its binding names, else to
  // its caller's (a tenant cannot get past it by calling a script of its
  // own); the outbound worker's own go out.
  if (binding != nullptr && !binding->outbound.empty()) {
    target->outbound_ns = scope->ns;
    target->outbound_script = binding->outbound;
    target->outbound_args = outbound_args(outbound, binding->outbound_params);
  } else if (binding == nullptr) {
    // The outbound worker runs this for the caller's fetch(): the caller's
    // slots and connections, not the worker's that every tenant shares.
    target->fetch_for = scope->ns + "/" + scope->script;
  } else {
    target->outbound_ns = scope->outbound_ns;
    target->outbound_script = scope->outbound_script;
    target->outbound_args = scope->outbound_args;
    // What the outbound worker calls for that fetch() counts for it too.
    target->fetch_for = scope->fetch_for;
  }
  if (cpu_ms >= 1) target->cpu_limit_ms = std::min<uint64_t>(target->cpu_limit_ms, uint64_t(cpu_ms));
  if (subrequests >= 0) {
    target->subrequest_limit = std::min<uint32_t>(target->subrequest_limit, uint32_t(subrequests));
  }
  if (info[8]->IsArrayBufferView()) {
    auto view = info[8].As<v8::ArrayBufferView>();
    target->body.resize(view->ByteLength());
    if (!target->body.empty()) view->CopyContents(&target->body[0], target->body.size());
  } else if (forward) {
    // The caller's own body, untouched: it moves on without JavaScript.
    scope->request_body.forward_call = id;
    c->forward = true;
    target->request_body.more = true;
    target->request_body.length = scope->request_body.length;
  } else if (info[8]->IsTrue() || info[8]->IsNumber()) {
    RequestScope::RequestBody &b = target->request_body;
    b.more = true;
    double n = info[9]->IsNumber() ? info[9].As<v8::Number>()->Value() : -1;
    b.length = n >= 0 && n <= 9007199254740991.0 ? int64_t(n) : -1;
  }
  // The target starts from the loop, never inside this native call.
  engine.pump_dispatch_later(id);
  // Negative: the built-ins write the body (dispatchWrite).
  bool written = target->request_body.more && !forward;
  info.GetReturnValue().Set(v8::Number::New(isolate, written ? -double(id) : double(id)));
}

// The caller's waiting promise gets what is there now (from the loop, or
// deferred there by complete_async).
void settle_head(Engine &engine, uint64_t id) {
  RequestScope *caller = nullptr;
  DispatchCall *call = engine.find_dispatch(id, &caller);
  if (call == nullptr || call->head_wait.second == 0 || !caller->isolate) return;
  if (!call->head_ready && call->error.empty()) return;
  auto wait = call->head_wait;
  call->head_wait = {0, 0};
  caller->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *s = nullptr;
    DispatchCall *c = engine.find_dispatch(id, &s);
    if (c == nullptr || !c->head_ready) {
      std::string why = c == nullptr ? "The dispatch was stopped: its request ended" : c->error;
      resolver->Reject(context, v8::Exception::Error(v8_str(isolate, why))).Check();
      return;
    }
    v8::Local<v8::Value> parts[] = {v8::Integer::New(isolate, c->status),
                                    v8_byte_str(isolate, c->status_text),
                                    frozen_header_list(context, c->headers),
                                    v8::Boolean::New(isolate, c->has_body),
                                    v8::Boolean::New(isolate, c->web_socket)};
    std::vector<std::pair<std::string, std::string>>().swap(c->headers);
    resolver->Resolve(context, frozen_list(context, parts, 5)).Check();
  });
}

// The next piece of the body as a Uint8Array in the caller's budget, null
// at its end, undefined when there is none yet; empty with an exception
// thrown when it broke or does not fit. Everything queued goes at once, up
// to kPiece: a target that answers in many small chunks costs its caller
// one read for all of them, not one each (each read is a turn charged to
// the caller: a router relaying 2,000 one-byte chunks spent 45 ms of its
// 50 ms limit on them).
v8::MaybeLocal<v8::Value> take_piece(v8::Isolate *isolate, DispatchCall *call) {
  if (call->queued) {
    std::string piece = std::move(call->pieces.front());
    call->pieces.pop_front();
    while (!call->pieces.empty() && piece.size() + call->pieces.front().size() <= kPiece) {
      piece += call->pieces.front();
      call->pieces.pop_front();
    }
    call->queued -= piece.size();
    v8::Local<v8::ArrayBuffer> buffer;
    if (!new_array_buffer(isolate, piece.data(), piece.size()).ToLocal(&buffer)) return {};
    return v8::Uint8Array::New(buffer, 0, piece.size()).As<v8::Value>();
  }
  if (!call->body_error.empty()) {
    throw_type_error(isolate, call->body_error);
    return {};
  }
  if (call->body_ended) return v8::Null(isolate).As<v8::Value>();
  return v8::Undefined(isolate).As<v8::Value>();
}

void settle_read(Engine &engine, uint64_t id, bool held = false) {
  RequestScope *caller = nullptr;
  DispatchCall *call = engine.find_dispatch(id, &caller);
  if (call == nullptr || call->read_wait.second == 0 || !caller->isolate) return;
  if (!call->queued && call->body_error.empty() && !call->body_ended) return;
  // A target that drips its body: its small pieces wait a little and go
  // together (body_streams.h), as a client's or an upstream's do.
  if (call->pacer.hold(engine.host(), call->queued, call->body_ended || !call->body_error.empty(),
                       held, [&engine, id] { settle_read(engine, id, true); })) {
    return;
  }
  auto wait = call->read_wait;
  call->read_wait = {0, 0};
  caller->isolate->complete_async(wait.first, wait.second, [&engine, id](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    v8::Isolate *isolate = context->GetIsolate();
    RequestScope *s = nullptr;
    DispatchCall *c = engine.find_dispatch(id, &s);
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
    engine.pump_dispatch_later(id);  // room for more
    resolver->Resolve(context, frozen_list(context, &piece, 1)).Check();
  });
}

void settle_write(Engine &engine, uint64_t id) {
  RequestScope *caller = nullptr;
  DispatchCall *call = engine.find_dispatch(id, &caller);
  if (call == nullptr || call->write_wait.second == 0 || !caller->isolate) return;
  RequestScope *target = call->child ? engine.find(call->child) : nullptr;
  // It wants more, or will never want any: the next write finds out which.
  if (target != nullptr && !request_body_wanted(*target) && !target->request_body.ended &&
      target->request_body.failed < 0) {
    return;
  }
  auto wait = call->write_wait;
  call->write_wait = {0, 0};
  caller->isolate->complete_async(wait.first, wait.second, [](
      v8::Local<v8::Context> context, v8::Local<v8::Promise::Resolver> resolver) {
    resolver->Resolve(context, v8::Undefined(context->GetIsolate())).Check();
  });
}

// The call is done with its target: the target's request ends (or lingers
// for its ctx.waitUntil work), from the loop.
void let_go(Engine &engine, DispatchCall &call) {
  RequestScope *target = call.child ? engine.find(call.child) : nullptr;
  call.child = 0;
  if (target == nullptr) return;
  target->dispatch_call = 0;
  engine.release(target);
}

void on_dispatch_head(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  RequestScope *scope = nullptr;
  uint64_t id = 0;
  DispatchCall *call = find_call(info, &scope, &id);
  if (call == nullptr) return;
  v8::Local<v8::Promise> promise;
  if (!TenantIsolate::from(isolate)->begin_async(&call->head_wait).ToLocal(&promise)) return;
  settle_head(TenantIsolate::from(isolate)->engine(), id);
  info.GetReturnValue().Set(promise);
}

void on_dispatch_read(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Engine &engine = TenantIsolate::from(isolate)->engine();
  RequestScope *scope = nullptr;
  uint64_t id = 0;
  DispatchCall *call = find_call(info, &scope, &id);
  if (call == nullptr) return;
  if (call->read_wait.second != 0) {
    throw_type_error(isolate, "the response body is already being read");
    return;
  }
  v8::Local<v8::Value> piece;
  if (!take_piece(isolate, call).ToLocal(&piece)) return;
  engine.pump_dispatch_later(id);  // room for more, or a read to wait for
  if (!piece->IsUndefined()) {
    info.GetReturnValue().Set(piece);
    return;
  }
  v8::Local<v8::Promise> promise;
  if (!TenantIsolate::from(isolate)->begin_async(&call->read_wait).ToLocal(&promise)) return;
  info.GetReturnValue().Set(promise);
}

void on_dispatch_write(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  Engine &engine = TenantIsolate::from(isolate)->engine();
  RequestScope *scope = nullptr;
  uint64_t id = 0;
  DispatchCall *call = find_call(info, &scope, &id);
  if (call == nullptr) return;
  const char *data = nullptr;
  size_t len = 0;
  if (info.Length() < 2 || !buffer_source_bytes(info[1], &data, &len)) {
    throw_type_error(isolate, "fetch(): a request body piece must be bytes");
    return;
  }
  RequestScope *target = call->child ? engine.find(call->child) : nullptr;
  if (target == nullptr || !target->request_body.more || target->request_body.ended ||
      target->request_body.failed >= 0) {
    throw_type_error(isolate, "The dispatched Worker no longer reads the request body.");
    return;
  }
  // Copied into the target's queue; its script takes it into its own budget.
  if (request_body_write(engine, *target, data, len, false)) return;
  v8::Local<v8::Promise> promise;
  if (!TenantIsolate::from(isolate)->begin_async(&call->write_wait).ToLocal(&promise)) return;
  info.GetReturnValue().Set(promise);
}

void on_dispatch_end(const v8::FunctionCallbackInfo<v8::Value> &info) {
  Engine &engine = TenantIsolate::from(info.GetIsolate())->engine();
  RequestScope *scope = nullptr;
  uint64_t id = 0;
  DispatchCall *call = find_call(info, &scope, &id);
  if (call == nullptr) return;
  RequestScope *target = call->child ? engine.find(call->child) : nullptr;
  if (target == nullptr) return;
  // dispatchEnd(id, true): the caller's body failed; the target's
  // request.body errors as when a client goes away.
  if (info.Length() > 1 && info[1]->IsTrue()) {
    request_body_fail(engine, *target, 0);
  } else {
    request_body_write(engine, *target, nullptr, 0, true);
  }
}

void on_dispatch_abort(const v8::FunctionCallbackInfo<v8::Value> &info) {
  Engine &engine = TenantIsolate::from(info.GetIsolate())->engine();
  RequestScope *scope = nullptr;
  uint64_t id = 0;
  DispatchCall *call = find_call(info, &scope, &id);
  if (call == nullptr) return;
  call->aborted = true;
  engine.pump_dispatch_later(id);  // lets go of the target from the loop
}

}  // namespace

// The request that started the chain hears which script of it failed
// first ($dispatch_chain_failure, the access log).
void note_chain_failure(Engine &engine, RequestScope &caller, const RequestScope &target) {
  RequestScope *root = &caller;
  for (size_t hops = 0; root->dispatch_call != 0 && hops < 64; hops++) {
    RequestScope *parent = nullptr;
    if (engine.find_dispatch(root->dispatch_call, &parent) == nullptr || parent == nullptr) break;
    root = parent;
  }
  if (root->chain_failure.empty()) {
    root->chain_failure = target.ns + "/" + target.script + " " +
                          dispatch_outcome_name(target.outcome);
  }
}

std::string dispatch_failure_message(const RequestScope &target) {
  std::string who = "Worker \"" + target.script + "\"";
  switch (target.outcome) {
    case DISPATCH_OUTCOME_NOT_FOUND:
      return not_found(target.ns, target.script);
    case DISPATCH_OUTCOME_EXCEPTION:
      return target.failure.empty() ? who + " threw an exception or returned no Response"
                                    : who + " threw an exception: " + target.failure;
    case DISPATCH_OUTCOME_EXCEEDED_CPU:
      return who + " exceeded CPU time limit (" + std::to_string(target.cpu_limit_ms) + "ms).";
    case DISPATCH_OUTCOME_EXCEEDED_MEMORY:
      return who + " exceeded memory limit.";
    case DISPATCH_OUTCOME_EXCEEDED_WALL:
      return who + " exceeded wall time limit: no Response within " +
             std::to_string(target.wall_limit_ms) + "ms.";
    case DISPATCH_OUTCOME_OVERLOADED:
      return who + " is overloaded (dispatch_script_concurrency or dispatch_worker_memory "
                   "reached).";
    case DISPATCH_OUTCOME_QUARANTINED:
      return who + " is quarantined: it kept hitting its limits.";
    case DISPATCH_OUTCOME_STORE_UNAVAILABLE:
      return who + " cannot be loaded: the script store is unavailable.";
    default:
      return who + " failed (" + std::string(dispatch_outcome_name(target.outcome)) + ").";
  }
}

void dispatch_pump(Engine &engine, uint64_t id) {
  RequestScope *caller = nullptr;
  DispatchCall *call = engine.find_dispatch(id, &caller);
  if (call == nullptr) return;
  RequestScope *target = call->child ? engine.find(call->child) : nullptr;
  if (call->aborted) {
    let_go(engine, *call);
    if (call->body_error.empty() && !call->body_ended) call->body_error = "The dispatch was aborted.";
    return;
  }
  if (!call->loaded) {
    call->loaded = true;
    // Its script is loaded and run now; its answer wakes this call again.
    if (target != nullptr) engine.begin(*target);
    target = call->child ? engine.find(call->child) : nullptr;
  }

  if (!call->head_ready && call->error.empty()) {
    if (target == nullptr) {
      call->error = "Worker \"" + call->script + "\" ended before it answered";
    } else if (target->responded()) {
      if (target->outcome == DISPATCH_OUTCOME_OK) {
        call->head_ready = true;
        call->status = target->status;
        call->status_text = target->status_text;
        call->headers.clear();
        for (const dispatch_header_t &h : target->header_views) {
          call->headers.emplace_back(std::string(h.name.data, h.name.len),
                                     std::string(h.value.data, h.value.len));
        }
        call->web_socket = target->status == 101 && websocket_answer(*target);
        call->streamed = target->response_stream.on;
        call->has_body = call->streamed || !target->response_view().empty();
        // A whole body stays the target's, held and counted there as it is
        // for a client, and is pulled as a streamed one: taken whole here,
        // 45 unread 10 MB answers of a service were 450 MB of this worker
        // that no limit counted (and 45 env.ASSETS answers of a 20 MB file
        // 900 MB, one copy each).
        call->body_ended = !call->streamed && target->response_view().empty();
      } else {
        call->error = dispatch_failure_message(*target);
        note_chain_failure(engine, *caller, *target);
      }
    }
    settle_head(engine, id);
  }

  // The target's body, pulled as the caller reads (at most kAhead ahead of
  // it): a caller that does not read slows the target's pull.
  if (call->head_ready && !call->body_ended && call->body_error.empty()) {
    if (target == nullptr) {
      call->body_error = "Network connection lost.";
    } else if (!call->streamed) {
      std::string_view body = target->response_view();
      while (call->queued < kAhead && call->pulled < body.size()) {
        size_t n = std::min(kPiece, body.size() - call->pulled);
        call->pieces.emplace_back(body.substr(call->pulled, n));
        call->pulled += n;
        call->queued += n;
      }
      call->body_ended = call->pulled == body.size();
    } else {
      while (call->queued < kAhead) {
        std::string buf(kPiece, '\0');
        long n = response_body_read(engine, *target, &buf[0], buf.size());
        if (n > 0) {
          buf.resize(size_t(n));
          call->queued += buf.size();
          call->pieces.push_back(std::move(buf));
        } else if (n == 0) {
          call->body_ended = true;
          break;
        } else if (n == DISPATCH_BODY_AGAIN) {
          break;
        } else {
          call->body_error = "The dispatched Worker's response body failed.";
          break;
        }
      }
    }
  }
  // The caller's own body, as the target takes it.
  if (call->forward && target != nullptr) request_body_forward(engine, *caller, *target);
  settle_read(engine, id);
  settle_write(engine, id);

  // Done with the target once its answer is all here; one that answered
  // with a WebSocket holds it for the caller's 101 until the caller ends.
  if (call->child && !call->web_socket &&
      (!call->error.empty() || call->body_ended || !call->body_error.empty())) {
    let_go(engine, *call);
  }
}

void install_dispatch_natives(v8::Local<v8::Context> context, v8::Local<v8::Object> native) {
  v8::Isolate *isolate = context->GetIsolate();
  struct Entry {
    const char *name;
    v8::FunctionCallback fn;
  } entries[] = {{"dispatchCheck", on_dispatch_check}, {"dispatchStart", on_dispatch_start},
                 {"dispatchHead", on_dispatch_head},   {"dispatchRead", on_dispatch_read},
                 {"dispatchWrite", on_dispatch_write}, {"dispatchEnd", on_dispatch_end},
                 {"dispatchAbort", on_dispatch_abort},
                 {"dispatchOutbound", on_dispatch_outbound}};
  for (const Entry &e : entries) {
    native->Set(context, v8_str(isolate, e.name),
                native_function(context, e.fn)).Check();
  }
}

}  // namespace dispatch

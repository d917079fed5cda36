#include "tenant_isolate.h"

#include <jansson.h>
#include <libplatform/libplatform.h>
#include <openssl/crypto.h>

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "api/compression.h"
#include "api/websocket.h"
#include "api/html_rewriter.h"
#include "api/console.h"
#include "api/crypto.h"
#include "api/encoding.h"
#include "api/dispatch.h"
#include "api/fetch.h"
#include "api/sockets.h"
#include "api/idna.h"
#include "api/cache.h"
#include "api/kv.h"
#include "api/node_compat.h"
#include "api/request_cf.h"
#include "api/timers.h"
#include "api/wasm.h"
#include "body_streams.h"
#include "builtins.h"
#include "cpu_watchdog.h"
#include "isolate_entry.h"
#include "dynamic_import.h"
#include "limit_enforcer.h"
#include "memory_budget.h"
#include "engine.h"
#include "platform.h"
#include "request_scope.h"
#include "code_cache.h"
#include "startup_snapshot.h"
#include "response_output.h"
#include "v8_util.h"

namespace dispatch {

namespace {

// A run shorter than this (wall time) is charged its wall time, saving the
// second read of the thread's CPU clock (see guarded()).
constexpr double kExactCpuAboveMs = 1.0;
// A turn starting less than this (wall time) after the last read of the
// thread's CPU clock takes that reading as its start, and at most this
// share of its budget: see guarded().
constexpr double kCpuReadReuseMs = 1.0;
constexpr double kCpuReadReuseShare = 0.05;

constexpr uint32_t kTenantSlot = 0;
// ctx.waitUntil() promises one request may keep pending.
constexpr size_t kMaxWaitUntil = 1000;
// Pending setTimeout/setInterval timers (about 0.5 KiB each).
constexpr size_t kMaxTimersPerRequest = 1000;
constexpr size_t kMaxTimersPerIsolate = 10000;
// Unhandled rejections reported after one turn; the rest are counted.
constexpr size_t kMaxUnhandledRejections = 100;
// Rounds of reporting in one turn: a listener's own unhandled rejections
// are reported in the next round, up to this many, then in the next turn.
constexpr int kRejectionReportRounds = 4;
const char kDefaultMainModule[] = "worker.js";
// The platform's modules (engine/js/cloudflare_workers.js, sockets.js);
// other cloudflare:* names are not there.
const char kPlatformModule[] = "cloudflare:workers";
const char kSocketsModule[] = "cloudflare:sockets";
// Isolates inside guarded() on this thread: a completion that arrives
// while any JavaScript runs (a dispatch's caller feeding its target a body)
// is settled from the loop, never with two isolates on the stack.
int g_running = 0;
// The event-loop thread's CPU clock, read about once a millisecond while
// turns follow each other closely.
CpuClockFloor g_cpu_clock;

using JsonPtr = std::unique_ptr<json_t, void (*)(json_t *)>;

// Resolves an import specifier against the importing module's path, the
// way Workers resolves them among the uploaded modules.
std::string resolve_path(const std::string &referrer, const std::string &specifier) {
  std::string base;
  if (specifier.compare(0, 2, "./") == 0 || specifier.compare(0, 3, "../") == 0) {
    size_t slash = referrer.rfind('/');
    if (slash != std::string::npos) base = referrer.substr(0, slash + 1);
  }
  std::vector<std::string> parts;
  std::string joined = base + specifier;
  size_t pos = 0;
  while (pos <= joined.size()) {
    size_t next = joined.find('/', pos);
    if (next == std::string::npos) next = joined.size();
    std::string part = joined.substr(pos, next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  std::string out;
  for (const auto &p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

}  // namespace

TenantIsolate::TenantIsolate(Engine &engine, std::shared_ptr<const ScriptSource> script)
    : engine_(engine), script_(std::move(script)) {}

std::shared_ptr<TenantIsolate> TenantIsolate::create(
    Engine &engine, std::shared_ptr<const ScriptSource> script, std::string *err,
    dispatch_outcome_e *outcome) {
  std::shared_ptr<TenantIsolate> self(new TenantIsolate(engine, std::move(script)));
  *outcome = DISPATCH_OUTCOME_EXCEPTION;
  if (!self->make_isolate(err) || !self->start(err, outcome)) return nullptr;
  return self;
}

std::shared_ptr<TenantIsolate> TenantIsolate::prepare(Engine &engine, std::string *err) {
  std::shared_ptr<TenantIsolate> self(new TenantIsolate(engine, nullptr));
  if (!self->make_isolate(err)) return nullptr;
  return self;
}

bool TenantIsolate::adopt(std::shared_ptr<const ScriptSource> script, std::string *err,
                          dispatch_outcome_e *outcome) {
  // Once only: from here on it is this tenant's, and goes with it.
  if (script_ != nullptr) {
    *err = "a prepared isolate serves one tenant only";
    return false;
  }
  script_ = std::move(script);
  *outcome = DISPATCH_OUTCOME_EXCEPTION;
  return start(err, outcome);
}

TenantIsolate::~TenantIsolate() {
  if (isolate_ == nullptr) return;
  if (wants_code_caches()) make_code_caches();
  // Every handle into the heap goes before the heap does.
  deferred_timer_.reset();
  deferred_.clear();
  unhandled_rejections_.clear();
  for (ExternalCharge *charge : charges_) delete charge;
  charges_.clear();
  wasm_memories_.clear();
  wasm_modules_.clear();
  native_states_.clear();
  node_modules_.clear();
  modules_.clear();
  env_.Reset();
  exports_.Reset();
  run_.Reset();
  read_body_.Reset();
  cancel_body_.Reset();
  ws_deliver_.Reset();
  api_.Reset();
  context_.Reset();
  // The platform keeps a task runner per isolate until it is told.
  v8::platform::NotifyIsolateShutdown(platform_get(), isolate_);
  // A turn may have left it entered (isolate_entry.h).
  IsolateEntry::release(isolate_);
  isolate_->Dispose();
  platform_forget(isolate_);
}

size_t TenantIsolate::memory() const { return budget_ ? budget_->memory() : 0; }

template <typename Fn>
dispatch_outcome_e TenantIsolate::guarded(double budget_ms, double *cpu_ms, Fn &&fn) {
  CpuWatchdog &watchdog = engine_.watchdog();
  // Entered once for the run and the checks after it, and left entered
  // after it (isolate_entry.h): the next turn on this isolate enters
  // nothing; the scopes the run opens inside are nested, and cheap.
  IsolateEntry isolate_scope = IsolateEntry::for_turn(isolate_);
  // The thread's CPU clock is a system call (~0.7 us of CPU here, more
  // under seccomp); the wall clock (vDSO) is not. A run that starts within
  // kCpuReadReuseMs (and kCpuReadReuseShare of its budget) of the last read
  // starts from that reading: a lower bound of the CPU clock now, behind it
  // by at most that gap, so the watchdog's deadline and a long run's charge
  // can only be stricter, by at most the gap, never laxer.
  double started_wall = clock_ms(CLOCK_MONOTONIC);
  double started = g_cpu_clock.at_most_now(
      started_wall, std::min(kCpuReadReuseMs, budget_ms * kCpuReadReuseShare));
  run_deadline_cpu_ms_ = started + budget_ms;
  unjudged_since_ms_ = started_wall;
  watchdog.arm(isolate_, started, budget_ms, budget_.get(), g_cpu_clock.read_at());
  platform_freeze_clock();
  running_ = true;
  g_running++;
  fn();
  g_running--;
  running_ = false;
  platform_thaw_clock();
  bool fired = watchdog.disarm();
  // A thread spends no more CPU than wall time: a short run is charged its
  // wall time (more than its CPU time only by what a preemption inside it
  // took, at most kExactCpuAboveMs), a longer one its CPU time, counted
  // from a start that may be early by the gap above, and capped by its wall
  // time (exact when the start was read afresh).
  double ended_wall = clock_ms(CLOCK_MONOTONIC);
  double wall = ended_wall - started_wall;
  *cpu_ms += wall < kExactCpuAboveMs
                 ? std::max(0.0, wall)
                 : std::min(wall, g_cpu_clock.read(ended_wall) - started);

  bool within_memory;
  {
    v8::HandleScope handle_scope(isolate_);
    sync_wasm_memories();
    // What the run did since the turn judged it (responses taken, their
    // getters) counts too; a startup is judged here only.
    within_memory = budget_->check_after_turn(ended_wall - unjudged_since_ms_);
  }
  // A termination requested as the run ended would land in the next
  // script: it is cancelled here, and the run counts as stopped.
  if (fired || !within_memory || isolate_->IsExecutionTerminating()) {
    isolate_->CancelTerminateExecution();
    return budget_->condemned() ? DISPATCH_OUTCOME_EXCEEDED_MEMORY
                                : DISPATCH_OUTCOME_EXCEEDED_CPU;
  }
  return DISPATCH_OUTCOME_OK;
}

template <typename Fn>
void TenantIsolate::turn(RequestScope &scope, Fn &&fn) {
  double budget = double(scope.cpu_limit_ms) - scope.cpu_ms;
  dispatch_outcome_e stopped = guarded(budget, &scope.cpu_ms, [&] {
    current_ = &scope;
    IsolateEntry isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    v8::Local<v8::Context> context = context_.Get(isolate_);
    v8::Context::Scope context_scope(context);
    // Which request JavaScript works for follows its promise chains (V8
    // carries this value into every reaction made while it is set), so a
    // request resumed in another's turn still owns what it starts.
    context->SetContinuationPreservedEmbedderData(v8::Number::New(isolate_, double(scope.id)));
    {
      v8::TryCatch try_catch(isolate_);
      fn(context, try_catch);
    }
    // A run a limit has stopped runs none of the jobs it queued: a job of
    // builtins only (a Promise.all's element resolver) never looks at the
    // stop request, and a million of them, near the memory limit, ran for
    // seconds past it until the last resort ended the worker. The isolate
    // is condemned after this turn; its queue goes with it.
    if (!run_stopped()) {
      isolate_->PerformMicrotaskCheckpoint();
      if (!unhandled_rejections_.empty()) report_unhandled_rejections(context);
    }
    // The memory is judged before any response is taken (a memory grown
    // inside Wasm measured afresh): past the limit, the request fails with
    // the isolate, not answered by a heap past it.
    if (!wasm_memories_.empty()) {
      sync_wasm_memories();
      budget_->check_after_run();
    } else {
      judge_memory();
    }
    if (!isolate_->IsExecutionTerminating() && !budget_->condemned()) take_settled(context);
  });
  current_ = nullptr;
  if (stopped != DISPATCH_OUTCOME_OK) condemn(stopped, &scope);
}

// Called by V8 as a promise is rejected with no handler, and as one is
// added to a rejected promise. It may not run JavaScript: it only keeps
// the list that the turn reports.
void TenantIsolate::on_promise_reject(v8::PromiseRejectMessage message) {
  v8::Local<v8::Promise> promise = message.GetPromise();
  v8::Isolate *isolate = promise->GetIsolate();
  TenantIsolate *self = TenantIsolate::from(isolate);
  if (self == nullptr) return;
  std::vector<UnhandledRejection> &list = self->unhandled_rejections_;
  switch (message.GetEvent()) {
    case v8::kPromiseRejectWithNoHandler:
      if (list.size() < kMaxUnhandledRejections) {
        list.push_back({v8::Global<v8::Promise>(isolate, promise),
                        v8::Global<v8::Value>(isolate, message.GetValue())});
      } else {
        self->unhandled_rejections_dropped_++;
      }
      break;
    case v8::kPromiseHandlerAddedAfterReject:
      for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->promise == promise) {
          list.erase(it);
          break;
        }
      }
      break;
    default:
      break;
  }
}

// Inside a turn, after its microtasks: each promise still unhandled goes to
// reportRejection(promise, reason), and a count of those only counted to
// reportRejection(undefined, undefined, count), under the turn's limits.
void TenantIsolate::report_unhandled_rejections(v8::Local<v8::Context> context) {
  v8::Local<v8::Value> report;
  if (!api_.Get(isolate_)->Get(context, v8_str(isolate_, "reportRejection")).ToLocal(&report) ||
      !report->IsFunction()) {
    unhandled_rejections_.clear();
    return;
  }
  auto stopped = [this] { return run_stopped(); };
  auto call = [&](v8::Local<v8::Value> promise, v8::Local<v8::Value> reason, double dropped) {
    v8::TryCatch try_catch(isolate_);
    v8::Local<v8::Value> args[] = {promise, reason, v8::Number::New(isolate_, dropped)};
    // What the listener threw was logged by the built-ins; nothing to read.
    if (report.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 3, args).IsEmpty()) return;
  };
  for (int round = 0; round < kRejectionReportRounds && !unhandled_rejections_.empty(); round++) {
    std::vector<UnhandledRejection> list;
    list.swap(unhandled_rejections_);
    for (UnhandledRejection &rejection : list) {
      if (stopped()) return;
      v8::HandleScope handle_scope(isolate_);
      v8::Local<v8::Promise> promise = rejection.promise.Get(isolate_);
      // The engine reads some promises itself (run()'s answer, a body's
      // read, ctx.waitUntil) and marks them handled, which V8 does not
      // report as a handler added.
      if (promise->HasHandler()) continue;
      call(promise, rejection.reason.Get(isolate_), 0);
    }
    if (unhandled_rejections_dropped_ > 0 && !stopped()) {
      v8::HandleScope handle_scope(isolate_);
      call(v8::Undefined(isolate_), v8::Undefined(isolate_), double(unhandled_rejections_dropped_));
    }
    unhandled_rejections_dropped_ = 0;
    if (stopped()) return;
    isolate_->PerformMicrotaskCheckpoint();
  }
}

bool TenantIsolate::run_stopped() const {
  return engine_.watchdog().fired() || budget_->condemned() || isolate_->IsExecutionTerminating();
}

bool TenantIsolate::judge_memory() {
  double now = clock_ms(CLOCK_MONOTONIC);
  bool within = budget_->check_after_turn(now - unjudged_since_ms_);
  unjudged_since_ms_ = now;
  return within;
}

void TenantIsolate::run_turn(RequestScope &scope, const TurnFn &fn) {
  if (dead_) return;
  turn(scope, fn);
}

void TenantIsolate::stop_websockets(uint16_t code, const char *reason) {
  std::vector<RequestScope *> scopes(scopes_);
  for (RequestScope *scope : scopes) {
    if (scope->ws) websocket_stop(engine_, *scope, code, reason);
  }
}

void TenantIsolate::detach(RequestScope *scope) {
  size_t i = scope->isolate_index;
  if (i >= scopes_.size() || scopes_[i] != scope) return;  // never joined
  scopes_[i] = scopes_.back();
  scopes_[i]->isolate_index = i;
  scopes_.pop_back();
}

size_t TenantIsolate::in_flight() const {
  size_t n = 0;
  for (const RequestScope *scope : scopes_) {
    if (!scope->responded()) n++;
  }
  return n;
}

size_t TenantIsolate::in_flight_for(const std::string &key) const {
  size_t n = 0;
  for (const RequestScope *scope : scopes_) {
    if (!scope->responded() && !scope->waiting_on_dispatch() && scope->fetch_for == key) n++;
  }
  return n;
}

RequestScope *TenantIsolate::request_now() {
  if (current_ == nullptr) return nullptr;  // no turn: the top level
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  if (!context.IsEmpty()) {
    v8::Local<v8::Value> data = continuation_request_id(context);
    if (data->IsNumber()) {
      RequestScope *scope = engine_.find(uint64_t(data.As<v8::Number>()->Value()));
      // A request that ended, or went to another isolate, owns nothing here.
      if (scope != nullptr && scope->isolate.get() == this) return scope;
      if (scope == nullptr) return nullptr;
    }
  }
  return current_;
}

void TenantIsolate::take_settled(v8::Local<v8::Context> context) {
  // A copy: what runs below may end a request's waitUntil work, never a
  // scope (scopes end from the loop), but the set is not ours to walk while
  // tenant getters run.
  // On the stack while they are few (nearly always one): no heap block
  // per turn.
  constexpr size_t kInlineScopes = 8;
  RequestScope *inline_scopes[kInlineScopes];
  std::vector<RequestScope *> more;
  RequestScope **scopes = inline_scopes;
  if (scopes_.size() > kInlineScopes) {
    more.assign(scopes_.begin(), scopes_.end());
    scopes = more.data();
  } else {
    std::copy(scopes_.begin(), scopes_.end(), inline_scopes);
  }
  size_t count = scopes_.size();
  for (size_t i = 0; i < count; i++) {
    RequestScope *scope = scopes[i];
    if (isolate_->IsExecutionTerminating()) return;
    if (scope->handover.ready && !scope->responded()) {
      take_response(*scope);
    } else if (!scope->result.IsEmpty()) {
      v8::Local<v8::Promise> result = scope->result.Get(isolate_);
      if (result->State() != v8::Promise::kPending) take_failure(context, *scope, result);
    }
    if (!scope->response_stream.pending.IsEmpty()) {
      take_response_chunk(*this, context, *scope);
    }
    if (!scope->wait_until.empty()) take_wait_until(context, *scope);
  }
}

// The handler's promise settled with no response handed over: it threw.
void TenantIsolate::take_failure(v8::Local<v8::Context> context, RequestScope &scope,
                                 v8::Local<v8::Promise> result) {
  scope.result.Reset();
  v8::TryCatch try_catch(isolate_);
  if (result->State() == v8::Promise::kRejected) {
    v8::Local<v8::Value> exception = result->Result();
    // The settled request's own context: it may settle in another's turn.
    log_for(&scope, DISPATCH_LOG_ERR, "uncaught exception: " +
            describe_exception(isolate_, exception,
                               v8::Exception::CreateMessage(isolate_, exception)));
    // What a script that dispatched to it sees in its Error: the message
    // only (a string, copied), never the value itself.
    if (scope.dispatch_call && !isolate_->IsExecutionTerminating()) {
      v8::Local<v8::Value> message = exception;
      if (exception->IsNativeError()) {
        v8::Local<v8::Value> m;
        if (exception.As<v8::Object>()->Get(context, v8_str(isolate_, "message")).ToLocal(&m)) {
          message = m;
        }
      }
      if (!isolate_->IsExecutionTerminating()) scope.failure = to_log_string(isolate_, message, 1024);
    }
    if (!isolate_->IsExecutionTerminating()) {
      engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
    }
    return;
  }
  engine_.log(scope, DISPATCH_LOG_ERR, "the response cannot be sent: the built-ins handed over none");
  engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
}

// What native.respond kept (response_output.h) becomes the response.
void TenantIsolate::take_response(RequestScope &scope) {
  RequestScope::Handover &h = scope.handover;
  h.ready = false;
  if (!h.error.empty()) {
    engine_.log(scope, DISPATCH_LOG_ERR, "the response cannot be sent: " + h.error);
    engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
    return;
  }
  // A 101 goes out only with a WebSocket, for a request that asked for one.
  std::string why;
  if (scope.status == 101 && !websocket_handshake(scope, &why)) {
    engine_.log(scope, DISPATCH_LOG_ERR, "the response cannot be sent: " + why);
    scope.drop_response();
    engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
    return;
  }
  if (!h.stream.IsEmpty()) {
    RequestScope::ResponseStream &rs = scope.response_stream;
    rs.on = true;
    rs.handle = std::move(h.stream);
    rs.length = h.length;
    // Only this request's own body, read by nothing yet, goes through
    // natively; another request's body is read through its stream.
    if (h.passthrough == scope.id && scope.request_body.more) {
      rs.passthrough = true;
      if (rs.length < 0) rs.length = scope.request_body.length;
    }
  }
  engine_.respond(scope, DISPATCH_OUTCOME_OK);
  websocket_handed_over(engine_, scope);  // a dispatched script's WebSocket: ours is let go of
}

void TenantIsolate::take_wait_until(v8::Local<v8::Context> context, RequestScope &scope) {
  auto &list = scope.wait_until;
  for (size_t i = 0; i < list.size();) {
    v8::Local<v8::Promise> promise = list[i].Get(isolate_);
    if (promise->State() == v8::Promise::kPending) {
      i++;
      continue;
    }
    if (promise->State() == v8::Promise::kRejected) {
      v8::TryCatch try_catch(isolate_);
      v8::Local<v8::Value> error = promise->Result();
      log_for(&scope, DISPATCH_LOG_ERR, "uncaught exception in ctx.waitUntil(): " +
              describe_exception(isolate_, error, v8::Exception::CreateMessage(isolate_, error)));
      if (isolate_->IsExecutionTerminating()) return;
    }
    list[i] = std::move(list.back());
    list.pop_back();
  }
  if (list.empty() && scope.phase == RequestScope::Phase::kLingering) {
    engine_.end_later(scope.id);
  } else if (list.empty() && scope.ws_via) {
    engine_.detach_later(scope.id);  // websocket_handed_over
  }
}

// A termination inside a microtask checkpoint drops every queued microtask
// of the isolate, so no request in flight on it can finish any more.
void TenantIsolate::condemn(dispatch_outcome_e outcome, RequestScope *culprit) {
  dead_ = true;
  death_ = outcome;
  // Named with the request whose turn was stopped, as every line about a
  // request is.
  auto say = [&](const std::string &msg) {
    if (culprit != nullptr) {
      engine_.log(*culprit, DISPATCH_LOG_WARN, msg);
    } else {
      log(DISPATCH_LOG_WARN, msg);
    }
  };
  say(std::string("stopped: ") + dispatch_outcome_name(outcome) + "; " +
      std::to_string(in_flight()) + " request(s) in flight fail with it");
  // A request an outbound worker runs for a tenant's fetch() is that
  // tenant's offence: it stopped on what the tenant chose (an upstream
  // that drips a body the tenant holds, a URL that costs the worker), and
  // the outbound worker's own penalty box would refuse every tenant's
  // fetch(). The isolate still goes: what ran in it was stopped midway.
  bool for_tenant = culprit != nullptr && !culprit->fetch_for.empty();
  std::string offender = for_tenant ? culprit->fetch_for : script_->ns + "/" + script_->name;
  std::string penalty = engine_.enforcer().offence(offender);
  if (!penalty.empty()) say(for_tenant ? "the fetch() calls of \"" + offender + "\": " + penalty : penalty);
  std::vector<RequestScope *> scopes(scopes_);
  for (RequestScope *scope : scopes) {
    switch (scope->phase) {
      case RequestScope::Phase::kLingering:
        engine_.end_later(scope->id);  // its waitUntil work cannot finish either
        break;
      case RequestScope::Phase::kResponded:
        // The host still sends its response from the scope: it ends when
        // the host releases it, with no waitUntil work left to linger for,
        // and lets go of this isolate first (from the loop: not from here).
        scope->wait_until.clear();
        engine_.detach_later(scope->id);
        // A body it still streams cannot be completed: the host reads
        // that from dispatch_response_read, and the request ends with the
        // limit that cut it ($dispatch_outcome, dispatch_status), not ok.
        if (scope->response_stream.on) {
          if (!scope->response_stream.ended) scope->outcome = outcome;
          engine_.wake(*scope);
        }
        // A WebSocket it serves: the client gets a Close (1011), no event
        // runs any more.
        if (scope->ws) {
          scope->outcome = outcome;
          websocket_stop(engine_, *scope, 1011, dispatch_outcome_name(outcome));
        }
        break;
      default:
        engine_.respond(*scope, outcome);
        break;
    }
  }
  engine_.retire(this);
}

// The last resort: the worker cannot go on. It says which script did it on
// the error log (nginx points a worker's stderr there; no nginx logging:
// this may run on the watchdog's thread) and exits with 1, so nginx's
// master starts another worker. Only plain memory reads and write(2) here.
[[noreturn]] void TenantIsolate::last_resort(v8::Isolate *isolate, const char *what) {
  char line[768];
  char key[160];
  char penalty[256] = "";
  const TenantIsolate *self = isolate ? from(isolate) : nullptr;
  // Into the node's penalty box first, so that no worker runs it again
  // before its period ends (the host's call is safe on this thread).
  if (self != nullptr && self->script_ == nullptr) self = nullptr;  // prepared: no tenant yet
  if (self != nullptr) {
    // A turn an outbound worker runs for a tenant's fetch() is the
    // tenant's (condemn() says why): the tenant goes into the box, not the
    // outbound worker every tenant's fetch() goes through. The turn's
    // scope is stuck on the thread this may not be, and is only read.
    const RequestScope *turn = self->current_;
    bool for_tenant = turn != nullptr && !turn->fetch_for.empty();
    int n = for_tenant ? snprintf(key, sizeof(key), "%s", turn->fetch_for.c_str())
                       : snprintf(key, sizeof(key), "%s/%s", self->script_->ns.c_str(),
                                  self->script_->name.c_str());
    uint64_t period = 0;
    if (n > 0 && size_t(n) < sizeof(key) &&
        LimitEnforcer::quarantine_now(self->engine_.host().raw(), key, size_t(n),
                                      self->engine_.limits().quarantine_ms, &period)) {
      snprintf(penalty, sizeof(penalty), "; %s%s%squarantined on every worker for %llus",
               for_tenant ? "the fetch() calls of \"" : "", for_tenant ? key : "",
               for_tenant ? "\" " : "", (unsigned long long) (period / 1000));
    }
  }
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  int n = snprintf(line, sizeof(line),
                   "%04d/%02d/%02d %02d:%02d:%02d [alert] %d#0: dispatch \"%s/%s\": %s; "
                   "the worker process exits (1) and nginx starts another%s\n",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, int(getpid()), self ? self->script_->ns.c_str() : "?",
                   self ? self->script_->name.c_str() : "?", what, penalty);
  if (n > 0) {
    ssize_t unused = write(STDERR_FILENO, line, size_t(std::min(n, int(sizeof(line) - 1))));
    (void) unused;
  }
  _exit(1);
}

// V8 ran out of memory in spite of the budget (memory_budget.h).
void TenantIsolate::on_out_of_memory(const char *location, bool is_heap_oom) {
  char what[256];
  snprintf(what, sizeof(what), "V8 ran out of %s memory (%s) past dispatch_memory_limit",
           is_heap_oom ? "heap" : "process", location ? location : "");
  last_resort(v8::Isolate::TryGetCurrent(), what);
}

// On the CPU watchdog's thread: JavaScript told to stop (a limit) kept
// running inside a builtin that never looks at the request.
void TenantIsolate::on_hang(v8::Isolate *isolate, double overrun_ms) {
  char what[256];
  snprintf(what, sizeof(what),
           "JavaScript kept running %.0fms after a limit stopped it, past dispatch_hang_timeout",
           overrun_ms);
  last_resort(isolate, what);
}

TenantIsolate *TenantIsolate::from(v8::Isolate *isolate) {
  return static_cast<TenantIsolate *>(isolate->GetData(kTenantSlot));
}

void TenantIsolate::log(dispatch_log_level_e level, const std::string &msg) const {
  if (RequestScope *scope = const_cast<TenantIsolate *>(this)->request_now()) {
    engine_.log(*scope, level, msg);
  } else if (script_ != nullptr) {
    engine_.log_script(script_->ns, script_->name, level, msg);
  } else {
    engine_.host().log(level, "dispatch, a prepared isolate: " + msg);
  }
}

namespace {

// As on Workers: no eval or new Function, no shared memory, and no
// callbacks that would run outside any request (WeakRef finalisers). Done
// to the snapshot's context before it is serialized, and to every context
// made without one.
void lock_down(v8::Local<v8::Context> context) {
  v8::Isolate *isolate = context->GetIsolate();
  context->AllowCodeGenerationFromStrings(false);
  v8::Local<v8::Object> global = context->Global();
  for (const char *name : {"SharedArrayBuffer", "WeakRef", "FinalizationRegistry"}) {
    global->Delete(context, v8_str(isolate, name)).Check();
  }
  v8::Local<v8::Value> atomics;
  if (global->Get(context, v8_str(isolate, "Atomics")).ToLocal(&atomics) &&
      atomics->IsObject()) {
    for (const char *name : {"wait", "waitAsync"}) {
      atomics.As<v8::Object>()->Delete(context, v8_str(isolate, name)).Check();
    }
  }
}

}  // namespace

bool TenantIsolate::make_startup_snapshot(size_t memory_limit, std::string *err) {
  return snapshot_make([memory_limit](v8::Local<v8::Context> context, std::string *why) {
    lock_down(context);
    v8::Local<v8::Object> api;
    if (!make_api(context, memory_limit, why).ToLocal(&api)) return v8::MaybeLocal<v8::Object>();
    // A request of the engine's own through the built-ins, so that the
    // functions it compiles are in the blob (dispatch.js, warmUp). It
    // fails only if the built-ins are broken: then there is no snapshot.
    v8::Isolate *isolate = context->GetIsolate();
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> warm_up;
    v8::Local<v8::Value> done;
    if (!api->Get(context, v8_str(isolate, "warmUp")).ToLocal(&warm_up) ||
        !warm_up->IsFunction() ||
        !warm_up.As<v8::Function>()->Call(context, v8::Undefined(isolate), 0, nullptr)
             .ToLocal(&done) ||
        !done->IsPromise()) {
      *why = "the warm-up request failed to start";
      return v8::MaybeLocal<v8::Object>();
    }
    isolate->PerformMicrotaskCheckpoint();
    if (done.As<v8::Promise>()->State() != v8::Promise::kFulfilled) {
      *why = "the warm-up request failed: " +
             (done.As<v8::Promise>()->State() == v8::Promise::kRejected
                  ? describe_exception(isolate, done.As<v8::Promise>()->Result(), {})
                  : std::string("it never settled"));
      return v8::MaybeLocal<v8::Object>();
    }
    return v8::MaybeLocal<v8::Object>(api);
  }, err);
}

bool TenantIsolate::make_isolate(std::string *err) {
  const EngineLimits &limits = engine_.limits();
  budget_ = std::make_unique<MemoryBudget>(limits.memory_limit);
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = budget_.get();
  MemoryBudget::configure(limits.memory_limit, &params.constraints);
  // The process's startup snapshot, when it has one: a context with the
  // built-ins already evaluated (startup_snapshot.h).
  v8::StartupData *blob = snapshot_blob();
  if (blob != nullptr) {
    params.snapshot_blob = blob;
    params.external_references = snapshot_references();
  }
  isolate_ = v8::Isolate::New(params);
  if (isolate_ == nullptr) {
    *err = "cannot create an isolate";
    return false;
  }
  // What the snapshot cannot hold is per isolate and set here, after it is
  // deserialized: the isolate's own slot, budget and callbacks.
  budget_->attach(isolate_);
  budget_->set_before_check(
      [](void *data) {
        auto *self = static_cast<TenantIsolate *>(data);
        if (self->wasm_memories_.empty()) return false;
        v8::HandleScope handle_scope(self->isolate_);
        return self->sync_wasm_memories();
      },
      this);
  isolate_->SetOOMErrorHandler(on_out_of_memory);
  isolate_->SetData(kTenantSlot, this);
  // Microtasks run when the engine says, so it can account and stop them.
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  // WebAssembly is compiled by the engine only, from uploaded modules:
  // WebAssembly.compile(bytes) and new WebAssembly.Module(bytes) are refused.
  isolate_->SetAllowWasmCodeGenerationCallback(wasm_codegen_allowed);
  // import() of the script's own modules.
  isolate_->SetHostImportModuleDynamicallyCallback(import_dynamically);
  isolate_->SetPromiseRejectCallback(on_promise_reject);

  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  // From the snapshot, this is its context, locked down and with the
  // built-ins; without, a bare one.
  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  context_.Reset(isolate_, context);
  v8::Context::Scope context_scope(context);
  // Again on a context from the snapshot: V8 adds some globals (Atomics,
  // WebAssembly, ...) only as it deserializes one.
  lock_down(context);
  from_snapshot_ = blob != nullptr;
  return install_builtins(context, err);
}

bool TenantIsolate::start(std::string *err, dispatch_outcome_e *outcome) {
  const EngineLimits &limits = engine_.limits();
  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = context_.Get(isolate_);
  v8::Context::Scope context_scope(context);
  env_.Reset(isolate_, v8::Object::New(isolate_));

  // metadata: parsed once, for the main module's path, the script's own
  // limits and its bindings.
  JsonPtr metadata(nullptr, json_decref);
  if (!script_->metadata.empty()) {
    json_error_t error;
    metadata.reset(json_loadb(script_->metadata.data(), script_->metadata.size(), 0, &error));
    if (!metadata || !json_is_object(metadata.get())) {
      *err = std::string("metadata is not a JSON object: ") + error.text;
      return false;
    }
  }
  const char *main = json_string_value(json_object_get(metadata.get(), "main_module"));
  main_path_ = main && *main ? main : kDefaultMainModule;
  json_t *limit = json_object_get(json_object_get(metadata.get(), "limits"), "cpu_ms");
  if (json_is_number(limit) && json_number_value(limit) >= 1) {
    cpu_limit_ms_ = uint64_t(json_number_value(limit));
  }
  json_t *subrequests = json_object_get(json_object_get(metadata.get(), "limits"), "subrequests");
  if (json_is_number(subrequests) && json_number_value(subrequests) >= 0) {
    subrequest_limit_ = uint32_t(std::min(json_number_value(subrequests), 1e9));
  }

  node_compat_ = node_compat_flags(metadata.get());
  if (!install_bindings(context, json_object_get(metadata.get(), "bindings"), err) ||
      !start_node_compat(context, json_object_get(metadata.get(), "bindings"), err)) {
    return false;
  }

  bool started = false;
  double cpu_ms = 0;
  // Code from strings (Elysia's compile(), ajv and TypeBox compile theirs at
  // the top level) runs under the same startup limits as the rest of it;
  // lock_down's refusal is back before any request runs.
  bool eval_at_startup = eval_during_startup(metadata.get());
  if (eval_at_startup) context->AllowCodeGenerationFromStrings(true);
  dispatch_outcome_e stopped = guarded(double(limits.startup_cpu_ms), &cpu_ms, [&] {
    started = script_->format == "service-worker" ? evaluate_service_worker(context, err)
                                                  : evaluate_main_module(context, err);
  });
  if (eval_at_startup) context->AllowCodeGenerationFromStrings(false);
  if (stopped != DISPATCH_OUTCOME_OK) {
    *outcome = stopped;
    *err = stopped == DISPATCH_OUTCOME_EXCEEDED_MEMORY
               ? "the top level ran past dispatch_memory_limit"
               : "the top level ran past dispatch_startup_cpu_limit";
    return false;
  }
  if (started && modules_from_cache_ > 0) {
    log(DISPATCH_LOG_INFO, "started with " + std::to_string(modules_from_cache_) +
                           " module(s) from the code cache");
  }
  if (!started) caches_wanted_.clear();
  return started;
}

// After a successful start: what its top level (and its first requests)
// compiled goes into the code cache, for the next isolate of the same source.
void TenantIsolate::make_code_caches() {
  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  CodeCache &cache = code_cache();
  for (const auto &wanted : caches_wanted_) {
    auto it = modules_.find(wanted.first);
    if (it == modules_.end() || cache.has(wanted.second)) continue;
    v8::Local<v8::Module> module = it->second.Get(isolate_);
    if (!module->IsSourceTextModule()) continue;
    std::unique_ptr<v8::ScriptCompiler::CachedData> data(
        v8::ScriptCompiler::CreateCodeCache(module->GetUnboundModuleScript()));
    if (data && data->length > 0) cache.store(wanted.second, data->data, size_t(data->length));
  }
  // Modules import() compiles after this are not cached.
  caches_wanted_.clear();
  caches_wanted_.shrink_to_fit();
}

namespace {

// V8's code cache of the built-ins, made by the first isolate of the
// process once they ran (so it holds the functions start-up compiled):
// every later isolate deserializes them instead of parsing and compiling
// the whole source again. Only this process's own V8 reads it.
std::vector<uint8_t> g_builtins_code_cache;
bool g_builtins_code_cache_made = false;

// The built-ins' source as an external string over the embedded bytes: one
// copy in the process, none in any isolate's heap. Made from UTF-8 instead,
// every isolate decoded it afresh (a third of a cold start's instructions)
// and held it as a two-byte string (about 800 KB each, counted against
// dispatch_worker_memory). embed_js.cmake keeps the source ASCII, which is
// what a one-byte string must hold; the check here is the belt to that.
class BuiltinsSourceResource final : public v8::String::ExternalOneByteStringResource {
 public:
  const char *data() const override { return kBuiltinsSource; }
  size_t length() const override { return kBuiltinsSourceLength; }
  // static storage: nothing to free when an isolate lets go of it
  void Dispose() override {}
};

bool builtins_source_ascii() {
  static const bool ascii = [] {
    for (size_t i = 0; i < kBuiltinsSourceLength; i++) {
      if (static_cast<unsigned char>(kBuiltinsSource[i]) > 0x7f) return false;
    }
    return true;
  }();
  return ascii;
}

v8::Local<v8::String> builtins_source(v8::Isolate *isolate) {
  static BuiltinsSourceResource resource;
  // In the startup snapshot it stays external: the blob names the resource.
  snapshot_reference(reinterpret_cast<intptr_t>(&resource));
  v8::Local<v8::String> source;
  if (builtins_source_ascii() &&
      v8::String::NewExternalOneByte(isolate, &resource).ToLocal(&source)) {
    return source;
  }
  return v8_str(isolate, kBuiltinsSource, kBuiltinsSourceLength);
}

v8::MaybeLocal<v8::Script> compile_builtins(v8::Isolate *isolate, v8::Local<v8::Context> context,
                                            const v8::ScriptOrigin &origin) {
  v8::ScriptCompiler::CachedData *cached = nullptr;
  if (!g_builtins_code_cache.empty()) {
    cached = new v8::ScriptCompiler::CachedData(g_builtins_code_cache.data(),
                                                int(g_builtins_code_cache.size()));
  }
  // Source owns cached (and deletes it), never the bytes it points at.
  v8::ScriptCompiler::Source source(builtins_source(isolate), origin, cached);
  v8::MaybeLocal<v8::Script> script = v8::ScriptCompiler::Compile(
      context, &source,
      cached ? v8::ScriptCompiler::kConsumeCodeCache : v8::ScriptCompiler::kNoCompileOptions);
  if (cached != nullptr && source.GetCachedData()->rejected) g_builtins_code_cache.clear();
  return script;
}

void make_builtins_code_cache(v8::Local<v8::Script> script) {
  if (g_builtins_code_cache_made) return;
  g_builtins_code_cache_made = true;
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(
      v8::ScriptCompiler::CreateCodeCache(script->GetUnboundScript()));
  if (data && data->length > 0) {
    g_builtins_code_cache.assign(data->data, data->data + data->length);
  }
}

}  // namespace

// native.isProxy(value): what no script can tell, and the guards must.
void TenantIsolate::on_is_proxy(const v8::FunctionCallbackInfo<v8::Value> &info) {
  info.GetReturnValue().Set(info.Length() > 0 && info[0]->IsProxy());
}

// Error.isError: whether the value has [[ErrorData]] (made by an Error
// constructor, subclasses and DOMException included), which no property a
// tenant can set or replace decides; a Proxy of an error has none.
void TenantIsolate::on_is_error(const v8::FunctionCallbackInfo<v8::Value> &info) {
  info.GetReturnValue().Set(info.Length() > 0 && info[0]->IsNativeError());
}

// The natives, then the built-ins' factory called with them: what it
// returns is the api object (run, readBody, ...).
v8::MaybeLocal<v8::Object> TenantIsolate::make_api(v8::Local<v8::Context> context,
                                                   size_t memory_limit, std::string *err) {
  v8::Isolate *isolate = context->GetIsolate();
  v8::TryCatch try_catch(isolate);
  v8::ScriptOrigin origin(isolate, v8_str(isolate, "dispatch:builtins"));
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> factory;
  v8::Local<v8::Value> api;

  v8::Local<v8::Object> native = v8::Object::New(isolate);
  install_console_natives(context, native);
  install_encoding_natives(context, native);
  install_idna_natives(context, native);
  install_crypto_natives(context, native);
  install_timer_natives(context, native);
  install_kv_natives(context, native);
  install_cache_natives(context, native);
  install_body_natives(context, native);
  install_fetch_natives(context, native);
  install_socket_natives(context, native);
  install_dispatch_natives(context, native);
  install_compression_natives(context, native);
  install_html_rewriter_natives(context, native);
  install_native_state_natives(context, native);
  install_wasm_natives(context, native);
  install_node_natives(context, native);
  install_websocket_natives(context, native);
  native->Set(context, v8_str(isolate, "memoryLimit"),
              v8::Number::New(isolate, double(memory_limit))).Check();
  set_function(context, native, "chargeExternal", on_charge_external);
  set_function(context, native, "isProxy", on_is_proxy);
  set_function(context, native, "isError", on_is_error);
  set_function(context, native, "cpuLeftMs", on_cpu_left);
  set_function(context, native, "largestBuffer", on_largest_buffer);
  set_function(context, native, "waitUntil", on_wait_until);
  set_function(context, native, "waitUntilNow", on_wait_until_now);
  v8::Local<v8::Value> args[] = {native};

  if (!compile_builtins(isolate, context, origin).ToLocal(&script) ||
      !script->Run(context).ToLocal(&factory) || !factory->IsFunction() ||
      !factory.As<v8::Function>()->Call(context, v8::Undefined(isolate), 1, args)
           .ToLocal(&api) ||
      !api->IsObject()) {
    *err = "the built-ins failed to start: " +
           (try_catch.HasCaught()
                ? describe_exception(isolate, try_catch.Exception(), try_catch.Message())
                : std::string("no api object"));
    return {};
  }
  make_builtins_code_cache(script);
  return api.As<v8::Object>();
}

bool TenantIsolate::install_builtins(v8::Local<v8::Context> context, std::string *err) {
  v8::Local<v8::Object> api;
  if (from_snapshot_) {
    // Then what the built-ins capture and guard of what V8 added as it
    // deserialized the context (prelude.js, lateStart).
    v8::TryCatch try_catch(isolate_);
    v8::Local<v8::Value> late_start;
    if (!context->GetDataFromSnapshotOnce<v8::Object>(kSnapshotApiIndex).ToLocal(&api) ||
        !api->Get(context, v8_str(isolate_, "lateStart")).ToLocal(&late_start) ||
        !late_start->IsFunction() ||
        late_start.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 0, nullptr)
            .IsEmpty()) {
      *err = "the built-ins failed to start from the startup snapshot: " +
             (try_catch.HasCaught()
                  ? describe_exception(isolate_, try_catch.Exception(), try_catch.Message())
                  : std::string("no api object"));
      return false;
    }
  } else if (!make_api(context, engine_.limits().memory_limit, err).ToLocal(&api)) {
    return false;
  }
  v8::Local<v8::Value> run;
  if (!api->Get(context, v8_str(isolate_, "run")).ToLocal(&run) || !run->IsFunction()) {
    *err = "the built-ins failed to start: no run()";
    return false;
  }
  api_.Reset(isolate_, api);
  run_.Reset(isolate_, run.As<v8::Function>());
  v8::Local<v8::Value> read_body;
  v8::Local<v8::Value> cancel_body;
  if (!api->Get(context, v8_str(isolate_, "readBody")).ToLocal(&read_body) ||
      !read_body->IsFunction() ||
      !api->Get(context, v8_str(isolate_, "cancelBody")).ToLocal(&cancel_body) ||
      !cancel_body->IsFunction()) {
    *err = "the built-ins failed to start: no readBody()";
    return false;
  }
  read_body_.Reset(isolate_, read_body.As<v8::Function>());
  cancel_body_.Reset(isolate_, cancel_body.As<v8::Function>());
  v8::Local<v8::Value> ws_deliver;
  if (!api->Get(context, v8_str(isolate_, "wsDeliver")).ToLocal(&ws_deliver) ||
      !ws_deliver->IsFunction()) {
    *err = "the built-ins failed to start: no wsDeliver()";
    return false;
  }
  ws_deliver_.Reset(isolate_, ws_deliver.As<v8::Function>());
  return true;
}

// A classic script whose addEventListener("fetch", …) calls register the
// handler; the built-ins hand back an object shaped like a module's export.
bool TenantIsolate::evaluate_service_worker(v8::Local<v8::Context> context, std::string *err) {
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::Value> install;
  v8::Local<v8::Value> exports;
  v8::Local<v8::Script> script;
  v8::ScriptOrigin origin(isolate_, v8_str(isolate_, main_path_));
  if (!api_.Get(isolate_)->Get(context, v8_str(isolate_, "installServiceWorker"))
           .ToLocal(&install) || !install->IsFunction() ||
      !install.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 0, nullptr)
           .ToLocal(&exports) ||
      !v8::Script::Compile(context, v8_str(isolate_, script_->code), &origin)
           .ToLocal(&script) ||
      script->Run(context).IsEmpty()) {
    *err = try_catch.HasCaught()
               ? describe_exception(isolate_, try_catch.Exception(), try_catch.Message())
               : std::string("the service worker failed to start");
    return false;
  }
  isolate_->PerformMicrotaskCheckpoint();
  exports_.Reset(isolate_, exports);
  return true;
}

v8::MaybeLocal<v8::Module> TenantIsolate::compile_module(const std::string &path) {
  auto cached = modules_.find(path);
  if (cached != modules_.end()) return cached->second.Get(isolate_);

  // V8 instantiates a module graph in one call that never looks at a stop
  // request, compiling each module it reaches through this callback: a
  // script of 100,000 tiny modules imported statically ran seconds past
  // its limit until the last resort ended the worker. Once a limit stopped
  // the run, the next module fails, and the instantiation with it.
  if (run_stopped()) {
    isolate_->ThrowException(v8::Exception::Error(
        v8_str(isolate_, "module \"" + path + "\" not compiled: a limit stopped the script")));
    return {};
  }

  const std::string *source = nullptr;
  if (path == main_path_) {
    source = &script_->code;
  } else {
    auto it = script_->modules.find(path);
    if (it != script_->modules.end()) source = &it->second;
    auto wasm = script_->wasm_modules.find(path);
    if (wasm != script_->wasm_modules.end()) return compile_wasm_module(path, wasm->second);
  }
  if (source == nullptr) {
    isolate_->ThrowException(v8::Exception::Error(
        v8_str(isolate_, "No such module \"" + path + "\"")));
    return {};
  }

  v8::ScriptOrigin origin(isolate_, v8_str(isolate_, path), 0, 0, false, -1,
                          v8::Local<v8::Value>(), false, false, true /* module */);
  // From this process's code cache when a start of the same source made
  // one (code_cache.h); a cache V8 rejects is dropped and the module compiled.
  CodeCache &cache = code_cache();
  std::string cache_key;
  std::unique_ptr<v8::ScriptCompiler::CachedData> cache_data;
  if (cache.capacity() > 0) {
    cache_key = CodeCache::key(path, *source);
    cache_data = cache.find(cache_key);
  }
  bool consuming = cache_data != nullptr;
  // Source owns the CachedData struct (never the bytes it points at).
  v8::ScriptCompiler::Source compiler_source(v8_str(isolate_, *source), origin,
                                             cache_data.release());
  v8::Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate_, &compiler_source,
                                         consuming ? v8::ScriptCompiler::kConsumeCodeCache
                                                   : v8::ScriptCompiler::kNoCompileOptions)
           .ToLocal(&module)) {
    return {};
  }
  if (consuming && compiler_source.GetCachedData()->rejected) {
    cache.forget(cache_key);
    consuming = false;
  }
  if (consuming) {
    modules_from_cache_++;
  } else if (!cache_key.empty()) {
    caches_wanted_.emplace_back(path, std::move(cache_key));
  }
  modules_.emplace(path, v8::Global<v8::Module>(isolate_, module));
  module_paths_.emplace(module->GetIdentityHash(), path);
  return module;
}

v8::MaybeLocal<v8::Module> TenantIsolate::compile_wasm_module(const std::string &path,
                                                             const std::string &bytes) {
  auto refuse = [&](const std::string &why) {
    isolate_->ThrowException(v8::Exception::WasmCompileError(
        v8_str(isolate_, "WebAssembly module \"" + path + "\": " + why)));
    return v8::MaybeLocal<v8::Module>();
  };
  // Its code is charged first: what V8 makes of the bytes lives outside
  // the heap, as long as the isolate. Bytes this reader cannot read (V8 may
  // still take them) are charged as the most functions they could hold,
  // and their memory as the largest there may be.
  WasmMemoryDecl decl;
  bool read = wasm_memory_decl(bytes, &decl);
  if (!read) {
    decl = WasmMemoryDecl();
    decl.own = true;
    decl.functions = bytes.size() / 4;  // a function takes at least 4 bytes
    decl.custom_sections = bytes.size() / 3;  // and a custom section 3
    // and a table import 6, each perhaps of V8's largest
    decl.imported_table_entries = uint64_t(bytes.size() / 6) * kWasmMaxTableEntries;
  }
  size_t code_bytes = bytes.size() * kWasmCodeBytesPerWireByte +
                      size_t(std::min<uint64_t>(decl.functions, bytes.size())) * kWasmCodeBytesPerFunction;
  if (!budget_->charge_collecting(code_bytes)) {
    return refuse("its compiled code (" + std::to_string(code_bytes) +
                  " bytes) does not fit dispatch_memory_limit");
  }
  v8::Local<v8::WasmModuleObject> wasm;
  std::string why;
  size_t resident_growth = 0;
  {
    v8::TryCatch try_catch(isolate_);
    if (!wasm_compile(isolate_, bytes, &resident_growth).ToLocal(&wasm)) {
      why = try_catch.HasCaught() ? to_log_string(isolate_, try_catch.Exception(), 1000)
                                  : std::string("V8 refused to compile it");
    }
  }
  if (wasm.IsEmpty()) {
    budget_->refund(code_bytes);
    if (isolate_->IsExecutionTerminating()) return {};
    return refuse(why);
  }
  // Code that took more than it was charged (instructions Liftoff makes
  // tens of bytes of) is charged what it took. Dropped with the module
  // when it does not fit.
  if (resident_growth > code_bytes) {
    size_t more = resident_growth - code_bytes;
    if (!budget_->charge_collecting(more)) {
      budget_->refund(code_bytes);
      return refuse("its compiled code (" + std::to_string(resident_growth) +
                    " bytes, as compiled) does not fit dispatch_memory_limit");
    }
    code_bytes += more;
  }
  WasmModuleRecord record{path, v8::Global<v8::Object>(isolate_, wasm), std::move(decl)};
  // V8 compiles a module whose memory could never be made (it refuses
  // only at instantiation): refused here, where the upload hears of it.
  if (record.decl.own && (size_t(record.decl.initial) << 16) > budget_->limit()) {
    budget_->refund(code_bytes);
    return refuse("its memory of " + std::to_string(record.decl.initial) +
                  " pages (64 KiB each) is larger than dispatch_memory_limit (" +
                  std::to_string(budget_->limit()) + " bytes)");
  }
  wasm_modules_.push_back(std::move(record));

  return add_synthetic_module(path, {v8_str(isolate_, "default")}, wasm_module_steps);
}

v8::Local<v8::Module> TenantIsolate::add_synthetic_module(
    const std::string &path, const std::vector<v8::Local<v8::String>> &names,
    v8::Module::SyntheticModuleEvaluationSteps steps) {
  v8::Local<v8::Module> module =
      v8::Module::CreateSyntheticModule(isolate_, v8_str(isolate_, path), names, steps);
  modules_.emplace(path, v8::Global<v8::Module>(isolate_, module));
  module_paths_.emplace(module->GetIdentityHash(), path);
  return module;
}

namespace {

// What a synthetic module's evaluation steps return once its exports are set.
v8::MaybeLocal<v8::Value> evaluated(v8::Local<v8::Context> context) {
  v8::Local<v8::Promise::Resolver> done;
  if (!v8::Promise::Resolver::New(context).ToLocal(&done) ||
      done->Resolve(context, v8::Undefined(context->GetIsolate())).IsNothing()) {
    return {};
  }
  return done->GetPromise();
}

}  // namespace

// Evaluating the synthetic module of a .wasm: its default export is the
// WebAssembly.Module compiled for that path.
v8::MaybeLocal<v8::Value> TenantIsolate::wasm_module_steps(v8::Local<v8::Context> context,
                                                          v8::Local<v8::Module> module) {
  v8::Isolate *isolate = context->GetIsolate();
  TenantIsolate *self = from(isolate);
  const std::string *path = self->path_of(module);
  for (const WasmModuleRecord &record : self->wasm_modules_) {
    if (path == nullptr || record.path != *path) continue;
    if (module->SetSyntheticModuleExport(isolate, v8_str(isolate, "default"),
                                         record.module.Get(isolate)).IsNothing()) {
      return {};
    }
    return evaluated(context);
  }
  isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "no such WebAssembly module")));
  return {};
}

const std::string *TenantIsolate::path_of(v8::Local<v8::Module> module) const {
  auto range = module_paths_.equal_range(module->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    auto m = modules_.find(it->second);
    if (m != modules_.end() && m->second.Get(isolate_) == module) return &it->second;
  }
  return nullptr;
}

v8::MaybeLocal<v8::Module> TenantIsolate::resolve_module(
    v8::Local<v8::Context> context, v8::Local<v8::String> specifier,
    v8::Local<v8::FixedArray>, v8::Local<v8::Module> referrer) {
  TenantIsolate *self = from(context->GetIsolate());
  if (specifier->Length() > kMaxModuleSpecifier) {
    self->isolate_->ThrowException(v8::Exception::Error(v8_str(
        self->isolate_, "a module specifier is at most " + std::to_string(kMaxModuleSpecifier) +
                        " characters")));
    return {};
  }
  const std::string *known = self->path_of(referrer);
  std::string referrer_path = known ? *known : self->main_path_;
  return self->load_module(referrer_path, to_std_string(self->isolate_, specifier));
}

// Static imports and import() alike: node:buffer, or bare buffer unless the
// script uploaded a module of that name, is a Node.js built-in.
v8::MaybeLocal<v8::Module> TenantIsolate::load_module(const std::string &referrer,
                                                      const std::string &specifier) {
  if (specifier == kPlatformModule) return platform_module();
  if (specifier == kSocketsModule) {
    return builtin_module(kSocketsModule, "cloudflareSockets", v8::Undefined(isolate_));
  }
  std::string node = node_builtin_name(specifier);
  if (!node.empty() && (specifier.compare(0, 5, "node:") == 0 ||
                        script_->modules.count(specifier) == 0)) {
    return compile_node_module(node, specifier);
  }
  return compile_module(resolve_path(referrer, specifier));
}

bool TenantIsolate::instantiate(v8::Local<v8::Context> context, v8::Local<v8::Module> module) {
  return module->InstantiateModule(context, resolve_module).FromMaybe(false);
}

// A name the resolver knows: the script's own modules, and the Node.js
// built-ins (whose refusal without nodejs_compat says so).
bool TenantIsolate::has_module(const std::string &referrer, const std::string &specifier) const {
  if (specifier == kPlatformModule || specifier == kSocketsModule ||
      !node_builtin_name(specifier).empty()) {
    return true;
  }
  std::string path = resolve_path(referrer, specifier);
  return path == main_path_ || script_->modules.count(path) || script_->wasm_modules.count(path);
}

// nodejs_compat: the loader learns what process.env holds and whether
// Buffer and process are globals (lazily: nothing is compiled until used).
bool TenantIsolate::start_node_compat(v8::Local<v8::Context> context, json_t *bindings,
                                      std::string *err) {
  if (!node_compat_.enabled) return true;
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::Object> env = v8::Object::New(isolate_);
  size_t i;
  json_t *b;
  json_array_foreach(bindings, i, b) {
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *text = json_string_value(json_object_get(b, "text"));
    // As Workers fills it: the text bindings and secrets, nothing else.
    if (!node_compat_.populate_env || type == nullptr || name == nullptr || text == nullptr ||
        (strcmp(type, "plain_text") != 0 && strcmp(type, "secret_text") != 0)) {
      continue;
    }
    if (!env->CreateDataProperty(context, v8_str(isolate_, name), v8_str(isolate_, text))
             .FromMaybe(false)) {
      *err = "the nodejs_compat built-ins failed to start: process.env";
      return false;
    }
  }
  v8::Local<v8::Value> start;
  v8::Local<v8::Value> args[] = {v8::Boolean::New(isolate_, node_compat_.globals), env};
  if (!api_.Get(isolate_)->Get(context, v8_str(isolate_, "nodeCompat")).ToLocal(&start) ||
      !start->IsFunction() ||
      start.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 2, args).IsEmpty()) {
    *err = "the nodejs_compat built-ins failed to start";
    return false;
  }
  return true;
}

v8::MaybeLocal<v8::Module> TenantIsolate::compile_node_module(const std::string &name,
                                                              const std::string &specifier) {
  bool als = node_compat_.als_only && name == "async_hooks" &&
             specifier.compare(0, 5, "node:") == 0;
  if (!node_compat_.enabled && !als) {
    isolate_->ThrowException(v8::Exception::Error(v8_str(isolate_,
        "No such module \"" + specifier + "\": Node.js built-in modules need the "
        "nodejs_compat compatibility flag" +
        (name == "async_hooks" ? " (or nodejs_als, for node:async_hooks alone)" : ""))));
    return {};
  }
  return builtin_module("node:" + name, "nodeModule", v8_str(isolate_, name));
}

v8::MaybeLocal<v8::Module> TenantIsolate::platform_module() {
  return builtin_module(kPlatformModule, "cloudflareWorkers", env_.Get(isolate_));
}

v8::MaybeLocal<v8::Module> TenantIsolate::builtin_module(const std::string &key,
                                                         const char *loader,
                                                         v8::Local<v8::Value> arg) {
  auto cached = modules_.find(key);
  if (cached != modules_.end()) return cached->second.Get(isolate_);

  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::Local<v8::Value> exports;
  v8::Local<v8::Value> failure;
  {
    // What the loader threw is thrown again from here: V8 wants a resolve
    // callback's exception pending, not one that came back from a call.
    v8::TryCatch try_catch(isolate_);
    v8::Local<v8::Value> load;
    v8::Local<v8::Value> args[] = {arg};
    if (!api_.Get(isolate_)->Get(context, v8_str(isolate_, loader)).ToLocal(&load) ||
        !load->IsFunction() ||
        !load.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 1, args)
             .ToLocal(&exports)) {
      // A termination (a limit) goes on by itself, as compile_wasm_module's.
      if (!try_catch.HasCaught() || !try_catch.CanContinue() ||
          isolate_->IsExecutionTerminating()) {
        return {};
      }
      failure = try_catch.Exception();
    }
  }
  if (!failure.IsEmpty()) {
    isolate_->ThrowException(failure);
    return {};
  }
  NodeModuleRecord record;
  std::vector<v8::Local<v8::String>> names = {v8_str(isolate_, "default")};
  v8::Local<v8::Array> keys;
  if (exports->IsObject() &&
      exports.As<v8::Object>()
          ->GetOwnPropertyNames(context, v8::PropertyFilter(v8::ONLY_ENUMERABLE |
                                                            v8::SKIP_SYMBOLS),
                                v8::KeyConversionMode::kConvertToString)
          .ToLocal(&keys)) {
    for (uint32_t i = 0; i < keys->Length(); i++) {
      v8::Local<v8::Value> key_value;
      if (!keys->Get(context, i).ToLocal(&key_value) || !key_value->IsString()) continue;
      std::string export_name = to_std_string(isolate_, key_value);
      if (export_name == "default") continue;
      record.names.push_back(export_name);
      names.push_back(key_value.As<v8::String>());
    }
  }
  record.exports.Reset(isolate_, exports);
  node_modules_.emplace(key, std::move(record));
  return add_synthetic_module(key, names, node_module_steps);
}

// Evaluating node:NAME: default is what the loader built, each name its
// property of that name as it is now.
v8::MaybeLocal<v8::Value> TenantIsolate::node_module_steps(v8::Local<v8::Context> context,
                                                          v8::Local<v8::Module> module) {
  v8::Isolate *isolate = context->GetIsolate();
  TenantIsolate *self = from(isolate);
  const std::string *path = self->path_of(module);
  auto it = path ? self->node_modules_.find(*path) : self->node_modules_.end();
  if (it == self->node_modules_.end()) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate, "no such Node.js module")));
    return {};
  }
  v8::Local<v8::Value> exports = it->second.exports.Get(isolate);
  if (module->SetSyntheticModuleExport(isolate, v8_str(isolate, "default"), exports)
          .IsNothing()) {
    return {};
  }
  for (const std::string &name : it->second.names) {
    v8::Local<v8::Value> value;
    if (!exports.As<v8::Object>()->Get(context, v8_str(isolate, name)).ToLocal(&value) ||
        module->SetSyntheticModuleExport(isolate, v8_str(isolate, name), value).IsNothing()) {
      return {};
    }
  }
  return evaluated(context);
}

bool TenantIsolate::evaluate_main_module(v8::Local<v8::Context> context, std::string *err) {
  v8::TryCatch try_catch(isolate_);

  auto fail = [&](const std::string &what) {
    *err = what.empty() && try_catch.HasCaught()
               ? describe_exception(isolate_, try_catch.Exception(), try_catch.Message())
               : what;
    return false;
  };

  // Every uploaded Wasm module is compiled as the isolate starts, imported
  // or not (as on Workers): bytes V8 refuses fail the upload's validation.
  for (const auto &wasm : script_->wasm_modules) {
    if (compile_module(wasm.first).IsEmpty()) return fail("");
  }
  v8::Local<v8::Module> module;
  if (!compile_module(main_path_).ToLocal(&module)) return fail("");
  if (!module->InstantiateModule(context, resolve_module).FromMaybe(false)) return fail("");

  v8::Local<v8::Value> evaluated;
  if (!module->Evaluate(context).ToLocal(&evaluated)) return fail("");
  isolate_->PerformMicrotaskCheckpoint();
  if (module->GetStatus() == v8::Module::kErrored) {
    return fail(describe_exception(isolate_, module->GetException(),
                                   v8::Exception::CreateMessage(isolate_,
                                                                module->GetException())));
  }
  if (evaluated->IsPromise() &&
      evaluated.As<v8::Promise>()->State() == v8::Promise::kPending) {
    return fail("the top level awaits something that never settles");
  }

  v8::Local<v8::Value> exports;
  if (!module->GetModuleNamespace().As<v8::Object>()
           ->Get(context, v8_str(isolate_, "default")).ToLocal(&exports)) {
    return fail("");
  }
  exports_.Reset(isolate_, exports);
  return true;
}

void TenantIsolate::run(RequestScope &scope) {
  // Until bodies stream, the whole body is handed over at once: one that
  // cannot fit what the isolate has left is refused before the script runs.
  // An empty body fits without asking: available() measures the heap
  // (GetHeapStatistics), a cost every body-less request would pay.
  if (!scope.body.empty() && scope.body.size() > budget_->available()) {
    engine_.log(scope, DISPATCH_LOG_WARN, "the request body (" + std::to_string(scope.body.size()) +
                " bytes) does not fit the memory the script has left: 413");
    engine_.respond(scope, DISPATCH_OUTCOME_EXCEEDED_MEMORY, 413);
    return;
  }
  scope.isolate = shared_from_this();
  scope.phase = RequestScope::Phase::kRunning;
  scope.isolate_index = scopes_.size();
  scopes_.push_back(&scope);
  turn(scope, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch) {
    // The headers as one string the built-ins split when the script reads
    // them (RequestHead): no string per header, no array a setter on
    // Array.prototype could see.
    const RequestHead &head = scope.head;
    v8::Local<v8::String> headers = v8_byte_str(isolate_, head.header_block());
    v8::Local<v8::Value> body = v8::Null(isolate_);
    if (!scope.body.empty()) {
      v8::Local<v8::ArrayBuffer> ab;
      if (!new_array_buffer(isolate_, scope.body.data(), scope.body.size()).ToLocal(&ab)) {
        engine_.respond(scope, DISPATCH_OUTCOME_EXCEEDED_MEMORY, 413);
        return;
      }
      body = ab;
      // The script holds it now, in its budget: no second copy lingers.
      std::string().swap(scope.body);
    }

    // A body that arrives in pieces: request.body pulls them through
    // native.requestBodyRead; its Content-Length, when there is one.
    v8::Local<v8::Value> streamed = v8::Number::New(
        isolate_, scope.request_body.more ? double(scope.request_body.length) : -2);
    v8::Local<v8::Object> env = env_.Get(isolate_);
    if (!scope.args_json.empty() && !env_with_args(context, scope).ToLocal(&env)) {
      if (try_catch.HasTerminated()) return;
      engine_.log(scope, DISPATCH_LOG_ERR, "the dispatch's args cannot be given to the script");
      engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
      return;
    }
    v8::Local<v8::Value> cf;
    if (!request_cf_value(context, scope).ToLocal(&cf)) {
      if (try_catch.HasTerminated()) return;
      engine_.log(scope, DISPATCH_LOG_ERR, "request.cf cannot be given to the script");
      engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
      return;
    }
    v8::Local<v8::String> method = method_strings_.find(isolate_, head.method());
    if (method.IsEmpty()) method = v8_utf8_str(isolate_, head.method());
    v8::Local<v8::Value> args[] = {
        v8::Number::New(isolate_, double(scope.id)), exports_.Get(isolate_),
        env, method, v8_utf8_str(isolate_, head.url()),
        headers, body, streamed, cf};
    v8::Local<v8::Value> result;
    if (!run_.Get(isolate_)->Call(context, v8::Undefined(isolate_), 9, args).ToLocal(&result) ||
        !(result->IsPromise() || result->IsTrue())) {
      if (try_catch.HasTerminated()) return;  // a limit: turn() reports it
      log(DISPATCH_LOG_ERR, "the built-ins failed: " +
          (try_catch.HasCaught()
               ? describe_exception(isolate_, try_catch.Exception(), try_catch.Message())
               : std::string("run() returned neither true nor a promise")));
      engine_.respond(scope, DISPATCH_OUTCOME_EXCEPTION);
      return;
    }
    // true: the response is handed over already (native.respond). Either
    // is read after the turn's microtasks (take_settled).
    if (result->IsTrue()) return;
    result.As<v8::Promise>()->MarkAsHandled();
    scope.result.Reset(isolate_, result.As<v8::Promise>());
  });
}

// env for a dispatched request: the script's bindings and, as further
// values, the args its caller gave (JSON, parsed here in this isolate: no
// object crosses isolates). Made with CreateDataProperty: no setter a
// tenant put anywhere runs.
v8::MaybeLocal<v8::Object> TenantIsolate::env_with_args(v8::Local<v8::Context> context,
                                                        const RequestScope &scope) {
  v8::Local<v8::Object> base = env_.Get(isolate_);
  v8::Local<v8::Object> env = v8::Object::New(isolate_);
  auto copy = [&](v8::Local<v8::Object> from) -> bool {
    v8::Local<v8::Array> keys;
    if (!from->GetOwnPropertyNames(context).ToLocal(&keys)) return false;
    for (uint32_t i = 0; i < keys->Length(); i++) {
      v8::Local<v8::Value> key, value;
      if (!keys->Get(context, i).ToLocal(&key) || !key->IsName() ||
          !from->Get(context, key).ToLocal(&value) ||
          env->CreateDataProperty(context, key.As<v8::Name>(), value).IsNothing()) {
        return false;
      }
    }
    return true;
  };
  v8::Local<v8::Value> args;
  if (!copy(base) || !v8::JSON::Parse(context, v8_str(isolate_, scope.args_json)).ToLocal(&args)) {
    return {};
  }
  if (args->IsObject() && !args->IsArray() && !copy(args.As<v8::Object>())) return {};
  return env;
}

uint64_t TenantIsolate::set_timer(v8::Local<v8::Function> callback, uint64_t delay_ms,
                                  bool repeat, std::string *err) {
  RequestScope *scope = request_now();
  if (scope == nullptr) {
    // As on Workers: top-level code runs outside any request.
    *err = "timers can only be set while a request is being handled, not at the top level";
    return 0;
  }
  // Each pending timer holds a closure and a host timer: bounded per
  // request and per isolate, so none can be made to hold memory without end.
  if (scope->timers.size() >= kMaxTimersPerRequest) {
    *err = "at most " + std::to_string(kMaxTimersPerRequest) + " timers may be pending per request";
    return 0;
  }
  size_t pending = 0;
  for (const RequestScope *s : scopes_) pending += s->timers.size();
  if (pending >= kMaxTimersPerIsolate) {
    *err = "at most " + std::to_string(kMaxTimersPerIsolate) +
           " timers may be pending in one script's isolate";
    return 0;
  }
  uint64_t id = next_timer_id_++;
  RequestScope::PendingTimer &t = scope->timers[id];
  // Counted as it is made, judged after the turn as any memory the script
  // holds: a check of what is left on every setTimeout would measure the
  // heap each time.
  budget_->charge_anyway(RequestScope::PendingTimer::kBytes);
  t.charged = budget_.get();
  t.callback.Reset(isolate_, callback);
  t.interval_ms = repeat ? std::max<uint64_t>(delay_ms, 1) : 0;
  // The Timer lives in the scope, so the scope outlives every firing.
  t.timer = std::make_unique<Timer>(engine_.host(),
                                    [this, scope, id] { fire_timer(*scope, id); }, false);
  t.timer->start(delay_ms);
  return id;
}

void TenantIsolate::clear_timer(uint64_t id) {
  // A script may clear only its own request's timers.
  if (RequestScope *scope = request_now()) scope->timers.erase(id);
}

bool TenantIsolate::timer_pending(uint64_t id) {
  RequestScope *scope = request_now();
  return scope != nullptr && scope->timers.count(id) != 0;
}

bool TenantIsolate::admit_log_line(size_t bytes) { return admit_line(request_now(), bytes); }

// A line is written while fewer than dispatch_log_limit lines were and its
// bytes fit in what is left of the byte cap; the rest are counted (in the
// request's warning and in dispatch_status).
bool TenantIsolate::admit_line(RequestScope *scope, size_t bytes) {
  const EngineLimits &limits = engine_.limits();
  if (scope == nullptr) {
    if (++top_level_log_lines_ <= limits.log_limit &&
        top_level_log_bytes_ + bytes <= limits.log_bytes_limit) {
      top_level_log_bytes_ += bytes;
      return true;
    }
    ScriptMetrics &m = engine_.metrics().script(script_->ns, script_->name);
    m.log_lines_dropped++;
    m.log_bytes_dropped += bytes;
    return false;
  }
  if (++scope->log_lines <= limits.log_limit &&
      scope->log_bytes + bytes <= limits.log_bytes_limit) {
    scope->log_bytes += bytes;
    return true;
  }
  scope->log_suppressed++;
  scope->log_bytes_dropped += bytes;
  return false;
}

// A line the script's own doing causes (an exception it did not catch):
// under dispatch_log_limit with its console lines, so that a throwing
// interval cannot flood the log either.
void TenantIsolate::log_for(RequestScope *scope, dispatch_log_level_e level,
                            const std::string &msg) {
  if (!admit_line(scope, msg.size())) return;
  if (scope != nullptr) {
    engine_.log(*scope, level, msg);
  } else {
    log(level, msg);
  }
}

v8::MaybeLocal<v8::Promise> TenantIsolate::begin_async(uint64_t *request_id, uint64_t *op_id) {
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::Local<v8::Promise::Resolver> resolver;
  RequestScope *scope = request_now();
  if (scope == nullptr) {
    isolate_->ThrowException(v8::Exception::Error(v8_str(isolate_,
        "I/O can only be done while a request is being handled, not at the top level")));
    return {};
  }
  if (!v8::Promise::Resolver::New(context).ToLocal(&resolver)) return {};
  *request_id = scope->id;
  *op_id = next_async_id_++;
  scope->io[*op_id].Reset(isolate_, resolver);
  return resolver->GetPromise();
}

void TenantIsolate::complete_async(uint64_t request_id, uint64_t op_id, Settle settle) {
  if (running_ || g_running > 0) {
    deferred_.push_back({request_id, op_id, std::move(settle)});
    if (!deferred_timer_) {
      deferred_timer_ = std::make_unique<Timer>(engine_.host(), [this] {
        std::vector<Deferred> ready;
        ready.swap(deferred_);
        for (auto &d : ready) complete_async(d.request_id, d.op_id, std::move(d.settle));
      }, false);
    }
    if (!deferred_timer_->armed()) deferred_timer_->start(0);
    return;
  }
  RequestScope *scope = engine_.find(request_id);
  if (scope == nullptr || scope->isolate.get() != this) return;  // ended meanwhile
  auto it = scope->io.find(op_id);
  if (it == scope->io.end()) return;
  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Promise::Resolver> resolver = it->second.Get(isolate_);
  scope->io.erase(it);
  if (dead_) return;
  turn(*scope, [&](v8::Local<v8::Context> context, v8::TryCatch &) { settle(context, resolver); });
}

namespace {

bool valid_kv_id(const char *id) {
  size_t n = strlen(id);
  if (n < 1 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

// env from metadata.bindings, in Cloudflare's shapes. In the service-worker
// format the bindings are globals instead.
bool TenantIsolate::install_bindings(v8::Local<v8::Context> context, json_t *bindings,
                                     std::string *err) {
  v8::Local<v8::Object> target = script_->format == "service-worker"
                                     ? context->Global()
                                     : env_.Get(isolate_);
  if (bindings == nullptr) return true;
  if (!json_is_array(bindings)) {
    *err = "metadata.bindings is not an array";
    return false;
  }

  v8::TryCatch try_catch(isolate_);
  // The built-ins' maker of a binding's object (makeKV, makeService, …),
  // given the binding's index among the engine's own list of them.
  auto make = [&](const char *maker, size_t index, v8::Local<v8::Value> *value) {
    v8::Local<v8::Value> fn;
    v8::Local<v8::Value> args[] = {v8::Integer::NewFromUnsigned(isolate_, uint32_t(index))};
    return api_.Get(isolate_)->Get(context, v8_str(isolate_, maker)).ToLocal(&fn) &&
           fn->IsFunction() &&
           fn.As<v8::Function>()->Call(context, v8::Undefined(isolate_), 1, args).ToLocal(value);
  };
  size_t i;
  json_t *b;
  json_array_foreach(bindings, i, b) {
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *name = json_string_value(json_object_get(b, "name"));
    if (type == nullptr || name == nullptr || *name == '\0') {
      *err = "binding " + std::to_string(i) + " has no type or name";
      return false;
    }
    std::string what = std::string("binding \"") + name + "\" (" + type + ")";
    v8::Local<v8::Value> value;

    if (strcmp(type, "plain_text") == 0) {
      const char *text = json_string_value(json_object_get(b, "text"));
      if (text == nullptr) {
        *err = what + " has no text";
        return false;
      }
      value = v8_str(isolate_, text);

    } else if (strcmp(type, "secret_text") == 0) {
      // Sealed at rest (dispatch_secrets_key): opened here, into this
      // isolate only, and the copy wiped once V8 has its own.
      std::string text, why;
      if (!engine_.secret_seal().open_binding(b, &text, &why)) {
        *err = what + ": " + why;
        return false;
      }
      value = v8_str(isolate_, text);
      OPENSSL_cleanse(&text[0], text.size());

    } else if (strcmp(type, "json") == 0) {
      json_t *j = json_object_get(b, "json");
      char *dumped = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : nullptr;
      if (dumped == nullptr) {
        *err = what + " has no json";
        return false;
      }
      std::string text(dumped);
      free(dumped);
      if (!v8::JSON::Parse(context, v8_str(isolate_, text)).ToLocal(&value)) {
        *err = what + " is not valid JSON";
        return false;
      }

    } else if (strcmp(type, "kv_namespace") == 0) {
      const char *id = json_string_value(json_object_get(b, "namespace_id"));
      if (id == nullptr || !valid_kv_id(id)) {
        *err = what + " needs a namespace_id of 1-64 characters of A-Z a-z 0-9 - _";
        return false;
      }
      // The KV namespace is the script's dispatch namespace and this id:
      // the index is all the script's own code ever holds.
      // A renamed namespace keeps its KV data under the name it had.
      const std::string &kv_ns = script_->kv_namespace.empty() ? script_->ns
                                                               : script_->kv_namespace;
      kv_spaces_.push_back(kv_ns + "/" + id);
      if (!make("makeKV", kv_spaces_.size() - 1, &value)) {
        *err = what + ": the KV built-in failed";
        return false;
      }

    } else if (strcmp(type, "assets") == 0) {
      // The script's own static assets: a service binding whose requests
      // the engine answers from them, never running this worker.
      DispatchTarget t;
      t.ns = script_->ns;
      t.script = script_->name;
      t.assets = true;
      dispatch_targets_.push_back(std::move(t));
      if (!make("makeService", dispatch_targets_.size() - 1, &value)) {
        *err = what + ": the assets built-in failed";
        return false;
      }

    } else if (strcmp(type, "dispatch_namespace") == 0 || strcmp(type, "service") == 0) {
      // A router's namespace of scripts, or one script of its own
      // namespace: the object holds the index of the binding only; the
      // engine decides where a call through it goes (api/dispatch.h).
      bool service = type[0] == 's';
      const char *target = json_string_value(json_object_get(b, service ? "service" : "namespace"));
      if (target == nullptr || !dispatch_name_valid(target, strlen(target))) {
        *err = what + (service ? " needs a service" : " needs a namespace") +
               " of 1-63 characters of a-z 0-9 - _";
        return false;
      }
      DispatchTarget t;
      t.ns = service ? script_->ns : target;
      t.script = service ? target : "";
      // "outbound": {"worker": {"service": "NAME"}, "params": [{"name": "p"}]}:
      // every fetch() of the scripts dispatched through it goes to script
      // NAME of this script's namespace first.
      if (json_t *o = json_object_get(b, "outbound")) {
        const char *worker = json_string_value(json_object_get(json_object_get(o, "worker"),
                                                               "service"));
        if (service || worker == nullptr || !dispatch_name_valid(worker, strlen(worker))) {
          *err = what + (service ? ": a service binding has no outbound worker"
                                 : ": outbound needs a worker.service of 1-63 characters of "
                                   "a-z 0-9 - _");
          return false;
        }
        t.outbound = worker;
        json_t *params = json_object_get(o, "params");
        if (params != nullptr && !json_is_array(params)) {
          *err = what + ": outbound.params must be an array of {\"name\": ...}";
          return false;
        }
        for (size_t k = 0; k < json_array_size(params); k++) {
          const char *p = json_string_value(json_object_get(json_array_get(params, k), "name"));
          if (p == nullptr || *p == '\0' || strlen(p) > 255) {
            *err = what + ": outbound.params must be an array of {\"name\": ...}";
            return false;
          }
          t.outbound_params.emplace_back(p);
        }
      }
      dispatch_targets_.push_back(std::move(t));
      if (!make(service ? "makeService" : "makeDispatchNamespace", dispatch_targets_.size() - 1,
                &value)) {
        *err = what + ": the dispatch built-in failed";
        return false;
      }

    } else {
      // Not yet supported here: the script sees
      // undefined, as for a binding it did not declare.
      log(DISPATCH_LOG_WARN, what + " is not supported yet; env." + name + " is undefined");
      continue;
    }
    if (target->Set(context, v8_str(isolate_, name), value).IsNothing()) {
      *err = what + " cannot be set";
      return false;
    }
  }
  return true;
}

void TenantIsolate::fire_timer(RequestScope &scope, uint64_t id) {
  auto it = scope.timers.find(id);
  if (it == scope.timers.end()) return;
  if (dead_) {
    scope.timers.erase(it);
    return;
  }
  // Keep the callback alive through the call, even if the callback clears
  // its own interval.
  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Function> callback = it->second.callback.Get(isolate_);
  if (it->second.interval_ms) {
    it->second.timer->start(it->second.interval_ms);
  } else {
    scope.timers.erase(it);  // destroys the Timer that called us: nothing of it is used below
  }
  websocket_event_budget(scope);  // a timer of an open WebSocket: an event's CPU

  turn(scope, [&](v8::Local<v8::Context> context, v8::TryCatch &try_catch) {
    if (callback->Call(context, v8::Undefined(isolate_), 0, nullptr).IsEmpty() &&
        try_catch.HasCaught() && !try_catch.HasTerminated()) {
      log_for(&scope, DISPATCH_LOG_ERR, "uncaught exception in a timer: " +
              describe_exception(isolate_, try_catch.Exception(), try_catch.Message()));
    }
  });
}

// native.cpuLeftMs(): the CPU time the run going on may still take (the
// runaway guards size what they let a builtin do by it).
void TenantIsolate::on_cpu_left(const v8::FunctionCallbackInfo<v8::Value> &info) {
  TenantIsolate *self = from(info.GetIsolate());
  double left = self->running_ ? self->run_deadline_cpu_ms_ - thread_cpu_ms() : 0;
  info.GetReturnValue().Set(std::max(0.0, left));
}

// native.largestBuffer(): the bytes of the largest ArrayBuffer (or
// WebAssembly memory, brought up to date first) the isolate was ever given:
// no typed array can have more elements, so the JSON.stringify guard sizes
// its worst case by it. (Not the bytes held: those count garbage buffers,
// which past a few hundred KB sent small objects down the slow path.)
// (0 while the startup snapshot is made: no tenant's buffer exists yet.)
void TenantIsolate::on_largest_buffer(const v8::FunctionCallbackInfo<v8::Value> &info) {
  TenantIsolate *self = from(info.GetIsolate());
  if (self == nullptr || self->budget_ == nullptr) {
    info.GetReturnValue().Set(0);
    return;
  }
  if (!self->wasm_memories_.empty()) self->sync_wasm_memories();
  info.GetReturnValue().Set(double(self->budget_->largest_buffer()));
}

// The ICU objects one isolate may keep: their memory is ICU's, which no
// isolate's budget sees, so both a charge and a count bound them.
constexpr size_t kMaxIntlObjects = 2000;

void TenantIsolate::on_charge_external(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  TenantIsolate *self = from(isolate);
  if (info.Length() < 3 || !info[0]->IsObject() || !info[1]->IsNumber()) return;
  double requested = info[1].As<v8::Number>()->Value();
  bool intl = info[2]->IsTrue();
  if (!(requested >= 0) || requested > double(self->budget_->limit())) {
    requested = double(self->budget_->limit()) + 1;  // cannot fit
  }
  size_t bytes = size_t(requested);
  if (self->charge_external(bytes, intl)) {
    self->add_external(info[0].As<v8::Object>(), bytes, intl);
  }
}

bool TenantIsolate::charge_external(size_t bytes, bool intl) {
  // Charges are refunded when their objects are collected: a script that
  // makes many short-lived ones reaches the cap with most of them garbage.
  // A full collection tells what is really kept before it is refused.
  auto counted = [&] { return !intl || intl_objects_ < kMaxIntlObjects; };
  bool charged = counted() && budget_->charge(bytes);
  if (!charged && bytes <= budget_->limit()) {
    isolate_->LowMemoryNotification();
    charged = counted() && budget_->charge(bytes);
  }
  if (!counted()) {
    isolate_->ThrowException(v8::Exception::RangeError(v8_str(isolate_,
        "at most " + std::to_string(kMaxIntlObjects) + " Intl objects may be kept at once")));
    return false;
  }
  if (!charged) {
    isolate_->ThrowException(v8::Exception::RangeError(v8_str(isolate_,
        "Cannot allocate " + std::to_string(bytes) +
        " bytes: they do not fit what is left of the script's memory limit")));
    return false;
  }
  return true;
}

TenantIsolate::ExternalCharge *TenantIsolate::add_external(v8::Local<v8::Object> holder,
                                                           size_t bytes, bool intl) {
  auto *charge = new ExternalCharge{this, bytes, intl, {}};
  charge->holder.Reset(isolate_, holder);
  charge->holder.SetWeak(charge, &TenantIsolate::on_external_gone,
                         v8::WeakCallbackType::kParameter);
  charges_.insert(charge);
  if (intl) intl_objects_++;
  return charge;
}

void TenantIsolate::on_external_gone(const v8::WeakCallbackInfo<ExternalCharge> &info) {
  ExternalCharge *charge = info.GetParameter();
  TenantIsolate *self = charge->self;
  charge->holder.Reset();
  self->budget_->refund(charge->bytes);
  if (charge->intl) self->intl_objects_--;
  self->imported_table_entries_ -= charge->table_entries;
  if (charge->wasm_memory) {
    for (auto it = self->wasm_memories_.begin(); it != self->wasm_memories_.end(); ++it) {
      if (it->second == charge) {
        self->wasm_memories_.erase(it);
        break;
      }
    }
  }
  self->charges_.erase(charge);
  delete charge;
}

const WasmMemoryDecl *TenantIsolate::wasm_decl(v8::Local<v8::Value> module) const {
  if (!module->IsWasmModuleObject()) return nullptr;
  for (const WasmModuleRecord &record : wasm_modules_) {
    if (record.module.Get(isolate_) == module) return &record.decl;
  }
  return nullptr;
}

bool TenantIsolate::imported_tables_fit(uint64_t entries) {
  auto fit = [&] {
    return entries <= kWasmMaxImportedTableEntries &&
           imported_table_entries_ <= kWasmMaxImportedTableEntries - entries;
  };
  if (!fit() && entries <= kWasmMaxImportedTableEntries) isolate_->LowMemoryNotification();
  if (fit()) return true;
  isolate_->ThrowException(v8::Exception::RangeError(v8_str(
      isolate_, "WebAssembly.Instance: the funcref tables it imports may grow to " +
                    std::to_string(entries) + " entries (their declared maximum, or " +
                    std::to_string(kWasmMaxTableEntries) + " without one); with the " +
                    std::to_string(imported_table_entries_) + " of the live instances' that is more than " +
                    std::to_string(kWasmMaxImportedTableEntries))));
  return false;
}

bool TenantIsolate::charge_wasm_imports(v8::Local<v8::Object> instance, uint64_t entries,
                                        size_t bytes) {
  if (!charge_external(bytes, false)) return false;
  add_external(instance, bytes, false)->table_entries = entries;
  imported_table_entries_ += entries;
  return true;
}

bool TenantIsolate::track_wasm_memory(v8::Local<v8::WasmMemoryObject> memory, size_t extra) {
  size_t now = memory->Buffer()->ByteLength() + extra;
  int hash = memory->GetIdentityHash();
  ExternalCharge *followed = nullptr;
  auto range = wasm_memories_.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second->holder.Get(isolate_) == memory) followed = it->second;
  }
  size_t charged = followed ? followed->bytes : 0;
  if (now > charged && !charge_external(now - charged, false)) return false;
  if (followed == nullptr) {
    followed = add_external(memory, now, false);
    followed->wasm_memory = true;
    wasm_memories_.emplace(hash, followed);
  } else {
    // Lower again after the run when the grow() that was charged failed.
    followed->bytes = std::max(now, charged);
  }
  return true;
}

bool TenantIsolate::sync_wasm_memories() {
  bool grew = false;
  for (auto &entry : wasm_memories_) {
    ExternalCharge *charge = entry.second;
    if (charge->holder.IsEmpty()) continue;
    size_t now = charge->holder.Get(isolate_).As<v8::WasmMemoryObject>()->Buffer()->ByteLength();
    budget_->note_buffer(now);
    // Grown inside Wasm: counted now, even past the limit (then the budget
    // condemns the isolate).
    if (now > charge->bytes) {
      budget_->charge_anyway(now - charge->bytes);
      grew = true;
    }
    if (now < charge->bytes) budget_->refund(charge->bytes - now);
    charge->bytes = now;
  }
  return grew;
}

// ctx.waitUntil(value) of request id: the engine keeps the promise and
// reads its state after every turn; nothing is chained onto it in
// JavaScript, where a tenant's Promise.prototype.then would see it.
void TenantIsolate::on_wait_until(const v8::FunctionCallbackInfo<v8::Value> &info) {
  if (info.Length() < 2 || !info[0]->IsNumber()) return;
  add_wait_until(info.GetIsolate(), info[0].As<v8::Number>()->Value(), info[1]);
}

// import { waitUntil } from 'cloudflare:workers': ctx.waitUntil() of the
// request the calling code works for (its id rides in the continuation
// data, turn() above); outside any request, an Error.
void TenantIsolate::on_wait_until_now(const v8::FunctionCallbackInfo<v8::Value> &info) {
  v8::Isolate *isolate = info.GetIsolate();
  v8::Local<v8::Value> id = continuation_request_id(isolate->GetCurrentContext());
  if (!id->IsNumber()) {
    isolate->ThrowException(v8::Exception::Error(v8_str(isolate,
        "waitUntil() can only be called while a request is being handled")));
    return;
  }
  add_wait_until(isolate, id.As<v8::Number>()->Value(),
                 info.Length() > 0 ? info[0] : v8::Undefined(isolate).As<v8::Value>());
}

void TenantIsolate::add_wait_until(v8::Isolate *isolate, double id, v8::Local<v8::Value> value) {
  TenantIsolate *self = from(isolate);
  RequestScope *scope = id >= 1 ? self->engine_.find(uint64_t(id)) : nullptr;
  // Only a request of this isolate, and only while its work may still run.
  if (scope == nullptr || scope->isolate.get() != self || self->dead_) return;
  if (scope->wait_until.size() >= kMaxWaitUntil) {
    isolate->ThrowException(v8::Exception::RangeError(v8_str(isolate,
        "ctx.waitUntil(): at most " + std::to_string(kMaxWaitUntil) + " promises per request")));
    return;
  }
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Promise> promise;
  if (value->IsPromise()) {
    promise = value.As<v8::Promise>();
  } else {
    v8::Local<v8::Promise::Resolver> resolver;
    if (!v8::Promise::Resolver::New(context).ToLocal(&resolver) ||
        resolver->Resolve(context, value).IsNothing()) {
      return;
    }
    promise = resolver->GetPromise();
  }
  promise->MarkAsHandled();
  scope->wait_until.emplace_back(isolate, promise);
}

bool TenantIsolate::reduce_memory() {
  if (dead_ || in_flight() > 0 || !budget_->small_enough_to_reduce()) return false;
  IsolateEntry isolate_scope(isolate_);
  v8::HandleScope handle_scope(isolate_);
  budget_->reduce();
  return true;
}

}  // namespace dispatch

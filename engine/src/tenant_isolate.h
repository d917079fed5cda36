// tenant_isolate.h: one V8 isolate running one version of one tenant script.
//
// Created on the script's first request: a locked-down context, the Web API
// built-ins, the tenant's modules compiled and evaluated. Each request then
// calls the built-ins' invoke(), which calls the tenant's fetch handler and
// settles a promise that hands the Response back here.
#pragma once

#include <v8.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <functional>

#include "dispatch_engine.h"

#include "api/node_compat.h"
#include "api/wasm.h"

#include "host.h"
#include "method_strings.h"
#include "native_state.h"
#include "script_store.h"

namespace dispatch {

class Engine;
class RequestScope;

class MemoryBudget;
}  // namespace dispatch

struct json_t;

namespace dispatch {

// The longest module specifier an import (static or import()) may give, in
// characters: resolving copies and splits it outside the isolate's budget.
constexpr int kMaxModuleSpecifier = 1024;

class TenantIsolate : public std::enable_shared_from_this<TenantIsolate> {
 public:
  // A script that does not start returns null, with the reason in *err and
  // the outcome for its requests in *outcome (exception, or a limit).
  static std::shared_ptr<TenantIsolate> create(Engine &engine,
                                               std::shared_ptr<const ScriptSource> script,
                                               std::string *err, dispatch_outcome_e *outcome);
  // An isolate made ahead of demand (isolate_pool.h): its context from the
  // snapshot with the built-ins, nothing of any tenant. Null on failure.
  static std::shared_ptr<TenantIsolate> prepare(Engine &engine, std::string *err);
  // A prepared isolate becomes script's, as create() would have made it.
  // Once only: whatever the outcome, it never serves another tenant.
  bool adopt(std::shared_ptr<const ScriptSource> script, std::string *err,
             dispatch_outcome_e *outcome);
  ~TenantIsolate();
  TenantIsolate(const TenantIsolate &) = delete;

  // The process's startup snapshot (startup_snapshot.h), made once at start
  // with the natives and the built-ins of this memory limit. False with
  // *err when V8 cannot make it: isolates then start without.
  static bool make_startup_snapshot(size_t memory_limit, std::string *err);
  TenantIsolate &operator=(const TenantIsolate &) = delete;

  const ScriptSource &script() const { return *script_; }
  const std::string &main_path() const { return main_path_; }  // the main module's name
  const std::shared_ptr<const ScriptSource> &script_ptr() const { return script_; }

  // Starts the tenant's handler for the request, which joins this isolate.
  // The engine hears of the response through Engine::respond, now or when
  // the handler's promise settles.
  void run(RequestScope &scope);
  // ~RequestScope: the request leaves this isolate.
  void detach(RequestScope *scope);

  // setTimeout/setInterval for the request whose code runs now; returns the
  // timer's id, or 0 with the reason in *err outside any request or past a
  // limit.
  uint64_t set_timer(v8::Local<v8::Function> callback, uint64_t delay_ms, bool repeat,
                     std::string *err);
  void clear_timer(uint64_t id);
  // Whether timer id is still to fire in the request now being served.
  bool timer_pending(uint64_t id);

  // An asynchronous operation (KV, later fetch) of the request running now:
  // returns the promise the script awaits, with the request's and the
  // operation's ids, or empty (with an exception thrown) outside any
  // request. complete_async settles it later, from the host's loop, under
  // the request's CPU budget; a request that ended by then is not settled.
  using Settle = std::function<void(v8::Local<v8::Context>, v8::Local<v8::Promise::Resolver>)>;
  v8::MaybeLocal<v8::Promise> begin_async(uint64_t *request_id, uint64_t *op_id);
  // The same, recording {request id, operation id} where the settling code
  // looks for the wait (fetch() and dispatch calls: head, read, write).
  v8::MaybeLocal<v8::Promise> begin_async(std::pair<uint64_t, uint64_t> *wait) {
    uint64_t request_id = 0, op = 0;
    v8::MaybeLocal<v8::Promise> promise = begin_async(&request_id, &op);
    if (!promise.IsEmpty()) *wait = {request_id, op};
    return promise;
  }
  void complete_async(uint64_t request_id, uint64_t op_id, Settle settle);

  // The request whose JavaScript runs now, or null: the one its promise
  // chain started from (a request resumed in another's turn is itself).
  RequestScope *current_request() { return request_now(); }
  RequestScope *request_now();
  Engine &engine() { return engine_; }
  MemoryBudget &budget() { return *budget_; }
  // The zlib streams, digests in progress, ... the built-ins hold handles to.
  NativeStates &native_states() { return native_states_; }
  // "NS/ID" of the script's kv_namespace binding number `index`, or null.
  // KV operations of this isolate sent to Redis and not yet answered, and
  // those waiting for one of them to end (api/kv.cc).
  struct KvQueue {
    size_t in_flight = 0;
    bool draining = false;
    std::deque<std::function<void()>> waiting;
  };
  KvQueue &kv_queue() { return kv_queue_; }

  const std::string *kv_space(uint32_t index) const {
    return index < kv_spaces_.size() ? &kv_spaces_[index] : nullptr;
  }
  // Where its dispatch_namespace and service bindings lead (api/dispatch.h):
  // a namespace (script empty: the caller names it) or one script.
  struct DispatchTarget {
    std::string ns;
    std::string script;
    // Its outbound worker (a script of this script's own namespace, empty
    // for none), and the names of options.outbound that reach it as env.
    std::string outbound;
    std::vector<std::string> outbound_params;
    // env.ASSETS: this very script's static assets (asset_server.h).
    bool assets = false;
  };
  const DispatchTarget *dispatch_target(uint32_t index) const {
    return index < dispatch_targets_.size() ? &dispatch_targets_[index] : nullptr;
  }
  // Requests on it still waiting for their response.
  size_t in_flight() const;
  // Those of them that count against the dispatch_script_concurrency of
  // `key`: with an empty key this script's own, with "NS/NAME" those an
  // outbound worker runs for a fetch() of that script
  // (RequestScope::fetch_for); never a request waiting on a script it
  // dispatched to, which counts against that script's (a router is not
  // filled up by one tenant that never answers).
  size_t in_flight_for(const std::string &key) const;

  // What a WebAssembly.Module the engine compiled for this script declares
  // of its memory; null for any other value.
  const WasmMemoryDecl *wasm_decl(v8::Local<v8::Value> module) const;
  // Charges memory's size plus extra (a grow() about to happen) beyond what
  // it was charged already, and follows its size after every run from then
  // on (a memory.grow inside Wasm calls no JavaScript). False with a
  // RangeError thrown when that does not fit.
  bool track_wasm_memory(v8::Local<v8::WasmMemoryObject> memory, size_t extra);
  // Whether an instance importing funcref tables of `entries` at their
  // largest (WasmMemoryDecl::imported_table_entries) may be made: the live
  // instances' together stay within kWasmMaxImportedTableEntries, after a
  // full collection when they do not at once. False with a RangeError
  // thrown.
  bool imported_tables_fit(uint64_t entries);
  // Charges `bytes` for them to instance and counts its entries, both for
  // as long as it lives; false with a RangeError thrown when the bytes do
  // not fit.
  bool charge_wasm_imports(v8::Local<v8::Object> instance, uint64_t entries, size_t bytes);

  // It leaves the pool (a new version, room for others): its WebSockets
  // are closed with code (api/websocket.h). No JavaScript runs.
  void stop_websockets(uint16_t code, const char *reason);
  // A limit stopped it: it serves nothing more and goes once its requests let go.
  bool dead() const { return dead_; }
  // Modules it compiled from source since its start, whose code caches
  // (code_cache.h) the next isolate of the same source would start from.
  // Not once a memory limit stopped it: making them allocates, on a heap
  // that is at its limit.
  bool wants_code_caches() const {
    return !caches_wanted_.empty() && !(dead_ && death_ == DISPATCH_OUTCOME_EXCEEDED_MEMORY);
  }
  // Makes them. The pool calls it once the turn that started the isolate
  // is over (isolate_pool.h): not on the first request's path, which
  // answers sooner, and with what that turn compiled in them too. An
  // isolate that goes before that (its first request hit a limit: a storm
  // of restarts) makes them as it goes, so its next start compiles nothing.
  void make_code_caches();
  // metadata.limits.cpu_ms, 0 when the script sets none.
  uint64_t cpu_limit_ms() const { return cpu_limit_ms_; }
  // metadata.limits.subrequests, or -1 when the script sets none.
  int64_t subrequest_limit() const { return subrequest_limit_; }
  // console: whether one more line may be written for the request running
  // now (or the top level), under dispatch_log_limit; counts the rest.
  bool admit_log_line(size_t bytes);
  size_t memory() const;

  // While it is idle: a full collection that also gives back V8's spare
  // pages (new space shrunk, fragmented pages compacted). False when its
  // heap is too large to collect without holding up the worker.
  bool reduce_memory();

  // A line in the error log about this script, and the request running now
  // if there is one.
  void log(dispatch_log_level_e level, const std::string &msg) const;

  static TenantIsolate *from(v8::Isolate *isolate);
  // A limit stopped the run going on (the watchdog fired, the memory
  // budget condemned it, or V8 is unwinding a termination): natives that
  // loop over a tenant's input look at it between pieces.
  bool run_stopped() const;

  // Modules, for import() (dynamic_import.h): the module specifier names
  // from referrer, resolved as a static import is; linking one; and
  // whether specifier names one of the script's own modules.
  v8::MaybeLocal<v8::Module> load_module(const std::string &referrer,
                                         const std::string &specifier);
  bool instantiate(v8::Local<v8::Context> context, v8::Local<v8::Module> module);
  bool has_module(const std::string &referrer, const std::string &specifier) const;

  // Bodies in pieces (body_streams.h): a turn of JavaScript for a request
  // outside its handler, the built-ins' readBody/cancelBody, and a line
  // the script's own doing causes (under dispatch_log_limit).
  v8::Isolate *v8_isolate() const { return isolate_; }
  using TurnFn = std::function<void(v8::Local<v8::Context>, v8::TryCatch &)>;
  void run_turn(RequestScope &scope, const TurnFn &fn);
  v8::Local<v8::Function> body_reader() const { return read_body_.Get(isolate_); }
  v8::Local<v8::Function> body_canceller() const { return cancel_body_.Get(isolate_); }
  // The built-ins' wsDeliver(server, kind, data, code, reason): an event
  // of a WebSocket's server end (api/websocket.h).
  v8::Local<v8::Function> ws_deliver() const { return ws_deliver_.Get(isolate_); }
  void log_uncaught(RequestScope *scope, dispatch_log_level_e level, const std::string &msg) {
    log_for(scope, level, msg);
  }

 private:
  TenantIsolate(Engine &engine, std::shared_ptr<const ScriptSource> script);

  // The isolate and its context with the built-ins: nothing of the tenant.
  bool make_isolate(std::string *err);
  // The tenant's part: its metadata, bindings and top level.
  bool start(std::string *err, dispatch_outcome_e *outcome);
  bool install_builtins(v8::Local<v8::Context> context, std::string *err);
  static v8::MaybeLocal<v8::Object> make_api(v8::Local<v8::Context> context, size_t memory_limit,
                                             std::string *err);
  static void on_is_proxy(const v8::FunctionCallbackInfo<v8::Value> &info);
  static void on_is_error(const v8::FunctionCallbackInfo<v8::Value> &info);
  bool evaluate_main_module(v8::Local<v8::Context> context, std::string *err);
  bool evaluate_service_worker(v8::Local<v8::Context> context, std::string *err);
  bool install_bindings(v8::Local<v8::Context> context, json_t *bindings, std::string *err);
  v8::MaybeLocal<v8::Module> compile_module(const std::string &path);
  bool start_node_compat(v8::Local<v8::Context> context, json_t *bindings, std::string *err);
  // A module whose default export is the WebAssembly.Module the engine
  // compiled from the uploaded bytes (api/wasm.h).
  v8::MaybeLocal<v8::Module> compile_wasm_module(const std::string &path,
                                                 const std::string &bytes);
  // The path a module of this script was compiled from, or null.
  const std::string *path_of(v8::Local<v8::Module> module) const;
  // A synthetic module for path, known to path_of.
  v8::Local<v8::Module> add_synthetic_module(const std::string &path,
                                             const std::vector<v8::Local<v8::String>> &names,
                                             v8::Module::SyntheticModuleEvaluationSteps steps);
  // node:NAME under nodejs_compat (api/node_compat.h): a synthetic module
  // whose exports are the names of what the loader built, loaded on first
  // import only; without the flag, an error that says so.
  v8::MaybeLocal<v8::Module> compile_node_module(const std::string &name,
                                                 const std::string &specifier);
  // cloudflare:workers (engine/js/cloudflare_workers.js), with the
  // script's env.
  v8::MaybeLocal<v8::Module> platform_module();
  // A module the built-ins' loader `loader` builds from arg, under key
  // (once): its enumerable own names are the named exports, default the
  // whole of it.
  v8::MaybeLocal<v8::Module> builtin_module(const std::string &key, const char *loader,
                                            v8::Local<v8::Value> arg);
  static v8::MaybeLocal<v8::Value> node_module_steps(v8::Local<v8::Context> context,
                                                     v8::Local<v8::Module> module);
  static v8::MaybeLocal<v8::Value> wasm_module_steps(v8::Local<v8::Context> context,
                                                     v8::Local<v8::Module> module);
  // After a run, and every 10 ms of CPU in one (MemoryBudget's
  // before_check): each followed WebAssembly.Memory charged at its size
  // now. Whether one grew.
  bool sync_wasm_memories();

  // Runs fn, which enters JavaScript, with budget_ms of CPU. Returns OK, or
  // the limit that stopped it; cpu_ms grows by the CPU time spent.
  template <typename Fn>
  dispatch_outcome_e guarded(double budget_ms, double *cpu_ms, Fn &&fn);
  // Inside a turn, before any response is taken: whether the isolate is
  // still within its memory limit (MemoryBudget::check_after_turn for the
  // wall time since the run started or was last judged).
  bool judge_memory();
  // One turn of JavaScript for a request (its handler, a timer, an I/O
  // result): fn(context, try_catch) under the request's CPU budget, then
  // the microtasks, then whatever settled is taken; a limit that stops it
  // condemns the isolate.
  template <typename Fn>
  void turn(RequestScope &scope, Fn &&fn);
  // After the microtasks: the requests whose response was handed over
  // (native.respond), whose handler promise failed, or whose waitUntil
  // promises settled. Nothing here is handed to JavaScript: the engine
  // reads promise states, so no callback of its own can be stolen.
  void take_settled(v8::Local<v8::Context> context);
  void take_response(RequestScope &scope);
  void take_failure(v8::Local<v8::Context> context, RequestScope &scope,
                    v8::Local<v8::Promise> result);
  void take_wait_until(v8::Local<v8::Context> context, RequestScope &scope);
  // A limit stopped this isolate: fail every request on it and retire it.
  void condemn(dispatch_outcome_e outcome, RequestScope *culprit);
  bool admit_line(RequestScope *scope, size_t bytes);
  void log_for(RequestScope *scope, dispatch_log_level_e level, const std::string &msg);
  void fire_timer(RequestScope &scope, uint64_t id);

  static v8::MaybeLocal<v8::Module> resolve_module(v8::Local<v8::Context> context,
                                                   v8::Local<v8::String> specifier,
                                                   v8::Local<v8::FixedArray> assertions,
                                                   v8::Local<v8::Module> referrer);
  [[noreturn]] static void last_resort(v8::Isolate *isolate, const char *what);
  static void on_out_of_memory(const char *location, bool is_heap_oom);

 public:
  // CpuWatchdog::HangHandler: the last resort for a script that does not stop.
  [[noreturn]] static void on_hang(v8::Isolate *isolate, double overrun_ms);

 private:
  static void on_cpu_left(const v8::FunctionCallbackInfo<v8::Value> &info);
  static void on_largest_buffer(const v8::FunctionCallbackInfo<v8::Value> &info);
  // native.chargeExternal(object, bytes, isIntl): memory object holds
  // outside V8's view, counted until the object is collected.
  static void on_charge_external(const v8::FunctionCallbackInfo<v8::Value> &info);
  struct ExternalCharge {
    TenantIsolate *self;
    size_t bytes;
    bool intl;
    v8::Global<v8::Object> holder;
    bool wasm_memory = false;  // in wasm_memories_ too
    uint64_t table_entries = 0;  // in imported_table_entries_ too
  };
  // bytes charged (after a full collection when they do not fit at once);
  // false with a RangeError thrown when they still do not.
  bool charge_external(size_t bytes, bool intl);
  // Counted until holder is collected.
  ExternalCharge *add_external(v8::Local<v8::Object> holder, size_t bytes, bool intl);
  static void on_external_gone(const v8::WeakCallbackInfo<ExternalCharge> &info);
  // native.waitUntil(id, value): ctx.waitUntil for request id.
  static void on_wait_until(const v8::FunctionCallbackInfo<v8::Value> &info);
  static void on_wait_until_now(const v8::FunctionCallbackInfo<v8::Value> &info);
  static void add_wait_until(v8::Isolate *isolate, double id, v8::Local<v8::Value> value);

  // Promises rejected with no handler that none was added to by the end
  // of a turn's microtasks (V8's PromiseRejectCallback keeps this list);
  // each turn hands them to the built-ins' reportRejection (an
  // 'unhandledrejection' event, else an error-log line, as on Workers).
  // Bounded: past kMaxUnhandledRejections a turn only counts them.
  struct UnhandledRejection {
    v8::Global<v8::Promise> promise;
    v8::Global<v8::Value> reason;
  };
  std::vector<UnhandledRejection> unhandled_rejections_;
  size_t unhandled_rejections_dropped_ = 0;
  static void on_promise_reject(v8::PromiseRejectMessage message);
  void report_unhandled_rejections(v8::Local<v8::Context> context);

  Engine &engine_;
  std::shared_ptr<const ScriptSource> script_;
  std::unique_ptr<MemoryBudget> budget_;
  v8::Isolate *isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> api_;       // what the built-ins returned
  v8::Global<v8::Function> run_;     // the built-ins' run(id, ...)
  MethodStrings method_strings_;     // the usual methods, made once
  v8::Global<v8::Function> read_body_;    // readBody([stream, reader])
  v8::Global<v8::Function> cancel_body_;  // cancelBody([stream, reader])
  v8::Global<v8::Function> ws_deliver_;   // wsDeliver(server, kind, ...)
  v8::Global<v8::Value> exports_;
  v8::Global<v8::Object> env_;
  std::string main_path_;
  std::map<std::string, v8::Global<v8::Module>> modules_;  // by path
  std::unordered_multimap<int, std::string> module_paths_; // identity hash -> path
  NodeCompatFlags node_compat_;
  struct NodeModuleRecord {
    v8::Global<v8::Value> exports;  // what the loader built (module.exports)
    std::vector<std::string> names; // its named exports, besides default
  };
  std::map<std::string, NodeModuleRecord> node_modules_;  // by "node:NAME", "cloudflare:workers"
  // Requests on it, in no order; each knows its place (isolate_index), so
  // joining and leaving need no heap block and no search.
  std::vector<RequestScope *> scopes_;
  bool dead_ = false;
  dispatch_outcome_e death_ = DISPATCH_OUTCOME_OK;  // what stopped it, once dead_
  bool from_snapshot_ = false;  // its context came from the startup snapshot
  // Code caches (code_cache.h): modules compiled from one, and the {path,
  // key} of those to make one of once the top level succeeded.
  int modules_from_cache_ = 0;
  std::vector<std::pair<std::string, std::string>> caches_wanted_;
  uint64_t cpu_limit_ms_ = 0;
  int64_t subrequest_limit_ = -1;
  uint32_t top_level_log_lines_ = 0;
  size_t top_level_log_bytes_ = 0;
  std::vector<std::string> kv_spaces_;  // of the kv_namespace bindings
  KvQueue kv_queue_;
  std::vector<DispatchTarget> dispatch_targets_;
  v8::MaybeLocal<v8::Object> env_with_args(v8::Local<v8::Context> context,
                                           const RequestScope &scope);
  uint64_t next_timer_id_ = 1;
  uint64_t next_async_id_ = 1;
  RequestScope *current_ = nullptr;  // whose JavaScript runs now
  bool running_ = false;             // inside guarded()
  double run_deadline_cpu_ms_ = 0;   // of the run going on, thread CPU clock
  // Wall time (monotonic) since which the run going on has not had its
  // memory judged: its start, or judge_memory() inside it.
  double unjudged_since_ms_ = 0;
  std::unordered_set<ExternalCharge *> charges_;  // live, refunded on collection
  // The WebAssembly.Memory objects followed, by identity hash (in charges_).
  std::unordered_multimap<int, ExternalCharge *> wasm_memories_;
  struct WasmModuleRecord {
    std::string path;
    v8::Global<v8::Object> module;  // the WebAssembly.Module
    WasmMemoryDecl decl;
  };
  std::vector<WasmModuleRecord> wasm_modules_;  // the engine compiled
  NativeStates native_states_;                    // freed before the isolate is disposed
  size_t intl_objects_ = 0;                       // live Intl objects
  uint64_t imported_table_entries_ = 0;  // of live instances (imported_tables_fit)

  // Completions that arrived while JavaScript ran (a store that failed at
  // once): settled from the loop, never from inside a native call.
  struct Deferred {
    uint64_t request_id;
    uint64_t op_id;
    Settle settle;
  };
  std::vector<Deferred> deferred_;
  std::unique_ptr<Timer> deferred_timer_;
};

}  // namespace dispatch

// engine.h: one engine per worker process: the store, the isolates, the
// CPU watchdog and the requests in flight.
//
// A request's life, in the engine's verbs: start() makes its scope;
// respond() gives it its response (the script's, or a failure) and wakes the
// host; release() is the host letting go; end() is the one place a scope is
// destroyed, and with it everything the request started.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "asset_store.h"
#include "cpu_watchdog.h"
#include "egress_policy.h"
#include "fetch_client.h"
#include "cache_store.h"
#include "host.h"
#include "isolate_pool.h"
#include "kv_store.h"
#include "limit_enforcer.h"
#include "fleet_quarantine.h"
#include "metrics.h"
#include "redis_link.h"
#include "request_scope.h"
#include "request_table.h"
#include "script_store.h"
#include "secret_seal.h"

namespace dispatch {

struct FetchCall;
struct DispatchCall;
class AdminCall;

struct EngineLimits {
  uint64_t startup_cpu_ms = 1000;      // dispatch_startup_cpu_limit
  size_t memory_limit = 128u << 20;    // dispatch_memory_limit
  size_t worker_memory = 2048u << 20;  // dispatch_worker_memory
  size_t max_isolates = 256;           // dispatch_isolates
  uint32_t log_limit = 100;            // dispatch_log_limit
  size_t log_bytes_limit = 64u << 10;  // dispatch_log_limit bytes=
  bool log_json = false;               // dispatch_log_format json
  uint64_t hang_timeout_ms = 1000;     // dispatch_hang_timeout
  uint64_t quarantine_ms = 10000;      // dispatch_quarantine_zone period=
  bool startup_snapshot = true;        // dispatch_startup_snapshot
  size_t prepared_isolates = 0;        // dispatch_prepared_isolates
  size_t code_cache_size = 0;          // dispatch_code_cache
};

class Engine {
 public:
  Engine(const dispatch_engine_conf_t &conf, const dispatch_host_t &host);
  ~Engine();

  bool init(std::string *err);

  RequestScope *start(const dispatch_request_view_t &view);
  // A request of script ns/script that the caller's call dispatches to
  // (api/dispatch.h): made now, so that the caller can feed it a body;
  // begun (its script loaded and run) from the loop by begin().
  RequestScope *make_dispatched(RequestScope &caller, uint64_t call_id, const std::string &ns,
                                const std::string &script);
  void begin(RequestScope &scope);
  // The host is done with the request (response sent, or client gone).
  void release(RequestScope *scope);

  // Callbacks from JavaScript and from I/O find their request by id: a
  // request that ended is simply not found.
  RequestScope *find(uint64_t id);

  // Response bodies the host is still sending, all requests together.
  size_t held_response_bytes() const { return held_response_bytes_; }

  // The request has its response: a failure's outcome (status 0: the
  // outcome's own), or OK with the script's response already in the scope.
  // Wakes the host; once only.
  void respond(RequestScope &scope, dispatch_outcome_e outcome, int status = 0);
  // Whoever reads the request's response may look again: the host, or the
  // call of the script that dispatched to it (from the loop).
  void wake(RequestScope &scope);

  // Ends the request from the loop, never from inside V8: its isolate may
  // go with it.
  void end_later(uint64_t id);

  // The isolate of a request that has its response was stopped: the request
  // lets go of it (and of its V8 state) from the loop, so that a slow client
  // does not keep a dead isolate's memory alive. So does one whose 101
  // carries another request's WebSocket (api/websocket.h), once none of
  // its ctx.waitUntil() work is left: a long-lived socket pins nothing.
  void detach_later(uint64_t id);

  // Ends the ctx.waitUntil() work lingering on isolate, now (the pool needs
  // the memory it holds). Called from the loop, never from inside V8.
  void end_lingering_on(TenantIsolate *isolate);

  // A limit stopped this isolate: the pool lets it go.
  void retire(TenantIsolate *isolate);

  // A line about a request, with its context (client, request line,
  // request id); in dispatch_log_format json, one JSON object.
  void log(const RequestScope &scope, dispatch_log_level_e level, const std::string &msg) const;
  // The host's id of the request (of the first request of its dispatch
  // chain), asked for once; empty when there is none.
  const std::string &request_id_of(const RequestScope &scope) const;
  // A line about a script but no request (its top level, a timer of none).
  void log_script(const std::string &ns, const std::string &script, dispatch_log_level_e level,
                  const std::string &msg) const;

  // dispatch_status: this worker's counters since the host last drained.
  Metrics &metrics() { return metrics_; }
  void drain_metrics(dispatch_metrics_handler_pt handler, void *ctx,
                     dispatch_worker_metrics_t *worker);

  const Host &host() const { return host_; }
  const EngineLimits &limits() const { return limits_; }
  CpuWatchdog &watchdog() { return watchdog_; }
  KvStore &kv() { return kv_; }
  AssetStore &assets() { return assets_; }
  CacheStore &cache() { return cache_; }
  RedisLink &redis() { return *redis_; }
  size_t script_max_size() const { return script_max_size_; }
  // The management API (admin_api.h): the call starts at once; the host is
  // woken when its answer is ready.
  std::shared_ptr<AdminCall> admin_start(const dispatch_admin_view_t &view);
  LimitEnforcer &enforcer() { return enforcer_; }
  FleetQuarantine &fleet_quarantine() { return fleet_quarantine_; }

  // fetch(): where connections may go, the worker's pool of them, and the
  // calls of every request by id (api/fetch.h).
  const EgressPolicy &egress() const { return egress_; }
  OutboundPool &outbound() { return outbound_; }
  const FetchLimits &fetch_limits() const { return fetch_limits_; }
  uint64_t next_fetch_id() { return next_fetch_id_++; }
  void add_fetch(RequestScope &scope, uint64_t id, std::unique_ptr<FetchCall> call);
  FetchCall *find_fetch(uint64_t id, RequestScope **scope);
  // From the loop: the request's waiting calls start as connections free up.
  void start_fetches_later(uint64_t request_id);

  // Dispatches to other scripts (api/dispatch.h), by call id.
  uint64_t next_dispatch_id() { return next_dispatch_id_++; }
  void add_dispatch(RequestScope &scope, uint64_t id, std::unique_ptr<DispatchCall> call);
  DispatchCall *find_dispatch(uint64_t id, RequestScope **scope);
  // dispatch_pump(id) from the loop, soon.
  void pump_dispatch_later(uint64_t id);
  // The store answered "no such script" moments ago (without asking Redis).
  bool known_missing(const std::string &ns, const std::string &script) {
    return store_.known_missing(ns, script);
  }

  // dispatch_secrets_key: seals secrets for Redis, opens them for an env.
  const SecretSeal &secret_seal() const { return seal_; }
  // dispatch_namespaces: whether this instance serves ns at all.
  bool serves(const std::string &ns) const {
    return namespaces_.empty() || namespaces_.count(ns) != 0;
  }

 private:
  void on_script_loaded(uint64_t id, const ScriptLoad &load);
  void end(uint64_t id);

  Host host_;
  EngineLimits limits_;
  Metrics metrics_;
  EgressPolicy egress_;
  FetchLimits fetch_limits_;
  OutboundPool outbound_;
  uint64_t next_fetch_id_ = 1;
  std::unordered_map<uint64_t, uint64_t> fetch_owner_;  // call id -> request id
  std::vector<uint64_t> fetch_starts_;
  Timer fetch_timer_;
  uint64_t next_dispatch_id_ = 1;
  std::unordered_map<uint64_t, uint64_t> dispatch_owner_;  // call id -> request id
  std::vector<uint64_t> dispatch_pumps_;
  Timer dispatch_timer_;
  std::vector<std::string> fetch_allow_;
  SecretSeal seal_;
  std::set<std::string> namespaces_;
  std::unique_ptr<RedisLink> redis_;
  std::unique_ptr<RedisLink> events_;  // the dispatch:events subscription
  // KV's own links (kKvLinks): a tenant's large values never hold up script
  // loads, and hold up one KV link of the worker, not all (kv_store.h).
  std::vector<std::unique_ptr<RedisLink>> kv_links_;
  FleetQuarantine fleet_quarantine_;
  ScriptStore store_;
  KvStore kv_;
  AssetStore assets_;
  CacheStore cache_;  // before pool_: it outlives the isolates' open files
  CpuWatchdog watchdog_;
  LimitEnforcer enforcer_;
  IsolatePool pool_;
  RequestTable requests_;
  uint64_t next_id_ = 1;
  Timer pump_timer_;
  Timer end_timer_;
  std::vector<uint64_t> to_end_;
  std::vector<uint64_t> to_detach_;
  void detach(uint64_t id);
  void stop_lingering();
  // Ids of the requests lingering for ctx.waitUntil() work (on one isolate).
  std::vector<uint64_t> lingering(const TenantIsolate *on) const;
  RequestScope *oldest_lingering(const std::string &ns, const std::string &script,
                                 size_t *count);
  size_t held_response_bytes_ = 0;
  // Static assets' bodies waiting for clients (no isolate counts them):
  // one content counts once however many responses send it (they share
  // it), and one script's together at most half dispatch_memory_limit, as a
  // script's own responses.
  struct HeldAsset {
    size_t bytes = 0;
    size_t responses = 0;
    std::string script;  // "ns/name"
  };
  std::unordered_map<const std::string *, HeldAsset> held_assets_;
  std::unordered_map<std::string, size_t> held_asset_bytes_;  // by script
  bool hold_asset(RequestScope &scope, size_t bound);
  void unhold_asset(RequestScope &scope);
  void let_go_of_response(RequestScope &scope);
  size_t script_max_size_;
  // The node's generation (host->generation) when this worker last looked:
  // when it moved, every cached script is revalidated before it is served.
  uint64_t generation_seen_ = 0;
  void follow_generation();
};

}  // namespace dispatch

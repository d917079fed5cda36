#include "engine.h"

#include <malloc.h>

#include <cstdlib>

#include "admin_api.h"
#include "asset_server.h"
#include "api/dispatch.h"
#include "api/fetch.h"
#include "api/request_cf.h"
#include "api/websocket.h"
#include "body_streams.h"
#include "clock.h"
#include "code_cache.h"
#include "log_format.h"
#include "memory_budget.h"
#include "platform.h"
#include "startup_snapshot.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

constexpr uint64_t kPumpIntervalMs = 100;
// Wall time one pass of the dispatch pumps may take before the rest wait
// for the next pass, after nginx has looked at its sockets: each pump may
// start a script (its first turn), and a tree of one client's request
// (50 dispatches each starting 50 more) made one pass of 2,500 script
// runs that held the worker ~6 s, serving no other connection.
constexpr double kDispatchPassMs = 4;
// How long ctx.waitUntil work may run after the response (as on Workers).
constexpr uint64_t kWaitUntilMs = 30000;

// KV's links per worker: enough that one tenant's large values leave
// another link free, few enough to stay a handful of connections.
constexpr size_t kKvLinks = 2;

std::vector<std::unique_ptr<RedisLink>> kv_links(const Host &host, const RedisConfig &config) {
  std::vector<std::unique_ptr<RedisLink>> links;
  for (size_t i = 0; i < kKvLinks; i++) links.push_back(RedisLink::create(host, config));
  return links;
}

std::vector<RedisLink *> link_pointers(const std::vector<std::unique_ptr<RedisLink>> &links) {
  std::vector<RedisLink *> out;
  for (const auto &link : links) out.push_back(link.get());
  return out;
}

RedisConfig redis_config(const dispatch_engine_conf_t &conf) {
  RedisConfig rc;
  if (conf.redis_unix) rc.unix_path = conf.redis_unix;
  if (conf.redis_host) rc.host = conf.redis_host;
  rc.port = conf.redis_port;
  rc.db = conf.redis_db;
  if (conf.redis_password) rc.password = conf.redis_password;
  if (conf.redis_user) rc.user = conf.redis_user;
  rc.timeout_ms = conf.redis_timeout_ms ? conf.redis_timeout_ms : 1000;
  rc.wait = conf.redis_wait > 0 ? conf.redis_wait : 0;
  if (conf.redis_mode == DISPATCH_REDIS_CLUSTER || conf.redis_mode == DISPATCH_REDIS_SENTINEL) {
    rc.mode = conf.redis_mode == DISPATCH_REDIS_CLUSTER ? RedisConfig::Mode::kCluster
                                                        : RedisConfig::Mode::kSentinel;
    for (size_t i = 0; i < conf.nredis_nodes && conf.redis_nodes != nullptr; i++) {
      // "IP:port", the port after the last colon (IPv6 literals have more)
      std::string entry = conf.redis_nodes[i] ? conf.redis_nodes[i] : "";
      size_t colon = entry.rfind(':');
      if (colon == std::string::npos || colon == 0) continue;
      std::string ip = entry.substr(0, colon);
      if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
      rc.nodes.emplace_back(ip, std::atoi(entry.c_str() + colon + 1));
    }
    if (conf.redis_master_name) rc.master_name = conf.redis_master_name;
  }
  return rc;
}

template <typename T>
T or_default(T value, T fallback) {
  return value ? value : fallback;
}

ScriptStoreConfig store_config(const dispatch_engine_conf_t &conf) {
  ScriptStoreConfig sc;
  sc.max_size = or_default(conf.script_max_size, sc.max_size);
  sc.cache_ttl_ms = or_default(conf.cache_ttl_ms, sc.cache_ttl_ms);
  sc.stale_ttl_ms = conf.stale_ttl_ms;
  // Many times the pool: under churn an evicted tenant's next start finds
  // its script here, not in Redis. max_bytes bounds it all the same.
  sc.max_entries = std::max(sc.max_entries, 16 * or_default(conf.max_isolates, size_t(256)));
  return sc;
}

EngineLimits engine_limits(const dispatch_engine_conf_t &conf) {
  EngineLimits l;
  l.startup_cpu_ms = or_default(conf.startup_cpu_limit_ms, l.startup_cpu_ms);
  l.memory_limit = or_default(conf.memory_limit, l.memory_limit);
  l.worker_memory = or_default(conf.worker_memory, l.worker_memory);
  l.max_isolates = or_default(conf.max_isolates, l.max_isolates);
  l.log_limit = or_default(conf.log_limit, l.log_limit);
  l.log_bytes_limit = or_default(conf.log_bytes_limit, l.log_bytes_limit);
  l.log_json = conf.log_json != 0;
  l.hang_timeout_ms = std::max<uint64_t>(or_default(conf.hang_timeout_ms, l.hang_timeout_ms), 250);
  l.quarantine_ms = or_default(conf.quarantine_ms, l.quarantine_ms);
  l.startup_snapshot = !conf.no_startup_snapshot;
  l.prepared_isolates = conf.prepared_isolates;
  l.code_cache_size = conf.code_cache_size;
  return l;
}

FetchLimits fetch_limits_of(const dispatch_engine_conf_t &conf) {
  FetchLimits l;
  l.connect_timeout_ms = or_default(conf.fetch_connect_timeout_ms, l.connect_timeout_ms);
  l.send_timeout_ms = or_default(conf.fetch_send_timeout_ms, l.send_timeout_ms);
  l.read_timeout_ms = or_default(conf.fetch_read_timeout_ms, l.read_timeout_ms);
  return l;
}

}  // namespace

Engine::Engine(const dispatch_engine_conf_t &conf, const dispatch_host_t &host)
    : host_(host),
      limits_(engine_limits(conf)),
      fetch_limits_(fetch_limits_of(conf)),
      outbound_(host_, conf.fetch_max_connections),
      fetch_timer_(host_, [this] {
        std::vector<uint64_t> ids;
        ids.swap(fetch_starts_);
        for (uint64_t id : ids) {
          if (RequestScope *s = find(id)) start_waiting_fetches(*this, *s);
        }
      }, false),
      dispatch_timer_(host_, [this] {
        std::vector<uint64_t> ids;
        ids.swap(dispatch_pumps_);
        double until = clock_ms(CLOCK_MONOTONIC) + kDispatchPassMs;
        size_t done = 0;
        while (done < ids.size()) {
          dispatch_pump(*this, ids[done++]);
          if (done < ids.size() && clock_ms(CLOCK_MONOTONIC) >= until) break;
        }
        if (done < ids.size()) {
          // first in the next pass (the host runs a timer started from a
          // timer's handler after its next look at the sockets)
          dispatch_pumps_.insert(dispatch_pumps_.begin(), ids.begin() + long(done), ids.end());
          if (!dispatch_timer_.armed()) dispatch_timer_.start(0);
        }
      }, false),
      redis_(RedisLink::create(host_, redis_config(conf))),
      events_(RedisLink::create(host_, redis_config(conf))),
      kv_links_(kv_links(host_, redis_config(conf))),
      fleet_quarantine_(host_, *redis_),
      store_(host_, *redis_, store_config(conf)),
      kv_(link_pointers(kv_links_), conf.kv_quota ? conf.kv_quota : uint64_t(1) << 30),
      assets_(link_pointers(kv_links_), conf.asset_cache_size ? conf.asset_cache_size
                                                              : size_t(32) << 20),
      cache_(conf, host_),
      enforcer_(host_, limits_.quarantine_ms),
      pool_(*this),
      pump_timer_(host_, [this] {
        pool_.pump();
        if (host_.raw().exiting != nullptr && host_.raw().exiting(host_.raw().data)) {
          stop_lingering();
          // A worker that shuts down closes its WebSockets (1001).
          requests_.each([this](RequestScope &s) {
            if (s.ws) websocket_stop(*this, s, 1001, "going away");
          });
        }
        pump_timer_.start(kPumpIntervalMs);
      }, true),
      end_timer_(host_, [this] {
        std::vector<uint64_t> ids;
        ids.swap(to_detach_);
        for (uint64_t id : ids) detach(id);
        ids.clear();
        ids.swap(to_end_);
        for (uint64_t id : ids) end(id);
      }, false),
      script_max_size_(store_config(conf).max_size) {
  for (size_t i = 0; i < conf.nfetch_allow && conf.fetch_allow != nullptr; i++) {
    if (conf.fetch_allow[i] != nullptr) fetch_allow_.emplace_back(conf.fetch_allow[i]);
  }
  for (size_t i = 0; i < conf.nsecrets_keys && conf.secrets_keys != nullptr; i++) {
    if (conf.secrets_keys[i] != nullptr) seal_.add_key(conf.secrets_keys[i]);
  }
  for (size_t i = 0; i < conf.nnamespaces && conf.namespaces != nullptr; i++) {
    if (conf.namespaces[i] != nullptr) namespaces_.insert(conf.namespaces[i]);
  }
}

Engine::~Engine() {
  // Requests first, then the connections: Redis callbacks that fire while
  // they close must find no request, and a store still there.
  requests_.clear();
  redis_->close();
  events_->close();
  for (auto &link : kv_links_) link->close();
}

bool Engine::init(std::string *err) {
  for (const std::string &entry : fetch_allow_) {
    if (!egress_.add(entry, err)) {
      *err = "dispatch_fetch_allow \"" + entry + "\": " + *err;
      return false;
    }
  }
  if (!platform_init(limits_.memory_limit, err)) return false;
  // Before any tenant's isolate (and before seccomp): a snapshot of the
  // built-ins, or one line and the old way.
  if (limits_.startup_snapshot) {
    std::string why;
    double started = clock_ms(CLOCK_MONOTONIC);
    if (!TenantIsolate::make_startup_snapshot(limits_.memory_limit, &why)) {
      host_.log(DISPATCH_LOG_WARN, "no startup snapshot (" + why +
                                   "): isolates start by running the built-ins");
    } else {
      host_.log(DISPATCH_LOG_INFO, "startup snapshot of the built-ins: " +
                std::to_string(snapshot_blob()->raw_size >> 10) + " KB, made in " +
                std::to_string(int(clock_ms(CLOCK_MONOTONIC) - started)) + " ms");
    }
  }
  // glibc raises its mmap threshold after the first large free, after which
  // big buffers come from the heap and are never given back: RSS would only
  // grow. Pinned, every large buffer is its own mapping, returned on free.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (!pump_timer_.valid()) {
    *err = "cannot create a timer";
    return false;
  }
  if (!watchdog_.start(err, double(limits_.hang_timeout_ms), &TenantIsolate::on_hang)) {
    return false;
  }
  pump_timer_.start(kPumpIntervalMs);
  code_cache().set_capacity(limits_.code_cache_size);
  pool_.prepare_later();
  redis_->connect();
  for (auto &link : kv_links_) link->connect();
  // Messages may have been missed while the subscription was down: every
  // cached script is revalidated once it is live again.
  events_->subscribe(ScriptStore::kEventsChannel,
                    [this](const std::string &payload) {
                      std::string lifted;
                      if (!fleet_quarantine_.on_event(payload, &lifted)) {
                        store_.invalidate(payload);
                      } else if (!lifted.empty()) {
                        enforcer_.forgive(lifted);
                      }
                    },
                    [this] { store_.invalidate_all(); });
  return true;
}

namespace {

std::string view_str(const dispatch_str_t &s) {
  return s.data && s.len ? std::string(s.data, s.len) : std::string();
}

}  // namespace

RequestScope *Engine::start(const dispatch_request_view_t &view) {
  auto owned = std::make_unique<RequestScope>();
  RequestScope *scope = owned.get();
  scope->id = next_id_++;
  scope->host_ctx = view.ctx;
  scope->ns = view_str(view.ns);
  scope->script = view_str(view.script);
  scope->head.assign(view);
  scope->started_ms = clock_ms(CLOCK_MONOTONIC);
  scope->cf = request_cf_copy(view);
  if (view.body_more) {
    // The rest follows: what came with the headers is its first piece.
    RequestScope::RequestBody &b = scope->request_body;
    b.more = true;
    b.length = view.body_length;
    if (view.body.len) {
      b.pieces.emplace_back(view_str(view.body));
      b.queued = view.body.len;
    }
  } else {
    scope->body = view_str(view.body);
  }
  scope->cpu_limit_ms = or_default(view.cpu_limit_ms, scope->cpu_limit_ms);
  scope->wall_limit_ms = or_default(view.wall_limit_ms, scope->wall_limit_ms);
  scope->script_concurrency = or_default(view.script_concurrency, scope->script_concurrency);
  scope->subrequest_limit = or_default(view.subrequest_limit, scope->subrequest_limit);
  scope->location_cpu_limit_ms = scope->cpu_limit_ms;
  scope->location_subrequest_limit = scope->subrequest_limit;
  requests_.insert(std::move(owned));
  begin(*scope);
  return scope;
}

RequestScope *Engine::make_dispatched(RequestScope &caller, uint64_t call_id,
                                      const std::string &ns, const std::string &script) {
  auto owned = std::make_unique<RequestScope>();
  RequestScope *scope = owned.get();
  scope->id = next_id_++;
  scope->dispatch_call = call_id;
  scope->ns = ns;
  scope->script = script;
  scope->chain = caller.chain;
  scope->chain.push_back(caller.ns + "/" + caller.script);
  // Its log lines name the client and request that started the chain
  // (its head, with them, is set by the dispatch that makes it).
  scope->request_id = caller.request_id;
  scope->request_id_asked = caller.request_id_asked;
  scope->chain_root = caller.chain_root ? caller.chain_root : caller.id;
  scope->started_ms = clock_ms(CLOCK_MONOTONIC);
  // The location's limits (the caller's metadata does not narrow its
  // targets'); the call and the target's metadata narrow them further.
  scope->cpu_limit_ms = scope->location_cpu_limit_ms = caller.location_cpu_limit_ms;
  scope->subrequest_limit = scope->location_subrequest_limit = caller.location_subrequest_limit;
  scope->wall_limit_ms = caller.wall_limit_ms;
  scope->script_concurrency = caller.script_concurrency;
  requests_.insert(std::move(owned));
  return scope;
}

void Engine::begin(RequestScope &request) {
  RequestScope *scope = &request;
  if (!dispatch_name_valid(scope->ns.data(), scope->ns.size()) ||
      !dispatch_name_valid(scope->script.data(), scope->script.size())) {
    respond(*scope, DISPATCH_OUTCOME_NOT_FOUND);
    return;
  }
  // A cordon (dispatch_namespaces): another instance's tenant is not
  // found here, and Redis is not asked about it.
  if (!serves(scope->ns)) {
    respond(*scope, DISPATCH_OUTCOME_NOT_FOUND);
    return;
  }

  // Before anything is spent on it: a script in the penalty box, or one
  // throttled for hitting its limits, is refused at once.
  std::string why;
  uint64_t left_ms = 0;
  if (!enforcer_.admit(scope->ns + "/" + scope->script, &why, &left_ms)) {
    if (left_ms > 0) fleet_quarantine_.share(scope->ns + "/" + scope->script, left_ms);
    log(*scope, DISPATCH_LOG_INFO, why);
    respond(*scope, DISPATCH_OUTCOME_QUARANTINED);
    return;
  }

  follow_generation();
  uint64_t id = scope->id;
  scope->wall_timer.emplace(host_, [this, id] {
    RequestScope *s = find(id);
    if (s == nullptr) return;
    log(*s, DISPATCH_LOG_WARN, "no Response within dispatch_wall_limit (" +
        std::to_string(s->wall_limit_ms) + "ms): exceeded_wall");
    respond(*s, DISPATCH_OUTCOME_EXCEEDED_WALL);
  }, false);
  scope->wall_timer->start(scope->wall_limit_ms);

  store_.load(scope->ns, scope->script,
              [this, id](const ScriptLoad &load) { on_script_loaded(id, load); });
}

// A change stored through the management API (by any worker of the node)
// bumped the generation before it was answered: what this worker cached,
// found or missing, is checked against Redis before it is served again.
void Engine::follow_generation() {
  const dispatch_host_t &raw = host_.raw();
  if (raw.generation == nullptr) return;
  uint64_t now = raw.generation(raw.data);
  if (now == generation_seen_) return;
  generation_seen_ = now;
  store_.invalidate_all();
}

std::shared_ptr<AdminCall> Engine::admin_start(const dispatch_admin_view_t &view) {
  auto call = std::make_shared<AdminCall>(*this, view);
  call->start();
  return call;
}

void Engine::on_script_loaded(uint64_t id, const ScriptLoad &load) {
  RequestScope *scope = find(id);
  if (scope == nullptr || scope->responded()) return;  // gone, or out of time

  switch (load.status) {
    case ScriptLoad::Status::kNotFound:
      respond(*scope, DISPATCH_OUTCOME_NOT_FOUND);
      return;
    case ScriptLoad::Status::kUnavailable:
      log(*scope, DISPATCH_LOG_ERR, "cannot load the script: " + load.error);
      respond(*scope, DISPATCH_OUTCOME_STORE_UNAVAILABLE);
      return;
    case ScriptLoad::Status::kInvalid:
      log(*scope, DISPATCH_LOG_ERR, "the stored script is invalid: " + load.error);
      respond(*scope, DISPATCH_OUTCOME_EXCEPTION);
      return;
    case ScriptLoad::Status::kFound:
      break;
  }
  // Another node of the fleet put it in its penalty box while this one
  // had it in no cache.
  if (load.quarantine_until != 0 && load.quarantine_until > monotonic_ms()) {
    fleet_quarantine_.heard(scope->ns + "/" + scope->script,
                            load.quarantine_until - monotonic_ms());
    log(*scope, DISPATCH_LOG_INFO, "in the fleet's penalty box: quarantined");
    respond(*scope, DISPATCH_OUTCOME_QUARANTINED);
    return;
  }

  // Static assets answer without an isolate; env.ASSETS of a script
  // without any answers 404.
  if ((load.script->assets || scope->assets_only) && serve_assets(*this, *scope, load.script)) {
    return;
  }

  std::string err;
  dispatch_outcome_e outcome = DISPATCH_OUTCOME_EXCEPTION;
  std::shared_ptr<TenantIsolate> isolate = pool_.acquire(load.script, &err, &outcome);
  if (!isolate) {
    log(*scope, DISPATCH_LOG_ERR, "the script failed to start: " + err);
    // A top level stopped by a limit blocks the worker for that long on
    // every request that tries it: an offence like any other.
    if (outcome == DISPATCH_OUTCOME_EXCEEDED_CPU || outcome == DISPATCH_OUTCOME_EXCEEDED_MEMORY) {
      std::string penalty = enforcer_.offence(scope->ns + "/" + scope->script);
      if (!penalty.empty()) log(*scope, DISPATCH_LOG_WARN, penalty);
    }
    respond(*scope, outcome);
    return;
  }
  if (isolate->in_flight_for(scope->fetch_for) >= scope->script_concurrency) {
    log(*scope, DISPATCH_LOG_WARN, "dispatch_script_concurrency (" +
        std::to_string(scope->script_concurrency) + ") reached" +
        (scope->fetch_for.empty() ? "" : " for the fetch() calls of \"" + scope->fetch_for + "\"") +
        ": overloaded");
    respond(*scope, DISPATCH_OUTCOME_OVERLOADED);
    return;
  }
  // The script's own metadata.limits.cpu_ms bounds it too: the smaller wins.
  if (isolate->cpu_limit_ms()) {
    scope->cpu_limit_ms = std::min(scope->cpu_limit_ms, isolate->cpu_limit_ms());
  }
  if (isolate->subrequest_limit() >= 0) {
    scope->subrequest_limit = std::min<uint32_t>(scope->subrequest_limit,
                                                 uint32_t(isolate->subrequest_limit()));
  }
  isolate->run(*scope);
}

RequestScope *Engine::find(uint64_t id) {
  return requests_.find(id);
}

void Engine::respond(RequestScope &scope, dispatch_outcome_e outcome, int status) {
  if (scope.responded()) return;
  scope.phase = RequestScope::Phase::kResponded;
  scope.outcome = outcome;
  scope.responded_ms = clock_ms(CLOCK_MONOTONIC);
  // Lines of ctx.waitUntil() work come after the host let go of the
  // request (the host releases it from its pool's cleanup, where nothing
  // may be asked of it): they carry the request id all the same.
  if (!scope.wait_until.empty()) request_id_of(scope);
  scope.wall_timer.reset();
  // The handler's promise no longer matters: nothing settles it into this
  // response any more.
  scope.result.Reset();
  if (outcome == DISPATCH_OUTCOME_OK) {
    // Until the host has sent it, the body is held here (the host sends
    // from this buffer): charged to the script, and bounded per worker so
    // that clients that do not read cannot make a worker hold without end.
    // (Never less than one isolate's whole limit: any response a script can
    // make fits when nothing else waits.)
    // A script may have half its memory limit waiting for slow clients.
    // Refusing past that is no offence of the script's: it is not counted
    // against it (the clients may be anyone's).
    size_t bytes = scope.response_view().size();
    size_t bound = std::max(limits_.worker_memory / 4, limits_.memory_limit);
    bool held = scope.shared_body ? hold_asset(scope, bound)
                                  : held_response_bytes_ + bytes <= bound &&
                                        (!scope.isolate || scope.isolate->budget().hold(bytes));
    if (!held) {
      log(scope, DISPATCH_LOG_WARN, "the responses waiting for slow clients hold " +
          std::to_string(held_response_bytes_ >> 20) + "m (at most " + std::to_string(bound >> 20) +
          "m a worker, half dispatch_memory_limit a script): this one is refused: overloaded");
      outcome = DISPATCH_OUTCOME_OVERLOADED;
      scope.outcome = outcome;
    } else if (!scope.shared_body) {
      held_response_bytes_ += bytes;
      scope.held_bytes = bytes;
    }
  }
  if (outcome != DISPATCH_OUTCOME_OK) {
    scope.status = status ? status : dispatch_outcome_status(outcome);
    scope.status_text.clear();
    scope.drop_response();
  }
  scope.handover.stream.Reset();
  // A streamed body is counted as the host reads it (c_api.cc).
  scope.response_bytes += scope.response_view().size();
  wake(scope);
}

void Engine::wake(RequestScope &scope) {
  // A WebSocket another request carries to its client (api/websocket.h):
  // that request's reader.
  RequestScope *carrier = scope.ws_for ? find(scope.ws_for) : nullptr;
  if (carrier != nullptr && carrier->ws_via == scope.id) {
    wake(*carrier);
  } else if (scope.host_ctx) {
    host_.wake(scope.host_ctx);
  } else if (scope.dispatch_call) {
    pump_dispatch_later(scope.dispatch_call);
  }
}

bool Engine::hold_asset(RequestScope &scope, size_t bound) {
  auto it = held_assets_.find(scope.shared_body.get());
  if (it != held_assets_.end()) {
    it->second.responses++;
    scope.held_asset = true;
    return true;
  }
  size_t bytes = scope.shared_body->size();
  std::string script = scope.ns + "/" + scope.script;
  auto mine = held_asset_bytes_.find(script);
  size_t before = mine == held_asset_bytes_.end() ? 0 : mine->second;
  // (a file larger than half the limit still goes when it is the only one)
  if (held_response_bytes_ + bytes > bound ||
      (before > 0 && before + bytes > limits_.memory_limit / 2)) {
    return false;
  }
  held_response_bytes_ += bytes;
  held_asset_bytes_[script] = before + bytes;
  held_assets_.emplace(scope.shared_body.get(), HeldAsset{bytes, 1, std::move(script)});
  scope.held_asset = true;
  return true;
}

void Engine::unhold_asset(RequestScope &scope) {
  scope.held_asset = false;
  auto it = held_assets_.find(scope.shared_body.get());
  if (it == held_assets_.end() || --it->second.responses > 0) return;
  held_response_bytes_ -= it->second.bytes;
  auto mine = held_asset_bytes_.find(it->second.script);
  if (mine != held_asset_bytes_.end() && (mine->second -= it->second.bytes) == 0) {
    held_asset_bytes_.erase(mine);
  }
  held_assets_.erase(it);
}

void Engine::let_go_of_response(RequestScope &scope) {
  if (scope.held_asset) unhold_asset(scope);
  if (scope.held_bytes) {
    held_response_bytes_ -= scope.held_bytes;
    if (scope.isolate) scope.isolate->budget().unhold(scope.held_bytes);
    scope.held_bytes = 0;
  }
  scope.drop_response();
}

void Engine::release(RequestScope *scope) {
  scope->host_ctx = nullptr;
  // A body still on its way in will not come; one still going out is
  // cancelled (the script's cancel callback is waited for like waitUntil).
  request_body_fail(*this, *scope, 0);
  response_body_cancel(*this, *scope);
  // The host has sent the response (or the client went away).
  let_go_of_response(*scope);
  if (scope->phase == RequestScope::Phase::kResponded && !scope->wait_until.empty() &&
      scope->isolate && !scope->isolate->dead()) {
    // The response is out; ctx.waitUntil work goes on, on our side only,
    // within the script's own cap: past it the oldest goes, so an error
    // reporter whose sink is slow never makes new requests fail.
    size_t lingering = 0;
    RequestScope *oldest = oldest_lingering(scope->ns, scope->script, &lingering);
    if (oldest != nullptr && lingering >= LimitEnforcer::kMaxLingering) {
      log(*oldest, DISPATCH_LOG_WARN, "ctx.waitUntil() work cancelled: the script has " +
          std::to_string(lingering) + " requests lingering, the most it may");
      end_later(oldest->id);
    }
    scope->phase = RequestScope::Phase::kLingering;
    uint64_t id = scope->id;
    scope->linger_timer = std::make_unique<Timer>(host_, [this, id] {
      RequestScope *s = find(id);
      if (s == nullptr) return;
      log(*s, DISPATCH_LOG_WARN, "ctx.waitUntil() work still running after 30s is stopped");
      end_later(id);
    }, false);
    scope->linger_timer->start(kWaitUntilMs);
    return;
  }
  // The host calls this from its loop, outside V8: the scope can go now.
  end(scope->id);
}

void Engine::end(uint64_t id) {
  RequestScope *found = requests_.find(id);
  if (found == nullptr) return;
  RequestScope &scope = *found;
  if (scope.log_suppressed) {
    log(scope, DISPATCH_LOG_WARN, std::to_string(scope.log_suppressed) +
        " line(s) past dispatch_log_limit (" + std::to_string(limits_.log_limit) +
        ") were not written: " + std::to_string(scope.log_bytes_dropped) +
        " bytes (at most " + std::to_string(limits_.log_bytes_limit) + " a request)");
  }
  metrics_.request_ended(scope, clock_ms(CLOCK_MONOTONIC));
  let_go_of_response(scope);
  for (const auto &f : scope.fetches) fetch_owner_.erase(f.first);
  // Its dispatches end with it: their targets are let go of (a target
  // still running is abandoned, as when a client goes away).
  std::vector<uint64_t> targets;
  for (const auto &d : scope.dispatches) {
    dispatch_owner_.erase(d.first);
    if (d.second->child) targets.push_back(d.second->child);
  }
  requests_.take(id).reset();  // ~RequestScope releases what the request started
  for (uint64_t target : targets) {
    if (RequestScope *t = find(target)) {
      t->dispatch_call = 0;
      t->ws_for = 0;  // no client is on its WebSocket any more
      if (websocket_peer_gone(*this, *t, id)) continue;  // released once told
      release(t);
    }
  }
}

std::vector<uint64_t> Engine::lingering(const TenantIsolate *on) const {
  std::vector<uint64_t> ids;
  requests_.each([&](const RequestScope &s) {
    if (s.phase == RequestScope::Phase::kLingering && (on == nullptr || s.isolate.get() == on)) {
      ids.push_back(s.id);
    }
  });
  return ids;
}

void Engine::end_lingering_on(TenantIsolate *isolate) {
  for (uint64_t id : lingering(isolate)) {
    if (RequestScope *s = find(id)) {
      log(*s, DISPATCH_LOG_WARN, "ctx.waitUntil() work of a version out of service is stopped: "
          "dispatch_worker_memory is needed for requests");
    }
    end(id);
  }
}

// Of every version of the script: a new version does not get a new cap.
RequestScope *Engine::oldest_lingering(const std::string &ns, const std::string &script,
                                       size_t *count) {
  RequestScope *oldest = nullptr;
  *count = 0;
  requests_.each([&](RequestScope &s) {
    if (s.phase != RequestScope::Phase::kLingering || s.script != script || s.ns != ns) return;
    (*count)++;
    if (oldest == nullptr || s.id < oldest->id) oldest = &s;
  });
  return oldest;
}

// The worker is shutting down: work that lingers after its response would
// keep it alive (its timers are not cancelable) for up to 30 s a reload.
void Engine::stop_lingering() {
  std::vector<uint64_t> ids = lingering(nullptr);
  if (ids.empty()) return;
  host_.log(DISPATCH_LOG_NOTICE, "dispatch: the worker is shutting down: ctx.waitUntil() work of " +
            std::to_string(ids.size()) + " request(s) is stopped");
  for (uint64_t id : ids) end(id);
}

void Engine::detach_later(uint64_t id) {
  to_detach_.push_back(id);
  if (!end_timer_.armed()) end_timer_.start(0);
}

void Engine::detach(uint64_t id) {
  RequestScope *scope = find(id);
  if (scope == nullptr || !scope->isolate) return;
  // Its isolate was stopped; or its 101 carries a dispatched script's
  // WebSocket and nothing of it is left to run (websocket_handed_over).
  bool handed_over = scope->ws_via != 0 && scope->responded() && scope->status == 101 &&
                     scope->outcome == DISPATCH_OUTCOME_OK && scope->wait_until.empty();
  if (!scope->isolate->dead() && !handed_over) return;
  if (scope->held_bytes) scope->isolate->budget().unhold(scope->held_bytes);
  scope->leave_isolate();
}

void Engine::end_later(uint64_t id) {
  to_end_.push_back(id);
  if (!end_timer_.armed()) end_timer_.start(0);
}

void Engine::retire(TenantIsolate *isolate) { pool_.retire(isolate); }

void Engine::log(const RequestScope &scope, dispatch_log_level_e level,
                 const std::string &msg) const {
  if (limits_.log_json) {
    LogRecord r;
    r.level = level;
    r.ns = &scope.ns;
    r.script = &scope.script;
    r.message = &msg;
    r.request_id = &request_id_of(scope);
    r.client = scope.head.client();
    r.request_line = scope.head.request_line();
    // Whole as it is: the host writes it without its own context.
    host_.log_raw(level, json_log_line(r), scope.host_ctx);
    return;
  }
  std::string line = "dispatch \"" + scope.ns + "/" + scope.script + "\": " + msg;
  const std::string &id = request_id_of(scope);
  if (!id.empty()) line += ", request_id: " + id;
  if (scope.host_ctx == nullptr && !scope.head.client().empty()) {
    // nginx adds this itself while it holds the request.
    line += ", client: ";
    line += scope.head.client();
    line += ", request: \"";
    line += scope.head.request_line();
    line += '"';
  }
  host_.log(level, line, scope.host_ctx);
}

// Asked of the host once, and only for a request that logs: making one
// (nginx: 16 random bytes) costs more than the rest of the bookkeeping of
// a request.
const std::string &Engine::request_id_of(const RequestScope &scope) const {
  RequestScope &s = const_cast<RequestScope &>(scope);
  if (s.request_id_asked) return s.request_id;
  const dispatch_host_t &raw = host_.raw();
  if (s.chain_root != 0) {
    // a dispatched request: the id of the request that started the chain
    const RequestScope *root = requests_.find(s.chain_root);
    if (root == nullptr) return s.request_id;  // gone: none, asked later again
    s.request_id = request_id_of(*root);
    s.request_id_asked = true;
    return s.request_id;
  }
  if (s.host_ctx == nullptr) return s.request_id;
  s.request_id_asked = true;
  if (raw.request_id != nullptr) {
    char buf[64];
    size_t n = raw.request_id(raw.data, s.host_ctx, buf, sizeof(buf));
    s.request_id.assign(buf, std::min(n, sizeof(buf)));
  }
  return s.request_id;
}

void Engine::log_script(const std::string &ns, const std::string &script,
                        dispatch_log_level_e level, const std::string &msg) const {
  if (limits_.log_json) {
    LogRecord r;
    r.level = level;
    r.ns = &ns;
    r.script = &script;
    r.message = &msg;
    host_.log_raw(level, json_log_line(r), nullptr);
    return;
  }
  host_.log_script(level, ns, script, msg);
}

void Engine::drain_metrics(dispatch_metrics_handler_pt handler, void *ctx,
                           dispatch_worker_metrics_t *worker) {
  metrics_.drain(handler, ctx, worker);
  if (worker == nullptr) return;
  worker->isolates = pool_.size();
  worker->isolate_memory = pool_.memory();
  worker->redis_connected = redis_->connected() ? 1 : 0;
  // The subscription's and KV's connections count with the commands' one.
  std::vector<RedisLink *> links = link_pointers(kv_links_);
  links.push_back(redis_.get());
  links.push_back(events_.get());
  for (RedisLink *link : links) {
    RedisLink::Stats stats = link->take_stats();
    worker->redis_reconnects += stats.reconnects;
    worker->redis_commands += stats.commands;
    worker->redis_command_ms += stats.command_ms;
  }
  ScriptStore::Stats cache = store_.take_stats();
  worker->cache_hits += cache.hits;
  worker->cache_misses += cache.misses;
  worker->cache_revalidations += cache.revalidations;
  AssetStore::Stats assets = assets_.take_stats();
  worker->asset_hits += assets.hits;
  worker->asset_misses += assets.misses;
  worker->asset_cache_bytes = assets_.bytes();
}

}  // namespace dispatch

namespace dispatch {

void Engine::add_fetch(RequestScope &scope, uint64_t id, std::unique_ptr<FetchCall> call) {
  fetch_owner_[id] = scope.id;
  scope.fetches.emplace(id, std::move(call));
}

FetchCall *Engine::find_fetch(uint64_t id, RequestScope **scope) {
  auto owner = fetch_owner_.find(id);
  if (owner == fetch_owner_.end()) return nullptr;
  RequestScope *s = find(owner->second);
  if (s == nullptr) return nullptr;
  auto it = s->fetches.find(id);
  if (it == s->fetches.end()) return nullptr;
  *scope = s;
  return it->second.get();
}

void Engine::add_dispatch(RequestScope &scope, uint64_t id, std::unique_ptr<DispatchCall> call) {
  dispatch_owner_[id] = scope.id;
  scope.dispatches.emplace(id, std::move(call));
}

DispatchCall *Engine::find_dispatch(uint64_t id, RequestScope **scope) {
  auto owner = dispatch_owner_.find(id);
  if (owner == dispatch_owner_.end()) return nullptr;
  RequestScope *s = find(owner->second);
  if (s == nullptr) return nullptr;
  auto it = s->dispatches.find(id);
  if (it == s->dispatches.end()) return nullptr;
  *scope = s;
  return it->second.get();
}

void Engine::pump_dispatch_later(uint64_t id) {
  dispatch_pumps_.push_back(id);
  if (!dispatch_timer_.armed()) dispatch_timer_.start(0);
}

void Engine::start_fetches_later(uint64_t request_id) {
  fetch_starts_.push_back(request_id);
  if (!fetch_timer_.armed()) fetch_timer_.start(0);
}

}  // namespace dispatch

#include "engine.h"

#include "platform.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

constexpr uint64_t kPumpIntervalMs = 100;
// How long ctx.waitUntil work may run after the response (as on Workers).
constexpr uint64_t kWaitUntilMs = 30000;

RedisConfig redis_config(const dispatch_engine_conf_t &conf) {
  RedisConfig rc;
  if (conf.redis_unix) rc.unix_path = conf.redis_unix;
  if (conf.redis_host) rc.host = conf.redis_host;
  rc.port = conf.redis_port;
  rc.db = conf.redis_db;
  if (conf.redis_password) rc.password = conf.redis_password;
  rc.timeout_ms = conf.redis_timeout_ms ? conf.redis_timeout_ms : 1000;
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
  // Room for every live isolate's script and more; bounded all the same.
  sc.max_entries = std::max(sc.max_entries, 4 * or_default(conf.max_isolates, size_t(256)));
  return sc;
}

EngineLimits engine_limits(const dispatch_engine_conf_t &conf) {
  EngineLimits l;
  l.startup_cpu_ms = or_default(conf.startup_cpu_limit_ms, l.startup_cpu_ms);
  l.memory_limit = or_default(conf.memory_limit, l.memory_limit);
  l.worker_memory = or_default(conf.worker_memory, l.worker_memory);
  l.max_isolates = or_default(conf.max_isolates, l.max_isolates);
  l.log_limit = or_default(conf.log_limit, l.log_limit);
  return l;
}

}  // namespace

Engine::Engine(const dispatch_engine_conf_t &conf, const dispatch_host_t &host)
    : host_(host),
      limits_(engine_limits(conf)),
      redis_(host_, redis_config(conf)),
      events_(host_, redis_config(conf)),
      store_(host_, redis_, store_config(conf)),
      kv_(redis_, conf.kv_quota ? conf.kv_quota : uint64_t(1) << 30),
      pool_(*this),
      pump_timer_(host_, [this] {
        pool_.pump();
        pump_timer_.start(kPumpIntervalMs);
      }, true),
      reap_timer_(host_, [this] {
        std::vector<uint64_t> ids;
        ids.swap(to_reap_);
        for (uint64_t id : ids) drop(id);
      }, false) {}

Engine::~Engine() {
  // Requests first, then the connections: Redis callbacks that fire while
  // they close must find no request, and a store still there.
  requests_.clear();
  redis_.close();
  events_.close();
}

bool Engine::init(std::string *err) {
  if (!platform_init(err)) return false;
  if (!pump_timer_.valid()) {
    *err = "cannot create a timer";
    return false;
  }
  if (!watchdog_.start(err)) return false;
  pump_timer_.start(kPumpIntervalMs);
  redis_.connect();
  // Messages may have been missed while the subscription was down: every
  // cached script is revalidated once it is live again.
  events_.subscribe(ScriptStore::kEventsChannel,
                    [this](const std::string &ns_name) { store_.invalidate(ns_name); },
                    [this] { store_.invalidate_all(); });
  return true;
}

Request *Engine::start(const dispatch_request_view_t &view) {
  auto owned = std::make_unique<Request>();
  Request *req = owned.get();
  req->id = next_id_++;
  req->host_ctx = view.ctx;
  req->ns.assign(view.ns.data, view.ns.len);
  req->script.assign(view.script.data, view.script.len);
  req->method.assign(view.method.data, view.method.len);
  req->url.assign(view.url.data, view.url.len);
  req->headers.reserve(view.nheaders);
  for (size_t i = 0; i < view.nheaders; i++) {
    const dispatch_header_t &h = view.headers[i];
    req->headers.emplace_back(std::string(h.name.data, h.name.len),
                              std::string(h.value.data, h.value.len));
  }
  if (view.body.len) req->body.assign(view.body.data, view.body.len);
  req->cpu_limit_ms = or_default(view.cpu_limit_ms, req->cpu_limit_ms);
  req->wall_limit_ms = or_default(view.wall_limit_ms, req->wall_limit_ms);
  req->script_concurrency = or_default(view.script_concurrency, req->script_concurrency);
  requests_.emplace(req->id, std::move(owned));

  if (!dispatch_name_valid(req->ns.data(), req->ns.size()) ||
      !dispatch_name_valid(req->script.data(), req->script.size())) {
    finish(*req, DISPATCH_OUTCOME_NOT_FOUND);
    return req;
  }

  uint64_t id = req->id;
  req->wall_timer = std::make_unique<Timer>(host_, [this, id] {
    Request *r = find(id);
    if (r == nullptr) return;
    host_.log_script(DISPATCH_LOG_WARN, r->ns, r->script,
                     "no Response within dispatch_wall_limit (" +
                     std::to_string(r->wall_limit_ms) + "ms): exceeded_wall");
    finish(*r, DISPATCH_OUTCOME_EXCEEDED_WALL);
  }, false);
  req->wall_timer->start(req->wall_limit_ms);

  store_.load(req->ns, req->script,
              [this, id](const ScriptLoad &load) { on_script_loaded(id, load); });
  return req;
}

void Engine::on_script_loaded(uint64_t id, const ScriptLoad &load) {
  Request *req = find(id);
  if (req == nullptr || req->done) return;  // gone, or out of time

  switch (load.status) {
    case ScriptLoad::Status::kNotFound:
      finish(*req, DISPATCH_OUTCOME_NOT_FOUND);
      return;
    case ScriptLoad::Status::kUnavailable:
      host_.log_script(DISPATCH_LOG_ERR, req->ns, req->script,
                       "cannot load the script: " + load.error);
      finish(*req, DISPATCH_OUTCOME_STORE_UNAVAILABLE);
      return;
    case ScriptLoad::Status::kInvalid:
      host_.log_script(DISPATCH_LOG_ERR, req->ns, req->script,
                       "the stored script is invalid: " + load.error);
      finish(*req, DISPATCH_OUTCOME_EXCEPTION);
      return;
    case ScriptLoad::Status::kFound:
      break;
  }

  std::string err;
  dispatch_outcome_e outcome = DISPATCH_OUTCOME_EXCEPTION;
  std::shared_ptr<TenantIsolate> isolate = pool_.acquire(load.script, &err, &outcome);
  if (!isolate) {
    host_.log_script(DISPATCH_LOG_ERR, req->ns, req->script,
                     "the script failed to start: " + err);
    finish(*req, outcome);
    return;
  }
  if (isolate->in_flight() >= req->script_concurrency) {
    host_.log_script(DISPATCH_LOG_WARN, req->ns, req->script,
                     "dispatch_script_concurrency (" +
                     std::to_string(req->script_concurrency) + ") reached: overloaded");
    finish(*req, DISPATCH_OUTCOME_OVERLOADED);
    return;
  }
  // The script's own metadata.limits.cpu_ms bounds it too: the smaller wins.
  if (isolate->cpu_limit_ms()) {
    req->cpu_limit_ms = std::min(req->cpu_limit_ms, isolate->cpu_limit_ms());
  }
  req->isolate = std::move(isolate);
  req->isolate->run(*req);
}

Request *Engine::find(uint64_t id) {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

void Engine::finish(Request &req, dispatch_outcome_e outcome) {
  if (req.done) return;
  req.done = true;
  req.outcome = outcome;
  req.wall_timer.reset();
  if (req.isolate) req.isolate->forget(req.id);
  if (outcome != DISPATCH_OUTCOME_OK) {
    req.status = dispatch_outcome_status(outcome);
    req.response_headers.clear();
    req.response_body.clear();
  }
  req.header_views.clear();
  req.header_views.reserve(req.response_headers.size());
  for (const auto &h : req.response_headers) {
    req.header_views.push_back({{h.first.data(), h.first.size()},
                                {h.second.data(), h.second.size()}});
  }
  // A request the host released (waitUntil work lingering) has no one to wake.
  if (req.host_ctx) host_.wake(req.host_ctx);
}

void Engine::release(Request *req) {
  if (req->waits > 0 && req->isolate && !req->isolate->dead()) {
    // The response is out; ctx.waitUntil work goes on, on our side only.
    req->released = true;
    req->host_ctx = nullptr;
    uint64_t id = req->id;
    req->linger_timer = std::make_unique<Timer>(host_, [this, id] {
      Request *r = find(id);
      if (r == nullptr) return;
      host_.log_script(DISPATCH_LOG_WARN, r->ns, r->script,
                       "ctx.waitUntil() work still running after 30s is stopped");
      reap_later(id);
    }, false);
    req->linger_timer->start(kWaitUntilMs);
    return;
  }
  // Dropping the request drops its hold on the isolate; an isolate that was
  // retired or replaced is disposed here, outside any V8 scope.
  drop(req->id);
}

void Engine::drop(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request &req = *it->second;
  if (req.log_suppressed) {
    host_.log_script(DISPATCH_LOG_WARN, req.ns, req.script,
                     std::to_string(req.log_suppressed) +
                     " console line(s) past dispatch_log_limit (" +
                     std::to_string(limits_.log_limit) + ") were not written");
  }
  if (req.isolate) req.isolate->end_request(id);
  requests_.erase(it);
}

void Engine::retire(TenantIsolate *isolate) {
  pool_.retire(isolate);
  for (const auto &entry : requests_) {
    const Request &r = *entry.second;
    if (r.released && r.isolate.get() == isolate) reap_later(r.id);
  }
}

void Engine::wait_begin(uint64_t id) {
  if (Request *req = find(id)) req->waits++;
}

void Engine::wait_end(uint64_t id) {
  Request *req = find(id);
  if (req == nullptr || req->waits == 0) return;
  if (--req->waits == 0 && req->released) reap_later(id);
}

void Engine::reap_later(uint64_t id) {
  to_reap_.push_back(id);
  if (!reap_timer_.armed()) reap_timer_.start(0);
}

}  // namespace dispatch

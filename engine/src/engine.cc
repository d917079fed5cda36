#include "engine.h"

#include "platform.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

constexpr uint64_t kPumpIntervalMs = 100;

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

}  // namespace

Engine::Engine(const dispatch_engine_conf_t &conf, const dispatch_host_t &host)
    : host_(host),
      redis_(host_, redis_config(conf)),
      store_(redis_, conf.script_max_size ? conf.script_max_size : 10 << 20),
      pool_(*this),
      pump_timer_(host_, [this] {
        pool_.pump();
        pump_timer_.start(kPumpIntervalMs);
      }, true) {}

Engine::~Engine() {
  // Requests first: Redis callbacks that fire while the client closes must
  // find none of them.
  requests_.clear();
}

bool Engine::init(std::string *err) {
  if (!platform_init(err)) return false;
  if (!pump_timer_.valid()) {
    *err = "cannot create a timer";
    return false;
  }
  pump_timer_.start(kPumpIntervalMs);
  redis_.connect();
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
  requests_.emplace(req->id, std::move(owned));

  if (!dispatch_name_valid(req->ns.data(), req->ns.size()) ||
      !dispatch_name_valid(req->script.data(), req->script.size())) {
    finish(*req, DISPATCH_OUTCOME_NOT_FOUND);
    return req;
  }

  uint64_t id = req->id;
  store_.load(req->ns, req->script, [this, id](ScriptLoad load) {
    on_script_loaded(id, std::move(load));
  });
  return req;
}

void Engine::on_script_loaded(uint64_t id, ScriptLoad load) {
  Request *req = find(id);
  if (req == nullptr) return;  // the client went away meanwhile

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
  req->isolate = pool_.acquire(load.script, &err);
  if (!req->isolate) {
    host_.log_script(DISPATCH_LOG_ERR, req->ns, req->script,
                     "the script failed to start: " + err);
    finish(*req, DISPATCH_OUTCOME_EXCEPTION);
    return;
  }
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
  host_.wake(req.host_ctx);
}

void Engine::finish_ok(Request &req) { finish(req, DISPATCH_OUTCOME_OK); }

void Engine::release(Request *req) {
  // Dropping the request drops its hold on the isolate; an isolate that a
  // newer version replaced is disposed here, outside any V8 scope.
  requests_.erase(req->id);
}

}  // namespace dispatch

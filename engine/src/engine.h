// engine.h: one engine per worker process: the store, the isolates and the
// requests in flight.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "host.h"
#include "isolate_pool.h"
#include "redis_client.h"
#include "request.h"
#include "script_store.h"

namespace dispatch {

class Engine {
 public:
  Engine(const dispatch_engine_conf_t &conf, const dispatch_host_t &host);
  ~Engine();

  bool init(std::string *err);

  Request *start(const dispatch_request_view_t &view);
  void release(Request *req);

  // Callbacks from JavaScript find their request by id: a request the host
  // released is simply not found.
  Request *find(uint64_t id);

  // Ends a request and wakes the host for it.
  void finish(Request &req, dispatch_outcome_e outcome);
  void finish_ok(Request &req);

  const Host &host() const { return host_; }

 private:
  void on_script_loaded(uint64_t id, ScriptLoad load);

  Host host_;
  RedisClient redis_;
  ScriptStore store_;
  IsolatePool pool_;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  uint64_t next_id_ = 1;
  Timer pump_timer_;
};

}  // namespace dispatch

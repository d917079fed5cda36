// engine.h: one engine per worker process: the store, the isolates, the
// CPU watchdog and the requests in flight.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "cpu_watchdog.h"
#include "host.h"
#include "isolate_pool.h"
#include "kv_store.h"
#include "redis_client.h"
#include "request.h"
#include "script_store.h"

namespace dispatch {

struct EngineLimits {
  uint64_t startup_cpu_ms = 1000;      // dispatch_startup_cpu_limit
  size_t memory_limit = 128u << 20;    // dispatch_memory_limit
  size_t worker_memory = 2048u << 20;  // dispatch_worker_memory
  size_t max_isolates = 256;           // dispatch_isolates
  uint32_t log_limit = 100;            // dispatch_log_limit
};

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
  void finish_ok(Request &req) { finish(req, DISPATCH_OUTCOME_OK); }

  // A limit stopped this isolate: the pool lets it go, and requests that
  // linger on it for ctx.waitUntil end now rather than hold it for 30 s.
  void retire(TenantIsolate *isolate);

  // ctx.waitUntil(promise) began / settled for request id.
  void wait_begin(uint64_t id);
  void wait_end(uint64_t id);

  const Host &host() const { return host_; }
  const EngineLimits &limits() const { return limits_; }
  CpuWatchdog &watchdog() { return watchdog_; }
  KvStore &kv() { return kv_; }

 private:
  void on_script_loaded(uint64_t id, const ScriptLoad &load);
  // Ends a released request from the loop: never from inside V8, since
  // its isolate may go with it.
  void reap_later(uint64_t id);
  // The request is over: its timers go, and the log hears what it did not write.
  void drop(uint64_t id);

  Host host_;
  EngineLimits limits_;
  RedisClient redis_;
  RedisClient events_;  // the dispatch:events subscription
  ScriptStore store_;
  KvStore kv_;
  CpuWatchdog watchdog_;
  IsolatePool pool_;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  uint64_t next_id_ = 1;
  Timer pump_timer_;
  Timer reap_timer_;
  std::vector<uint64_t> to_reap_;
};

}  // namespace dispatch

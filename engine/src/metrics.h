// metrics.h: what this worker counted since the host last drained it, for
// dispatch_status. Plain counters on the event-loop thread, no lock: the
// host adds them into its shared-memory zone at most once a second.
#pragma once

#include <string>
#include <unordered_map>

#include "dispatch_engine.h"

namespace dispatch {

class RequestScope;

struct ScriptMetrics {
  uint64_t requests[DISPATCH_OUTCOMES] = {};
  double cpu_ms = 0;
  uint64_t wall[DISPATCH_WALL_BUCKETS] = {};
  double wall_ms = 0;
  uint64_t subrequests = 0;
  uint64_t kv_ops = 0;
  uint64_t kv_bytes = 0;
  uint64_t response_bytes = 0;
  uint64_t isolates_created = 0;
  double startup_ms = 0;
  uint64_t log_lines_dropped = 0;
  uint64_t log_bytes_dropped = 0;
};

struct WorkerCounters {
  uint64_t isolates_created = 0;
  uint64_t retired[DISPATCH_RETIRE_REASONS] = {};
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t cache_revalidations = 0;
  uint64_t redis_reconnects = 0;
  uint64_t redis_commands = 0;
  double redis_command_ms = 0;
  uint64_t idle_collections = 0;
};

class Metrics {
 public:
  // A script's counters: two hash lookups with strings the caller already
  // holds; a node is allocated only the first time the script is seen
  // since the last drain.
  ScriptMetrics &script(const std::string &ns, const std::string &name) {
    return scripts_[ns][name];
  }

  // A request ended: everything it counted goes to its script.
  void request_ended(const RequestScope &scope, double now_ms);
  // An isolate was started for the script, successfully (created) or not.
  void isolate_started(const std::string &ns, const std::string &name, double startup_ms,
                       bool created);

  WorkerCounters &worker() { return worker_; }

  // Hands every script's deltas and the worker's to the host, then
  // forgets them. Gauges are the caller's to fill in.
  void drain(dispatch_metrics_handler_pt handler, void *ctx, dispatch_worker_metrics_t *out);

 private:
  // The counters of the script that ran the request: through the pointer
  // its ScriptSource keeps when it is from this drain, else by name.
  ScriptMetrics &script_of(const RequestScope &scope);

  std::unordered_map<std::string, std::unordered_map<std::string, ScriptMetrics>> scripts_;
  WorkerCounters worker_;
  // This instance's drain: numbered across every Metrics of the process,
  // so a pointer kept for one never passes for another's (0 is none).
  uint64_t drain_id_ = next_drain_id();
  static uint64_t next_drain_id();
};

}  // namespace dispatch

#include "metrics.h"

#include <atomic>

#include "request_scope.h"
#include "script_store.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {

constexpr uint64_t kWallBucketsMs[DISPATCH_WALL_BUCKETS] = DISPATCH_WALL_BUCKETS_MS;

size_t wall_bucket(double ms) {
  for (size_t i = 0; i + 1 < DISPATCH_WALL_BUCKETS; i++) {
    if (ms <= double(kWallBucketsMs[i])) return i;
  }
  return DISPATCH_WALL_BUCKETS - 1;
}

}  // namespace

uint64_t Metrics::next_drain_id() {
  static std::atomic<uint64_t> last{0};
  return ++last;
}

ScriptMetrics &Metrics::script_of(const RequestScope &scope) {
  // Among many tenants the two lookups by name miss the CPU's caches; the
  // isolate's ScriptSource is at hand (its names checked: the series is
  // the request's).
  const ScriptSource *source = scope.isolate ? scope.isolate->script_ptr().get() : nullptr;
  if (source != nullptr && source->metrics_drain == drain_id_ && source->ns == scope.ns &&
      source->name == scope.script) {
    return *source->metrics;
  }
  // A name that cannot be a script's (a client's junk), or that is no
  // script's (not_found), gets no series of its own: its request is
  // counted in the host's fold of last resort. Seats are given up only
  // after 10 minutes idle and namespace folds never, so a client asking
  // for a few hundred names that do not exist would otherwise fold every
  // tenant's script that came after into its namespace, or into "*".
  static const std::string none;
  bool named = dispatch_name_valid(scope.ns.data(), scope.ns.size()) &&
               dispatch_name_valid(scope.script.data(), scope.script.size());
  if (!named || scope.outcome == DISPATCH_OUTCOME_NOT_FOUND) return script(none, none);
  ScriptMetrics &m = script(scope.ns, scope.script);
  if (source != nullptr && source->ns == scope.ns && source->name == scope.script) {
    // unordered_map nodes stay put until drain() clears them (and counts).
    source->metrics = &m;
    source->metrics_drain = drain_id_;
  }
  return m;
}

void Metrics::request_ended(const RequestScope &scope, double now_ms) {
  ScriptMetrics &m = script_of(scope);
  unsigned outcome = unsigned(scope.outcome);
  if (outcome < DISPATCH_OUTCOMES) m.requests[outcome]++;
  // Until its Response (or its failure); a request that never got one
  // (its client went away) until it ended.
  double end = scope.responded_ms > 0 ? scope.responded_ms : now_ms;
  double wall = end > scope.started_ms ? end - scope.started_ms : 0;
  m.wall[wall_bucket(wall)]++;
  m.wall_ms += wall;
  m.cpu_ms += scope.cpu_ms;
  m.subrequests += scope.subrequests;
  m.kv_ops += scope.kv_ops;
  m.kv_bytes += scope.kv_bytes;
  m.response_bytes += scope.response_bytes;
  m.log_lines_dropped += scope.log_suppressed;
  m.log_bytes_dropped += scope.log_bytes_dropped;
}

void Metrics::isolate_started(const std::string &ns, const std::string &name,
                              double startup_ms, bool created) {
  ScriptMetrics &m = script(ns, name);
  m.startup_ms += startup_ms;
  if (!created) return;
  m.isolates_created++;
  worker_.isolates_created++;
}

void Metrics::drain(dispatch_metrics_handler_pt handler, void *ctx,
                    dispatch_worker_metrics_t *out) {
  if (handler != nullptr) {
    for (const auto &ns : scripts_) {
      for (const auto &entry : ns.second) {
        const ScriptMetrics &m = entry.second;
        dispatch_script_metrics_t v{};
        v.ns = {ns.first.data(), ns.first.size()};
        v.script = {entry.first.data(), entry.first.size()};
        for (size_t i = 0; i < DISPATCH_OUTCOMES; i++) v.requests[i] = m.requests[i];
        v.cpu_ms = m.cpu_ms;
        for (size_t i = 0; i < DISPATCH_WALL_BUCKETS; i++) v.wall[i] = m.wall[i];
        v.wall_ms = m.wall_ms;
        v.subrequests = m.subrequests;
        v.kv_ops = m.kv_ops;
        v.kv_bytes = m.kv_bytes;
        v.response_bytes = m.response_bytes;
        v.isolates_created = m.isolates_created;
        v.startup_ms = m.startup_ms;
        v.log_lines_dropped = m.log_lines_dropped;
        v.log_bytes_dropped = m.log_bytes_dropped;
        handler(ctx, &v);
      }
    }
  }
  scripts_.clear();
  drain_id_ = next_drain_id();  // every ScriptSource's pointer is stale now
  if (out != nullptr) {
    out->isolates_created = worker_.isolates_created;
    for (size_t i = 0; i < DISPATCH_RETIRE_REASONS; i++) out->retired[i] = worker_.retired[i];
    out->cache_hits = worker_.cache_hits;
    out->cache_misses = worker_.cache_misses;
    out->cache_revalidations = worker_.cache_revalidations;
    out->redis_reconnects = worker_.redis_reconnects;
    out->redis_commands = worker_.redis_commands;
    out->redis_command_ms = worker_.redis_command_ms;
    out->idle_collections = worker_.idle_collections;
  }
  worker_ = WorkerCounters();
}

}  // namespace dispatch

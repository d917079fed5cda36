#include "isolate_pool.h"

#include <libplatform/libplatform.h>

#include "clock.h"
#include "engine.h"
#include "platform.h"
#include "tenant_isolate.h"

namespace dispatch {

namespace {
// What a new isolate is counted as before it has run: an empty isolate,
// its context and the built-ins.
constexpr size_t kNewIsolateBytes = 4u << 20;
}  // namespace

IsolatePool::~IsolatePool() = default;

size_t IsolatePool::memory() const {
  size_t total = 0;
  for (const auto &s : slots_) total += s.second.isolate->memory();
  for (size_t i = 0; i < retired_.size();) {
    if (std::shared_ptr<TenantIsolate> alive = retired_[i].lock()) {
      total += alive->memory();
      i++;
    } else {
      retired_[i] = std::move(retired_.back());
      retired_.pop_back();
    }
  }
  return total;
}

void IsolatePool::remember_retired(const std::shared_ptr<TenantIsolate> &isolate) {
  if (isolate.use_count() > 1) retired_.push_back(isolate);
}

void IsolatePool::erase(std::unordered_map<std::string, Slot>::iterator it) {
  remember_retired(it->second.isolate);
  lru_.erase(it->second.lru);
  slots_.erase(it);
}

std::shared_ptr<TenantIsolate> IsolatePool::acquire(
    const std::shared_ptr<const ScriptSource> &script, std::string *err,
    dispatch_outcome_e *outcome) {
  std::string key = script->ns + "/" + script->name;
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    const std::shared_ptr<TenantIsolate> &live = it->second.isolate;
    // The cache hands out the same ScriptSource while it is unchanged, so
    // the pointer comparison settles nearly every request.
    if (!live->dead() && (live->script_ptr() == script || live->script().same_version(*script))) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return live;
    }
    // A broken new version must not fall back to the old isolate the writer
    // meant to replace.
    engine_.metrics().worker().retired[DISPATCH_RETIRE_VERSION]++;
    erase(it);
  }

  if (!make_room(err)) {
    *outcome = DISPATCH_OUTCOME_OVERLOADED;
    return nullptr;
  }
  double started = clock_ms(CLOCK_MONOTONIC);
  std::shared_ptr<TenantIsolate> isolate = TenantIsolate::create(engine_, script, err, outcome);
  // A start that failed (a syntax error, a top level past its limit) took
  // its time all the same.
  engine_.metrics().isolate_started(script->ns, script->name,
                                    clock_ms(CLOCK_MONOTONIC) - started, isolate != nullptr);
  if (!isolate) return nullptr;
  lru_.push_front(key);
  slots_[key] = Slot{isolate, lru_.begin()};
  return isolate;
}

// Retires idle isolates, least recently used first, until a new one fits
// under both dispatch_isolates and dispatch_worker_memory.
bool IsolatePool::make_room(std::string *err) {
  const EngineLimits &limits = engine_.limits();
  size_t total = memory();
  auto victim = lru_.end();
  while ((slots_.size() >= limits.max_isolates ||
          total + kNewIsolateBytes > limits.worker_memory) &&
         victim != lru_.begin()) {
    --victim;
    auto it = slots_.find(*victim);
    if (it->second.isolate->in_flight() > 0) continue;  // never a busy one
    engine_.metrics().worker().retired[slots_.size() >= limits.max_isolates
                                           ? DISPATCH_RETIRE_LRU
                                           : DISPATCH_RETIRE_MEMORY]++;
    total -= it->second.isolate->memory();
    remember_retired(it->second.isolate);
    victim = lru_.erase(victim);
    slots_.erase(it);
  }
  // Isolates out of the pool that only lingering ctx.waitUntil() work keeps
  // (old versions, evicted ones) give way next: that work is best effort,
  // and other tenants must not be refused for it.
  total = memory();
  std::vector<std::weak_ptr<TenantIsolate>> candidates = retired_;
  for (const auto &weak : candidates) {
    if (total + kNewIsolateBytes <= limits.worker_memory) break;
    TenantIsolate *isolate = nullptr;
    if (std::shared_ptr<TenantIsolate> alive = weak.lock()) isolate = alive.get();
    if (isolate == nullptr) continue;
    engine_.end_lingering_on(isolate);  // may dispose it: no reference held here
    total = memory();
  }
  if (total + kNewIsolateBytes > limits.worker_memory) {
    *err = "dispatch_worker_memory (" + std::to_string(limits.worker_memory >> 20) +
           "m) is taken by isolates with requests in flight: overloaded";
    return false;
  }
  // Over dispatch_isolates only while every isolate is busy: requests in
  // flight are never failed to make room.
  return true;
}

void IsolatePool::retire(TenantIsolate *isolate) {
  auto it = slots_.find(isolate->script().ns + "/" + isolate->script().name);
  if (it != slots_.end() && it->second.isolate.get() == isolate) {
    engine_.metrics().worker().retired[DISPATCH_RETIRE_LIMIT]++;
    erase(it);
  }
}

void IsolatePool::pump() { platform_pump(); }

}  // namespace dispatch

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
// After a prepared isolate was taken, the next is made this much later:
// after the response that took it is on its way, never in its turn.
constexpr uint64_t kPrepareDelayMs = 10;
// An isolate idle this many pump ticks (100 ms each) gives back its spare
// memory. A collection costs ~2.5 ms of the worker's thread, and the next
// request rebuilds what it dropped (map transitions: ~175,000 instructions,
// about two requests' worth; after a few of them V8 also flushes the
// bytecode of functions not run since, compiled again when next used), so
// only an isolate idle for a good while is worth it: at most one collection
// per tenant per minute. One per tick: the event loop is held up ~3 ms at
// most per 100 ms (a request arriving then waits that long).
constexpr uint64_t kIdleTicksBeforeReduce = 600;
// While no isolate was made for this many pump ticks, the heap chunks the
// worker keeps for new isolates (page_recycler.h, up to 64 MiB) go back to
// the kernel, at that rate (disposals may free more meanwhile): they only
// pay while isolates come and go.
constexpr uint64_t kTicksBeforeKeptPagesGo = 100;
constexpr int kReducePerTick = 1;
// Isolates reduce_idle() looks at in one tick, at most: those used since
// they took their place are moved to the front on the way.
constexpr int kIdleSeenPerTick = 32;
}  // namespace

IsolatePool::IsolatePool(Engine &engine)
    : engine_(engine),
      prepare_timer_(engine.host(), [this] { prepare_one(); }, true),
      dispose_timer_(engine.host(), [this] { dispose_now(); }, true),
      code_cache_timer_(engine.host(), [this] { make_code_caches(); }, true) {}

IsolatePool::~IsolatePool() {
  // The ScriptSources may outlive the pool (the script store's cache).
  for (auto &entry : slots_) unlink(entry);
}

void IsolatePool::link(SlotEntry &entry) { entry.second.isolate->script_ptr()->pool_slot = &entry; }

void IsolatePool::unlink(SlotEntry &entry) {
  const ScriptSource *script = entry.second.isolate->script_ptr().get();
  if (script->pool_slot == &entry) script->pool_slot = nullptr;
}

size_t IsolatePool::memory() const {
  size_t total = 0;
  for (const auto &s : slots_) total += s.second.isolate->memory();
  for (const auto &p : prepared_) total += p->memory();
  for (const auto &d : disposing_) total += d->memory();
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

void IsolatePool::let_go(std::shared_ptr<TenantIsolate> isolate) {
  if (isolate.use_count() > 1) {
    remember_retired(isolate);
    return;
  }
  // Disposing an isolate takes a good part of a cold start (its heap
  // unmapped page by page): done after the response of the request that
  // evicted it, from a timer that fires in the loop's next turn (a timer
  // of 0 ms would fire before the response is sent).
  disposing_.push_back(std::move(isolate));
  if (!dispose_timer_.armed()) dispose_timer_.start(1);
}

void IsolatePool::dispose_now() {
  std::vector<std::shared_ptr<TenantIsolate>> gone;
  gone.swap(disposing_);
  gone.clear();  // ~TenantIsolate: Dispose()
}

void IsolatePool::erase(std::unordered_map<std::string, Slot>::iterator it) {
  unlink(*it);
  std::shared_ptr<TenantIsolate> isolate = std::move(it->second.isolate);
  lru_.erase(it->second.lru);
  if (it->second.unreduced) unreduced_.erase(it->second.idle);
  slots_.erase(it);
  let_go(std::move(isolate));
}

// A request for it: stamped, its idle time starting over. Not moved in
// lru_ or unreduced_: with a thousand tenants in turn, moving a node
// touched its two neighbours too, cold in the CPU's caches on every
// request. The walks move it when they come to it (make_room, reduce_idle).
void IsolatePool::touch(Slot &slot, const std::string &key) {
  slot.last_use = ++uses_;
  if (!slot.unreduced) {
    unreduced_.push_front(key);
    slot.idle = unreduced_.begin();
    slot.unreduced = true;
  }
  slot.used_at = tick_;
}

std::shared_ptr<TenantIsolate> IsolatePool::acquire(
    const std::shared_ptr<const ScriptSource> &script, std::string *err,
    dispatch_outcome_e *outcome) {
  // The warm path: this load's own isolate, still in the pool (its slot
  // unlinks itself when it leaves), and not stopped.
  if (script->pool_slot != nullptr) {
    SlotEntry &entry = *static_cast<SlotEntry *>(script->pool_slot);
    if (!entry.second.isolate->dead()) {
      touch(entry.second, entry.first);
      return entry.second.isolate;
    }
  }
  std::string key = script->ns + "/" + script->name;
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    const std::shared_ptr<TenantIsolate> &live = it->second.isolate;
    // The cache hands out the same ScriptSource while it is unchanged, so
    // the pointer comparison settles nearly every request.
    if (!live->dead() && (live->script_ptr() == script || live->script().same_version(*script))) {
      touch(it->second, it->first);
      return live;
    }
    // A broken new version must not fall back to the old isolate the writer
    // meant to replace.
    engine_.metrics().worker().retired[DISPATCH_RETIRE_VERSION]++;
    live->stop_websockets(1012, "a new version of the script");
    erase(it);
  }

  double started = clock_ms(CLOCK_MONOTONIC);
  std::shared_ptr<TenantIsolate> isolate;
  if (!prepared_.empty()) {
    // Counted already, among the isolates and their memory: no room to make.
    isolate = take_prepared(script, err, outcome);
  } else {
    if (!make_room(script->ns, err)) {
      *outcome = DISPATCH_OUTCOME_OVERLOADED;
      return nullptr;
    }
    isolate = TenantIsolate::create(engine_, script, err, outcome);
  }
  // A start that failed (a syntax error, a top level past its limit) took
  // its time all the same.
  engine_.metrics().isolate_started(script->ns, script->name,
                                    clock_ms(CLOCK_MONOTONIC) - started, isolate != nullptr);
  started_at_ = tick_;
  if (!isolate) return nullptr;
  if (isolate->wants_code_caches()) {
    code_caches_wanted_.push_back(isolate);
    // Not 0 ms: nginx runs due timers before the posted events that write
    // the first answer out.
    if (!code_cache_timer_.armed()) code_cache_timer_.start(1);
  }
  lru_.push_front(key);
  unreduced_.push_front(key);
  auto slot = slots_.try_emplace(key).first;
  if (slot->second.isolate) unlink(*slot);
  uses_++;
  slot->second = Slot{isolate, lru_.begin(), true, unreduced_.begin(), tick_, uses_, uses_};
  // Only when the isolate was built from this very load: another load of
  // the same version keeps to the lookup by name (its pointer is not the
  // isolate's, which unlink() clears).
  if (isolate->script_ptr() == script) link(*slot);
  return isolate;
}

void IsolatePool::make_code_caches() {
  if (code_caches_wanted_.empty()) return;
  std::shared_ptr<TenantIsolate> isolate = code_caches_wanted_.front().lock();
  code_caches_wanted_.pop_front();
  if (isolate && isolate->wants_code_caches()) isolate->make_code_caches();
  if (!code_caches_wanted_.empty()) code_cache_timer_.start(1);
}

// An idle isolate out of the pool; the entry of lru_ after its own.
std::list<std::string>::iterator IsolatePool::retire_idle(
    std::unordered_map<std::string, Slot>::iterator it, dispatch_retire_reason_e why) {
  engine_.metrics().worker().retired[why]++;
  unlink(*it);
  std::shared_ptr<TenantIsolate> isolate = std::move(it->second.isolate);
  isolate->stop_websockets(1001, "the isolate made room for others");
  if (it->second.unreduced) unreduced_.erase(it->second.idle);
  auto next = lru_.erase(it->second.lru);
  slots_.erase(it);
  let_go(std::move(isolate));
  return next;
}

// A full pool where ns holds half the isolates or more: its own least
// recently used idle one makes room. Otherwise one namespace's many
// scripts in turn (a router, or a client naming thousands of scripts
// through `dispatch NS $arg_s`) retired every other namespace's isolates,
// all cold starts. One walk of the pool, as make_room's of its memory.
void IsolatePool::retire_own(const std::string &ns, size_t max_isolates) {
  size_t own = 0;
  auto oldest = slots_.end();
  for (auto it = slots_.begin(); it != slots_.end(); ++it) {
    const std::string &key = it->first;
    if (key.size() <= ns.size() || key[ns.size()] != '/' || key.compare(0, ns.size(), ns) != 0) {
      continue;
    }
    own++;
    if (it->second.isolate->in_flight() > 0) continue;
    if (oldest == slots_.end() || it->second.last_use < oldest->second.last_use) oldest = it;
  }
  if (own * 2 < max_isolates || oldest == slots_.end()) return;
  retire_idle(oldest, DISPATCH_RETIRE_LRU);
}

// Retires idle isolates, least recently used first, until a new one fits
// under both dispatch_isolates and dispatch_worker_memory. One walk of the
// pool's memory per start (under churn every request is one, and the walk
// visits every isolate: cache misses across 256 of them): the isolates
// retired here move to disposing_ and count there, so the walk after the
// count's evictions stays the total until something is disposed.
bool IsolatePool::make_room(const std::string &ns, std::string *err) {
  const EngineLimits &limits = engine_.limits();
  if (slots_.size() >= limits.max_isolates) retire_own(ns, limits.max_isolates);
  auto victim = lru_.end();
  size_t retired_bytes = 0;  // of those retired here, counted still
  auto retire_next = [&](dispatch_retire_reason_e why) {
    --victim;
    auto it = slots_.find(*victim);
    Slot &slot = it->second;
    if (slot.listed_use != slot.last_use) {
      // Used since it took its place: it goes first (the walk meets it last,
      // when all it passed were used less recently). Of those not used since,
      // the last is the least recently used of all.
      slot.listed_use = slot.last_use;
      auto used = victim++;
      lru_.splice(lru_.begin(), lru_, used);
      return;
    }
    if (slot.isolate->in_flight() > 0) return;  // never a busy one
    retired_bytes += it->second.isolate->memory();
    victim = retire_idle(it, why);
  };
  while (slots_.size() >= limits.max_isolates && victim != lru_.begin()) {
    retire_next(DISPATCH_RETIRE_LRU);
  }
  size_t total = memory();
  while (total - retired_bytes + kNewIsolateBytes > limits.worker_memory &&
         victim != lru_.begin()) {
    retire_next(DISPATCH_RETIRE_MEMORY);
  }
  // Those evicted and not yet disposed hold memory still (total counts
  // them): when it is needed, they go now.
  if (!disposing_.empty() && total + kNewIsolateBytes > limits.worker_memory) {
    dispose_now();
    total = memory();
  }
  // Isolates out of the pool that only lingering ctx.waitUntil() work keeps
  // (old versions, evicted ones) give way next: that work is best effort,
  // and other tenants must not be refused for it.
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

void IsolatePool::pump() {
  tick_++;
  platform_pump();
  if (tick_ >= started_at_ + kTicksBeforeKeptPagesGo && tick_ % kTicksBeforeKeptPagesGo == 0) {
    platform_release_kept_pages();
  }
  reduce_idle();
  prepare_later();  // room may have been made since
}

std::shared_ptr<TenantIsolate> IsolatePool::take_prepared(
    const std::shared_ptr<const ScriptSource> &script, std::string *err,
    dispatch_outcome_e *outcome) {
  std::shared_ptr<TenantIsolate> isolate = std::move(prepared_.back());
  prepared_.pop_back();
  prepare_later();
  engine_.log_script(script->ns, script->name, DISPATCH_LOG_INFO,
                     "starts in a prepared isolate");
  // A top level that fails takes the isolate with it: whatever it ran
  // there stays there.
  if (!isolate->adopt(script, err, outcome)) return nullptr;
  return isolate;
}

void IsolatePool::prepare_later() {
  const EngineLimits &limits = engine_.limits();
  if (limits.prepared_isolates > prepared_.size() && !prepare_timer_.armed() &&
      slots_.size() + prepared_.size() < limits.max_isolates) {
    prepare_timer_.start(kPrepareDelayMs);
  }
}

void IsolatePool::prepare_one() {
  const EngineLimits &limits = engine_.limits();
  const dispatch_host_t &host = engine_.host().raw();
  if (prepared_.size() >= limits.prepared_isolates) return;
  if (host.exiting != nullptr && host.exiting(host.data)) return;
  // Only where there is room: a tenant's isolate never gives way to one.
  if (slots_.size() + prepared_.size() >= limits.max_isolates ||
      memory() + kNewIsolateBytes > limits.worker_memory) {
    return;
  }
  std::string err;
  std::shared_ptr<TenantIsolate> isolate = TenantIsolate::prepare(engine_, &err);
  if (!isolate) {
    // Not again from here: the next isolate taken or made tries again.
    engine_.host().log(DISPATCH_LOG_WARN, "dispatch: cannot prepare an isolate: " + err);
    return;
  }
  prepared_.push_back(std::move(isolate));
  prepare_later();
}

// An idle isolate keeps what its last requests touched: a new space with
// both halves committed, half-empty pages, a grown map space (~0.14 MB of
// a hello-world isolate's ~1.76 MB RSS). V8 gives those back only after a full GC, which a small
// heap never reaches on its own, so the least recently used of those not
// yet reduced are collected here, between requests, a few per tick.
void IsolatePool::reduce_idle() {
  int seen = 0;
  for (int done = 0; done < kReducePerTick && !unreduced_.empty() && seen++ < kIdleSeenPerTick;) {
    auto it = slots_.find(unreduced_.back());
    Slot &slot = it->second;
    if (slot.used_at + kIdleTicksBeforeReduce > tick_) {
      // Used since it took its place (touch() does not move it): to the
      // front, and the next one is looked at.
      unreduced_.splice(unreduced_.begin(), unreduced_, slot.idle);
      continue;
    }
    unreduced_.pop_back();
    slot.unreduced = false;
    if (slot.isolate->reduce_memory()) {
      engine_.metrics().worker().idle_collections++;
      done++;
    } else if (slot.isolate->in_flight() > 0) {
      touch(slot, it->first);  // a long request: idle once it ends
    }
  }
}

}  // namespace dispatch

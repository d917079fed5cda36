// isolate_pool.h: the worker's live isolates, one per tenant script.
//
// An isolate is created on a script's first request and kept for the next
// ones; a new version of the script replaces it (requests still running on
// the old one keep it alive until they end). At most max_isolates live, and
// all of them together hold at most worker_memory: the least recently used
// idle ones are retired first; when only busy ones are left, a new isolate
// is refused (overloaded).
//
// A few isolates are prepared ahead of demand (dispatch_prepared_isolates):
// made from the startup snapshot in idle time, nothing of any tenant in
// them, so that a script's first request finds one ready. They count among
// dispatch_isolates and dispatch_worker_memory, are made only where there is
// room (never by retiring a tenant's isolate), and each serves one tenant.
#pragma once

#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "dispatch_engine.h"
#include "host.h"
#include "script_store.h"

namespace dispatch {

class Engine;
class TenantIsolate;

class IsolatePool {
 public:
  explicit IsolatePool(Engine &engine);
  ~IsolatePool();

  // The isolate for this version of the script, created when missing. When
  // none can be had, returns null with the reason in *err and the outcome
  // for the request in *outcome.
  std::shared_ptr<TenantIsolate> acquire(const std::shared_ptr<const ScriptSource> &script,
                                         std::string *err, dispatch_outcome_e *outcome);

  // Takes a stopped isolate out of service.
  void retire(TenantIsolate *isolate);

  // Runs V8's due foreground tasks of every isolate, then gives back the
  // spare memory of a few isolates idle for a while (reduce_idle()). Called
  // every pump_interval_ms.
  void pump();

  // Prepares isolates from a timer, one at a time, until there are
  // dispatch_prepared_isolates of them (or no room).
  void prepare_later();
  size_t prepared() const { return prepared_.size(); }

  size_t memory() const;
  // Live isolates, the prepared ones included.
  size_t size() const { return slots_.size() + prepared_.size(); }

 private:
  struct Slot {
    std::shared_ptr<TenantIsolate> isolate;
    std::list<std::string>::iterator lru;
    // In unreduced_ (used since its memory was last reduced), and the
    // pump's tick of its last request.
    bool unreduced = true;
    std::list<std::string>::iterator idle;
    uint64_t used_at = 0;
    // The pool's count of requests at its last one, and when it took its
    // place in lru_: a request only stamps the slot, and the walks that
    // need the order (make_room, reduce_idle) move what was used since.
    uint64_t last_use = 0;
    uint64_t listed_use = 0;
  };

  using SlotEntry = std::pair<const std::string, Slot>;
  // The slot's isolate's ScriptSource points at it (pool_slot) / no longer.
  static void link(SlotEntry &entry);
  static void unlink(SlotEntry &entry);

  bool make_room(const std::string &ns, std::string *err);
  void retire_own(const std::string &ns, size_t max_isolates);
  std::list<std::string>::iterator retire_idle(std::unordered_map<std::string, Slot>::iterator it,
                                               dispatch_retire_reason_e why);
  void erase(std::unordered_map<std::string, Slot>::iterator it);
  void touch(Slot &slot, const std::string &key);
  void reduce_idle();
  // An isolate out of the pool that requests still hold (an old version
  // with work lingering, a stopped one still sending): it holds memory, so
  // it is counted until it is gone.
  void remember_retired(const std::shared_ptr<TenantIsolate> &isolate);
  // An isolate out of the pool: remembered while requests hold it, else
  // disposed from a timer (dispose_now), after the current response.
  void let_go(std::shared_ptr<TenantIsolate> isolate);
  void dispose_now();
  // The timer's turn: one isolate prepared, and the timer again if more
  // are wanted.
  void prepare_one();
  // A prepared isolate becomes script's; null (with *err and *outcome)
  // when its top level fails, or when none is ready.
  std::shared_ptr<TenantIsolate> take_prepared(const std::shared_ptr<const ScriptSource> &script,
                                               std::string *err, dispatch_outcome_e *outcome);

  Engine &engine_;
  std::unordered_map<std::string, Slot> slots_;  // by "ns/name"
  std::list<std::string> lru_;                   // most recently listed first
  uint64_t uses_ = 0;                            // requests given an isolate
  // Isolates used since their last reduce_memory(), most recent first.
  std::list<std::string> unreduced_;
  uint64_t tick_ = 0;  // pump() calls so far
  uint64_t started_at_ = 0;  // the tick of the last isolate made
  mutable std::vector<std::weak_ptr<TenantIsolate>> retired_;
  std::vector<std::shared_ptr<TenantIsolate>> prepared_;   // no tenant's yet
  std::vector<std::shared_ptr<TenantIsolate>> disposing_;  // out, not disposed yet
  // Started isolates whose code caches are still to make, and the timer's
  // turn that makes them (one isolate a turn: a big bundle's takes a few ms).
  std::deque<std::weak_ptr<TenantIsolate>> code_caches_wanted_;
  void make_code_caches();
  Timer prepare_timer_;
  Timer dispose_timer_;
  Timer code_cache_timer_;
};

}  // namespace dispatch

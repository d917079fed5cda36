// limit_enforcer.h: the one place that decides what a script may still do
// after it hit its limits (workerd's LimitEnforcer is the model).
//
// The limits themselves stop a request (CpuWatchdog, MemoryBudget); this
// makes the script that keeps hitting them pay, so other tenants do not:
// - each CPU or memory limit a script hits counts against it here, in this
//   worker (a slow upstream, the wall limit, is no offence); the count
//   decays by half every kDecayMs;
// - past kThrottleFrom, its admission rate in this worker shrinks as the
//   count grows: requests past it answer 503 `quarantined` at once;
// - when it hits a limit kQuarantineAfter times while throttled (this count
//   decays by half every kStrikeDecayMs), it goes into the node's penalty
//   box (the host's shared memory) for a period that doubles with every
//   repeat, and no worker runs it until the period ends;
// - a script that took a worker down (the last resort) goes into the
//   penalty box at once, from the watchdog's thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "dispatch_engine.h"
#include "host.h"

namespace dispatch {

class LimitEnforcer {
 public:
  static constexpr double kDecayMs = 10000;
  static constexpr double kThrottleFrom = 3;
  static constexpr double kQuarantineAfter = 5;
  static constexpr double kStrikeDecayMs = 60000;
  // Admissions per second at kThrottleFrom; halved with each offence more.
  static constexpr double kThrottledRate = 4;
  static constexpr double kMinRate = 0.25;
  static constexpr uint64_t kMaxQuarantineMs = 3600 * 1000;
  // ctx.waitUntil work one script may leave lingering in this worker; past
  // it, the oldest is cancelled (new requests are never refused for it).
  static constexpr size_t kMaxLingering = 100;

  LimitEnforcer(const Host &host, uint64_t quarantine_ms)
      : host_(host), quarantine_ms_(quarantine_ms) {}

  // Before a request of key ("NS/NAME") runs: true to run it; false, with
  // the reason in *why, when the script is in the penalty box or throttled.
  // left_ms, when given, is set to the time left in the penalty box (0: the
  // script is not in it).
  bool admit(const std::string &key, std::string *why, uint64_t *left_ms = nullptr);

  // A CPU or memory limit stopped a request of key. Returns the log line
  // to write when this put the script into the penalty box, else "".
  std::string offence(const std::string &key);

  // The last resort: from any thread; true when it could be recorded, with
  // the period in *period_ms.
  static bool quarantine_now(const dispatch_host_t &host, const char *key, size_t len,
                             uint64_t base_ms, uint64_t *period_ms);

  uint64_t quarantine_ms() const { return quarantine_ms_; }

  // An operator lifted the script's quarantine: this worker forgets its
  // offences too.
  void forgive(const std::string &key) { records_.erase(key); }

 private:
  struct Record {
    double score = 0;       // offences, decayed
    double strikes = 0;     // offences while throttled, decayed
    double tokens = 1;      // admissions left while throttled
    uint64_t at_ms = 0;     // when score and tokens were last brought up to date
  };
  void bring_up_to_date(Record &r, uint64_t now);
  void forget_the_forgiven(uint64_t now);

  const Host &host_;
  uint64_t quarantine_ms_;
  std::unordered_map<std::string, Record> records_;  // scripts with offences
};

}  // namespace dispatch

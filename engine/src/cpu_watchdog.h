// cpu_watchdog.h: stops JavaScript that runs past its CPU budget.
//
// An nginx timer cannot fire while JavaScript loops, and nginx owns
// SIGALRM, so a thread of our own watches the event-loop thread's CPU clock
// and calls TerminateExecution on the isolate running past its budget.
// arm()/disarm() bracket every entry into JavaScript; both are cheap (an
// uncontended mutex) so they can sit on the hot path.
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "clock.h"

namespace v8 {
class Isolate;
}

namespace dispatch {

class MemoryBudget;

class CpuWatchdog {
 public:
  CpuWatchdog() = default;
  ~CpuWatchdog();
  CpuWatchdog(const CpuWatchdog &) = delete;
  CpuWatchdog &operator=(const CpuWatchdog &) = delete;

  // What the watchdog does, on its own thread, when JavaScript it told to
  // stop runs on past the hang timeout: the last resort (it must not return).
  using HangHandler = void (*)(v8::Isolate *isolate, double overrun_ms);

  // Watches the calling thread from now on.
  bool start(std::string *err, double hang_timeout_ms, HangHandler on_hang);

  // The calling (watched) thread enters JavaScript on isolate, its CPU
  // clock at started_ms (or a lower bound of it), to be stopped when that
  // clock reaches started_ms + budget_ms. While it runs, the isolate's
  // budget is asked to look at its heap every few milliseconds of CPU
  // (growth inside one long run is seen). read_at_ms: CLOCK_MONOTONIC when
  // started_ms was read (no later than now).
  void arm(v8::Isolate *isolate, double started_ms, double budget_ms, MemoryBudget *budget,
           double read_at_ms);
  // It left JavaScript; true when the watchdog terminated the run (the
  // caller must CancelTerminateExecution and fail the run).
  bool disarm();
  // While armed: whether the watchdog has told the run to stop already.
  bool fired();

 private:
  void loop();
  double watched_cpu_ms() const;

  std::mutex mu_;
  std::condition_variable cv_;
  v8::Isolate *isolate_ = nullptr;  // armed on, under mu_
  double deadline_ms_ = 0;           // of the watched thread's CPU clock
  MemoryBudget *budget_ = nullptr;   // of isolate_, under mu_
  double next_memory_check_ms_ = 0;  // of the watched thread's CPU clock
  double stop_requested_ms_ = 0;     // when it was told to stop, or 0
  double hang_timeout_ms_ = 1000;
  HangHandler on_hang_ = nullptr;
  // Written under mu_; fired() reads it without the lock (once a turn).
  std::atomic<bool> fired_{false};
  bool stopping_ = false;
  bool parked_ = false;              // asleep until the next arm()
  // When the thread looks next (CLOCK_MONOTONIC ms; infinity while parked).
  double next_look_wall_ms_ = 0;
  clockid_t clock_{};
  std::thread thread_;
};

}  // namespace dispatch

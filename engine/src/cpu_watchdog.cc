#include "cpu_watchdog.h"

#include <signal.h>
#include <v8.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "memory_budget.h"

namespace dispatch {

namespace {
// The longest the thread sleeps while the worker is busy. It wakes sooner
// for whatever is due sooner (a deadline, a look at the heap), and arm()
// wakes it when a run could reach its deadline before the thread's next
// look, so a deadline is seen as it passes, not up to a tick later. Each
// look is a wake-up of this thread and a read of the watched CPU clock (a
// system call): it used to look every 2 ms (500 wake-ups a second while
// the worker served, ~2 % of its CPU at 30,000 requests a second). Below
// kMemoryCheckMs by more than the age of a reused CPU reading (1 ms, in
// TenantIsolate::guarded): a run with a full budget then never needs a
// wake-up from arm().
constexpr double kLookMs = 8;
// Idle time (nothing armed) before the thread parks. While the worker is
// busy the thread keeps looking, so arm() seldom has to wake it: no
// syscall per request.
constexpr double kIdleBeforeParkMs = 100;
// CPU time between two looks at the heap of a run that goes on.
constexpr double kMemoryCheckMs = 10;
}  // namespace

bool CpuWatchdog::start(std::string *err, double hang_timeout_ms, HangHandler on_hang) {
  hang_timeout_ms_ = hang_timeout_ms;
  on_hang_ = on_hang;
  if (pthread_getcpuclockid(pthread_self(), &clock_) != 0) {
    *err = "cannot read this thread's CPU clock";
    return false;
  }
  // Signals meant for nginx's event loop must never land on this thread.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (const std::exception &ex) {
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    *err = std::string("cannot start the CPU watchdog: ") + ex.what();
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return true;
}

CpuWatchdog::~CpuWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    isolate_ = nullptr;
  }
  cv_.notify_one();
  thread_.join();
}

double CpuWatchdog::watched_cpu_ms() const { return clock_ms(clock_); }

void CpuWatchdog::arm(v8::Isolate *isolate, double started_ms, double budget_ms,
                      MemoryBudget *budget, double read_at_ms) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // CPU time runs no faster than wall time: the run reaches its deadline
    // (or its first look at the heap) no sooner than that much wall time
    // after started_ms was read. A thread that would look later is woken.
    double due = std::min(budget_ms, kMemoryCheckMs);
    wake = parked_ || next_look_wall_ms_ > read_at_ms + due;
    isolate_ = isolate;
    budget_ = budget;
    deadline_ms_ = started_ms + budget_ms;
    next_memory_check_ms_ = started_ms + kMemoryCheckMs;
    stop_requested_ms_ = 0;
    fired_ = false;
  }
  if (wake) cv_.notify_one();
}

bool CpuWatchdog::disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  isolate_ = nullptr;
  budget_ = nullptr;
  return fired_;
}

bool CpuWatchdog::fired() { return fired_.load(); }

void CpuWatchdog::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  // Sleeps ms of wall time at most (woken sooner by arm() or the end).
  auto sleep = [&](double wall_now, double ms) {
    next_look_wall_ms_ = wall_now + ms;
    cv_.wait_for(lock, std::chrono::microseconds(int64_t(ms * 1000) + 1));
  };
  double idle_since = 0;
  while (!stopping_) {
    double wall_now = clock_ms(CLOCK_MONOTONIC);
    if (isolate_ == nullptr) {
      if (idle_since == 0) idle_since = wall_now;
      if (wall_now - idle_since < kIdleBeforeParkMs) {
        sleep(wall_now, kLookMs);
        continue;
      }
      parked_ = true;
      next_look_wall_ms_ = std::numeric_limits<double>::infinity();
      cv_.wait(lock);
      parked_ = false;
      idle_since = 0;
      continue;
    }
    idle_since = 0;
    double now = watched_cpu_ms();
    double left = deadline_ms_ - now;
    double look = kLookMs;
    if (budget_ != nullptr) {
      // Under mu_: the isolate cannot be disarmed, nor disposed, meanwhile.
      if (now >= next_memory_check_ms_) {
        budget_->request_check();
        next_memory_check_ms_ = now + kMemoryCheckMs;
      }
      look = std::min(look, next_memory_check_ms_ - now);
    }
    // Some builtins never look at a termination request (DESIGN.md): past
    // the hang timeout of CPU after it, only the last resort is left.
    if (fired_ || (budget_ != nullptr && budget_->condemned())) {
      if (stop_requested_ms_ == 0) {
        stop_requested_ms_ = now;
      } else if (now - stop_requested_ms_ >= hang_timeout_ms_ && on_hang_ != nullptr) {
        on_hang_(isolate_, now - stop_requested_ms_);
      }
    }
    if (left <= 0) {
      if (!fired_) {
        // Under mu_: disarm() cannot return in between, so the termination
        // lands in the run it was meant for, or is cancelled by its caller.
        isolate_->TerminateExecution();
        fired_ = true;
      }
      sleep(wall_now, kLookMs);
      continue;
    }
    // CPU time runs no faster than wall time, so sleeping min(left, look)
    // never sleeps past the deadline, nor past the next look at the heap.
    sleep(wall_now, std::min(left, look));
  }
}

}  // namespace dispatch

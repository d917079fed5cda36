#include "cpu_watchdog.h"

#include <signal.h>
#include <v8.h>

#include <algorithm>
#include <chrono>

#include "memory_budget.h"

namespace dispatch {

namespace {
// How often an armed watchdog looks at the clock: the most a script can
// overrun its budget by.
constexpr double kTickMs = 2;
// Idle ticks before the thread parks. While the worker is busy the thread
// keeps ticking, so arm() never has to wake it: no syscall per request.
constexpr int kIdleTicksBeforePark = 50;
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

void CpuWatchdog::arm(v8::Isolate *isolate, double deadline_ms, MemoryBudget *budget) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = parked_;
    isolate_ = isolate;
    budget_ = budget;
    deadline_ms_ = deadline_ms;
    next_memory_check_ms_ = 0;
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
  auto tick = std::chrono::microseconds(int64_t(kTickMs * 1000));
  int idle_ticks = 0;
  while (!stopping_) {
    if (isolate_ == nullptr) {
      if (++idle_ticks < kIdleTicksBeforePark) {
        cv_.wait_for(lock, tick);
        continue;
      }
      parked_ = true;
      cv_.wait(lock);
      parked_ = false;
      idle_ticks = 0;
      continue;
    }
    idle_ticks = 0;
    double now = watched_cpu_ms();
    double left = deadline_ms_ - now;
    if (budget_ != nullptr) {
      // Under mu_: the isolate cannot be disarmed, nor disposed, meanwhile.
      if (next_memory_check_ms_ == 0) {
        next_memory_check_ms_ = now + kMemoryCheckMs;
      } else if (now >= next_memory_check_ms_) {
        budget_->request_check();
        next_memory_check_ms_ = now + kMemoryCheckMs;
      }
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
      cv_.wait_for(lock, tick);
      continue;
    }
    // CPU time runs no faster than wall time, so sleeping min(left, tick)
    // never sleeps past the deadline.
    cv_.wait_for(lock, std::chrono::microseconds(int64_t(std::min(left, kTickMs) * 1000)));
  }
}

}  // namespace dispatch

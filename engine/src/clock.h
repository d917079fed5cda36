// clock.h: milliseconds of any clock: monotonic for deadlines, a thread's
// CPU clock for limits, the real-time clock for KV expiries.
#pragma once

#include <time.h>

#include <cstdint>

namespace dispatch {

inline double clock_ms(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

inline uint64_t monotonic_ms() { return uint64_t(clock_ms(CLOCK_MONOTONIC)); }

// CPU time of the calling thread (a system call: not for tight loops).
inline double thread_cpu_ms() { return clock_ms(CLOCK_THREAD_CPUTIME_ID); }

// The calling thread's CPU clock read at most once per max_age_ms of wall
// time. A reading stands for "now" while it is younger than that: CPU time
// only grows, so it is never ahead of the true value, and it grows no
// faster than wall time, so it is behind by less than max_age_ms. One per
// thread that uses it.
class CpuClockFloor {
 public:
  // A value of this thread's CPU clock no later than now (wall_now: the
  // monotonic clock, read just before).
  double at_most_now(double wall_now, double max_age_ms) {
    if (wall_now - wall_ms_ < max_age_ms && wall_now >= wall_ms_) return cpu_ms_;
    return read(wall_now);
  }
  // The monotonic clock's value when the reading at_most_now gives was
  // taken: the CPU clock has grown by no more than the wall time since.
  double read_at() const { return wall_ms_; }
  // The exact value, kept for the calls after it.
  double read(double wall_now) {
    // wall_now was read before the CPU clock: the age is overstated, never
    // understated.
    cpu_ms_ = thread_cpu_ms();
    wall_ms_ = wall_now;
    return cpu_ms_;
  }

 private:
  double cpu_ms_ = 0;
  double wall_ms_ = -1e300;
};

}  // namespace dispatch

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

}  // namespace dispatch

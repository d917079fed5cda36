#include "limit_enforcer.h"

#include <algorithm>
#include <cmath>

#include "clock.h"

namespace dispatch {

namespace {
// Records kept before the forgiven ones (decayed to nothing) are dropped.
constexpr size_t kSweepAbove = 1024;
}  // namespace

void LimitEnforcer::bring_up_to_date(Record &r, uint64_t now) {
  if (r.at_ms != 0 && now > r.at_ms) {
    double elapsed = double(now - r.at_ms);
    r.score *= std::exp2(-elapsed / kDecayMs);
    r.strikes *= std::exp2(-elapsed / kStrikeDecayMs);
    double rate = std::max(kMinRate, kThrottledRate / std::exp2(r.score - kThrottleFrom));
    r.tokens = std::min(1.0, r.tokens + rate * elapsed / 1000);
  }
  r.at_ms = now;
}

bool LimitEnforcer::admit(const std::string &key, std::string *why, uint64_t *left_ms) {
  const dispatch_host_t &raw = host_.raw();
  if (left_ms) *left_ms = 0;
  if (raw.quarantined != nullptr) {
    uint64_t left = raw.quarantined(raw.data, key.data(), key.size());
    if (left_ms) *left_ms = left;
    if (left > 0) {
      *why = "in the penalty box for " + std::to_string((left + 999) / 1000) + "s more: quarantined";
      return false;
    }
  }
  if (records_.empty()) return true;
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  Record &r = it->second;
  bring_up_to_date(r, monotonic_ms());
  if (r.score < kThrottleFrom) return true;
  if (r.tokens >= 1) {
    r.tokens -= 1;
    return true;
  }
  *why = "it keeps hitting its limits and is throttled in this worker: quarantined";
  return false;
}

std::string LimitEnforcer::offence(const std::string &key) {
  uint64_t now = monotonic_ms();
  forget_the_forgiven(now);
  Record &r = records_[key];
  bring_up_to_date(r, now);
  if (r.score >= kThrottleFrom) r.strikes += 1;
  r.score += 1;
  if (r.strikes < kQuarantineAfter) return "";
  const dispatch_host_t &raw = host_.raw();
  if (raw.quarantine == nullptr) return "";
  uint64_t period = raw.quarantine(raw.data, key.data(), key.size(), DISPATCH_OFFENCE_LIMITS,
                                   quarantine_ms_, std::max(quarantine_ms_, kMaxQuarantineMs));
  // Not recorded (the box is full of scripts serving their periods, or its
  // lock is held): it stays throttled here, and its next offence tries again.
  if (period == 0) return "it keeps hitting its limits; the penalty box is full: throttled in this worker";
  records_.erase(key);  // the penalty box takes over
  return "it keeps hitting its limits: quarantined on every worker for " +
         std::to_string(period / 1000) + "s";
}

bool LimitEnforcer::quarantine_now(const dispatch_host_t &host, const char *key, size_t len,
                                   uint64_t base_ms, uint64_t *period_ms) {
  if (host.quarantine == nullptr) return false;
  *period_ms = host.quarantine(host.data, key, len, DISPATCH_OFFENCE_WORKER_LOST,
                               base_ms, std::max(base_ms, kMaxQuarantineMs));
  return *period_ms != 0;
}

void LimitEnforcer::forget_the_forgiven(uint64_t now) {
  if (records_.size() < kSweepAbove) return;
  for (auto it = records_.begin(); it != records_.end();) {
    bring_up_to_date(it->second, now);
    it = it->second.score < 0.5 && it->second.strikes < 0.5 ? records_.erase(it) : std::next(it);
  }
}

}  // namespace dispatch

#include "fleet_quarantine.h"

#include <cstdlib>

#include "clock.h"
#include "script_store.h"

namespace dispatch {

namespace {

constexpr size_t kForgetAbove = 4096;  // known_ is swept of ended periods
constexpr uint64_t kMaxPeriodMs = 24ull * 3600 * 1000;

bool split_key(const std::string &key, std::string *ns, std::string *name) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= key.size()) return false;
  *ns = key.substr(0, slash);
  *name = key.substr(slash + 1);
  return true;
}

}  // namespace

std::string FleetQuarantine::redis_key(const std::string &ns, const std::string &name) {
  return "dispatch:{" + ns + "}:quarantine:" + name;
}

void FleetQuarantine::share(const std::string &key, uint64_t left_ms) {
  uint64_t now = monotonic_ms();
  auto it = known_.find(key);
  if (it != known_.end() && it->second > now) return;
  if (known_.size() > kForgetAbove) {
    for (auto k = known_.begin(); k != known_.end();) {
      k = k->second <= now ? known_.erase(k) : std::next(k);
    }
  }
  known_[key] = now + left_ms;
  std::string ns, name;
  if (!split_key(key, &ns, &name) || left_ms == 0) return;
  std::string ms = std::to_string(left_ms);
  redis_.command({"SET", redis_key(ns, name), ms, "PX", ms},
                 [](const redisReply *, const std::string &) {});
  redis_.command({"PUBLISH", ScriptStore::kEventsChannel, "quarantine " + key + " " + ms},
                 [](const redisReply *, const std::string &) {});
}

void FleetQuarantine::heard(const std::string &key, uint64_t left_ms) {
  if (left_ms == 0) return;
  if (left_ms > kMaxPeriodMs) left_ms = kMaxPeriodMs;
  const dispatch_host_t &raw = host_.raw();
  if (raw.quarantine == nullptr) return;
  uint64_t now = monotonic_ms();
  known_[key] = now + left_ms;  // nothing to tell the fleet: it told us
  raw.quarantine(raw.data, key.data(), key.size(), DISPATCH_OFFENCE_FLEET, left_ms, left_ms);
}

bool FleetQuarantine::on_event(const std::string &payload, std::string *lifted) {
  static const std::string kQuarantine = "quarantine ";
  static const std::string kLift = "lift ";
  if (payload.compare(0, kQuarantine.size(), kQuarantine) == 0) {
    std::string rest = payload.substr(kQuarantine.size());
    size_t space = rest.find(' ');
    if (space == std::string::npos) return true;
    std::string key = rest.substr(0, space);
    uint64_t ms = std::strtoull(rest.c_str() + space + 1, nullptr, 10);
    std::string ns, name;
    if (split_key(key, &ns, &name)) heard(key, ms);
    return true;
  }
  if (payload.compare(0, kLift.size(), kLift) == 0) {
    std::string key = payload.substr(kLift.size());
    std::string ns, name;
    if (!split_key(key, &ns, &name)) return true;
    known_.erase(key);
    const dispatch_host_t &raw = host_.raw();
    if (raw.quarantine_lift != nullptr) raw.quarantine_lift(raw.data, key.data(), key.size());
    *lifted = key;
    return true;
  }
  return false;
}

void FleetQuarantine::lift(const std::string &key) {
  known_.erase(key);
  std::string ns, name;
  if (!split_key(key, &ns, &name)) return;
  redis_.command({"DEL", redis_key(ns, name)}, [](const redisReply *, const std::string &) {});
  redis_.command({"PUBLISH", ScriptStore::kEventsChannel, "lift " + key},
                 [](const redisReply *, const std::string &) {});
}

}  // namespace dispatch

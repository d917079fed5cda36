// fleet_quarantine.h: the penalty box across a fleet of nginx nodes.
//
// Each node keeps its penalty box in shared memory (ngx_module's zone). So
// that a hostile script costs the fleet one worker and not one per node, a
// node that finds a script in its box tells the others: a key with the time
// left (`dispatch:{NS}:quarantine:NAME`, PX) for nodes that load the script
// later, and a PUBLISH on dispatch:events ("quarantine NS/NAME MS") for
// those that have it cached. A node that hears it puts the script in its own
// box for that time, without counting a strike of its own. Lifting it
// through the management API deletes the key and PUBLISHes "lift NS/NAME".
//
// It is told when a request is refused for the box (LimitEnforcer::admit),
// which covers both offences: a script that kept hitting its limits, and
// one that took a worker down (judged on the watchdog's thread, which
// cannot reach Redis: the replacement worker's first refusal shares it).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "host.h"
#include "redis_link.h"

namespace dispatch {

class FleetQuarantine {
 public:
  FleetQuarantine(const Host &host, RedisLink &redis) : host_(host), redis_(redis) {}

  static std::string redis_key(const std::string &ns, const std::string &name);

  // "NS/NAME" is in this node's box for left_ms more: the fleet hears of it
  // once per period.
  void share(const std::string &key, uint64_t left_ms);

  // A message on dispatch:events; false when it is not about the box.
  // lifted is set to "NS/NAME" when the message lifted a quarantine.
  bool on_event(const std::string &payload, std::string *lifted);

  // The script was loaded from Redis with left_ms on its quarantine key.
  void heard(const std::string &key, uint64_t left_ms);

  // Lifted on this node: the fleet hears it and the key goes.
  void lift(const std::string &key);

 private:
  const Host &host_;
  RedisLink &redis_;
  // "NS/NAME" -> when (monotonic ms) the period this worker knows ends: not
  // shared again before.
  std::unordered_map<std::string, uint64_t> known_;
};

}  // namespace dispatch

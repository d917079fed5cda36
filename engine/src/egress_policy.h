// egress_policy.h: STUB until the fetch-host branch lands its real one.
#pragma once

#include <string>
#include <vector>

#include "dispatch_engine.h"

namespace dispatch {

class EgressPolicy {
 public:
  bool add(const std::string &entry, std::string *err);
  bool allows(const dispatch_addr_t &addr, int port, std::string *why) const;
  static std::string format(const dispatch_addr_t &addr);
};

bool parse_ip_literal(const std::string &host, dispatch_addr_t *out);

}  // namespace dispatch

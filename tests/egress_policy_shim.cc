// egress_policy_shim.cc: EgressPolicy behind C functions, for test_engine.c.
#include "egress_policy_shim.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "egress_policy.h"

extern "C" int egress_allows(const char *const *entries, size_t n, const char *addr, int port,
                             char *why, size_t why_len) {
  dispatch::EgressPolicy policy;
  std::string reason;
  for (size_t i = 0; i < n; i++) {
    if (!policy.add(entries[i], &reason)) {
      snprintf(why, why_len, "entry %s: %s", entries[i], reason.c_str());
      return -1;
    }
  }
  dispatch_addr_t a;
  memset(&a, 0, sizeof(a));
  if (inet_pton(AF_INET, addr, a.addr) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr, a.addr) == 1) {
    a.family = AF_INET6;
  } else {
    snprintf(why, why_len, "%s does not parse", addr);
    return -1;
  }
  if (policy.allows(a, port, &reason)) {
    snprintf(why, why_len, "%s", "");
    return 1;
  }
  snprintf(why, why_len, "%s", reason.c_str());
  return 0;
}

extern "C" int egress_ip_literal(const char *host, char *out, size_t out_len) {
  dispatch_addr_t a;
  if (!dispatch::parse_ip_literal(host, &a)) return 0;
  snprintf(out, out_len, "%s", dispatch::EgressPolicy::format(a).c_str());
  return 1;
}

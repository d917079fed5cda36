// STUB until the fetch-host branch lands its real one: allows everything.
#include "egress_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace dispatch {

bool EgressPolicy::add(const std::string &, std::string *) { return true; }

bool EgressPolicy::allows(const dispatch_addr_t &, int, std::string *) const { return true; }

std::string EgressPolicy::format(const dispatch_addr_t &addr) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(addr.family, addr.addr, buf, sizeof(buf));
  return buf;
}

bool parse_ip_literal(const std::string &host, dispatch_addr_t *out) {
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, host.c_str(), out->addr) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']' &&
      inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), out->addr) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace dispatch

// egress_policy.h: where outbound fetch() may connect (dispatch_fetch_allow).
//
// By default only public unicast addresses: every loopback, private,
// link-local, shared, documentation, multicast and otherwise reserved range
// is refused, and the IPv6 spellings of an IPv4 address (IPv4-mapped, NAT64,
// 6to4) are judged by the IPv4 address they carry. A dispatch_fetch_allow
// entry opens a range, optionally on one port only, for a platform's own
// services. The engine asks allows() for every address a name resolved to,
// at connect time, for every redirect hop and every pooled connection.
#pragma once

#include <string>
#include <vector>

#include "dispatch_engine.h"

namespace dispatch {

class EgressPolicy {
 public:
  // One dispatch_fetch_allow entry, "CIDR[:PORT]" ("10.1.2.0/24",
  // "127.0.0.1/32:8443", "fd00::/8", "[::1]/128:8080"; a bare address is one
  // host); false with the reason in *err.
  bool add(const std::string &entry, std::string *err);

  // Whether fetch() may connect to addr:port: a public unicast address, or
  // one an entry opens. Else false with *why for the script's TypeError
  // ("127.0.0.1 is a loopback address; dispatch_fetch_allow does not open it").
  bool allows(const dispatch_addr_t &addr, int port, std::string *why) const;

  // "127.0.0.1", "::1", "::ffff:127.0.0.1"
  static std::string format(const dispatch_addr_t &addr);

 private:
  struct Range {
    dispatch_addr_t net;
    int prefix;
    int port;  // 0: every port
  };

  std::vector<Range> ranges_;
};

// The host of a URL as the WHATWG URL parser serialised it ("127.0.0.1",
// "[::1]"): its address, or false for a domain name. IPv4 in the forms the
// URL parser accepts is read as it reads it ("0x7f.1", "2130706433"), so an
// unserialised host is never mistaken for a name.
bool parse_ip_literal(const std::string &host, dispatch_addr_t *out);

}  // namespace dispatch

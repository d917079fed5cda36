// egress_policy.cc: the ranges fetch() is refused by default, the entries of
// dispatch_fetch_allow that open some of them, and IP literals as the URL
// parser reads them.
#include "egress_policy.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace dispatch {

namespace {

// How a reserved IPv6 range carries an IPv4 address, judged in its place.
enum class Embedded {
  kNone,
  kLast32,      // ::ffff:a.b.c.d, 64:ff9b::a.b.c.d: the last 32 bits
  kNat64Local,  // 64:ff9b:1::/48: the last 32 bits (a /96 inside it) and
                // RFC 6052's /48 spot (bits 48-63, 72-87): both are judged
  kSixToFour,   // 2002:AABB:CCDD::/48: bits 16-47
};

struct Reserved {
  const char *net;
  int prefix;
  const char *what;  // "127.0.0.1 is " + what
  Embedded embedded;
};

// Most specific first where ranges nest.
const Reserved kReserved4[] = {
    {"0.0.0.0", 8, "a \"this network\" address", Embedded::kNone},
    {"10.0.0.0", 8, "a private address", Embedded::kNone},
    {"100.64.0.0", 10, "a shared (CGNAT) address", Embedded::kNone},
    {"127.0.0.0", 8, "a loopback address", Embedded::kNone},
    {"169.254.0.0", 16, "a link-local address", Embedded::kNone},
    {"172.16.0.0", 12, "a private address", Embedded::kNone},
    {"192.0.0.0", 24, "an IETF protocol assignment address", Embedded::kNone},
    {"192.0.2.0", 24, "a documentation address", Embedded::kNone},
    {"192.88.99.0", 24, "a 6to4 relay anycast address", Embedded::kNone},
    {"192.168.0.0", 16, "a private address", Embedded::kNone},
    {"198.18.0.0", 15, "a benchmarking address", Embedded::kNone},
    {"198.51.100.0", 24, "a documentation address", Embedded::kNone},
    {"203.0.113.0", 24, "a documentation address", Embedded::kNone},
    {"224.0.0.0", 4, "a multicast address", Embedded::kNone},
    {"255.255.255.255", 32, "the broadcast address", Embedded::kNone},
    {"240.0.0.0", 4, "a reserved address", Embedded::kNone},
};

const Reserved kReserved6[] = {
    {"::", 128, "the unspecified address", Embedded::kNone},
    {"::1", 128, "a loopback address", Embedded::kNone},
    {"::ffff:0:0", 96, "an IPv4-mapped address", Embedded::kLast32},
    {"::", 96, "an IPv4-compatible address", Embedded::kNone},
    {"64:ff9b::", 96, "a NAT64 address", Embedded::kLast32},
    {"64:ff9b:1::", 48, "a local-use NAT64 address", Embedded::kNat64Local},
    {"100::", 64, "a discard-only address", Embedded::kNone},
    {"2001::", 32, "a Teredo address", Embedded::kNone},
    {"2001:db8::", 32, "a documentation address", Embedded::kNone},
    {"2001::", 23, "an IETF protocol assignment address", Embedded::kNone},
    {"2002::", 16, "a 6to4 address", Embedded::kSixToFour},
    {"fc00::", 7, "a unique local address", Embedded::kNone},
    {"fe80::", 10, "a link-local address", Embedded::kNone},
    {"fec0::", 10, "a site-local address", Embedded::kNone},
    {"ff00::", 8, "a multicast address", Embedded::kNone},
};

bool in_prefix(const unsigned char *a, const unsigned char *net, int prefix) {
  int bytes = prefix / 8, bits = prefix % 8;
  if (memcmp(a, net, size_t(bytes)) != 0) return false;
  if (bits == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits));
  return (a[bytes] & mask) == (net[bytes] & mask);
}

bool parse_net(const char *text, dispatch_addr_t *out) {
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, text, out->addr) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text, out->addr) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

dispatch_addr_t ipv4(const unsigned char *b0, const unsigned char *b1, const unsigned char *b2,
                     const unsigned char *b3) {
  dispatch_addr_t a;
  memset(&a, 0, sizeof(a));
  a.family = AF_INET;
  a.addr[0] = *b0;
  a.addr[1] = *b1;
  a.addr[2] = *b2;
  a.addr[3] = *b3;
  return a;
}

// The IPv4 address an IPv4-mapped address is (the same destination).
bool mapped_ipv4(const dispatch_addr_t &a, dispatch_addr_t *out) {
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family != AF_INET6 || memcmp(a.addr, kMapped, 12) != 0) return false;
  *out = ipv4(&a.addr[12], &a.addr[13], &a.addr[14], &a.addr[15]);
  return true;
}

// Why addr is not a public unicast address ("a loopback address"), or "".
std::string refusal(const dispatch_addr_t &a) {
  struct Table {
    const Reserved *rows;
    size_t n;
    std::vector<dispatch_addr_t> nets;
  };
  static Table tables[2] = {
      {kReserved4, sizeof(kReserved4) / sizeof(kReserved4[0]), {}},
      {kReserved6, sizeof(kReserved6) / sizeof(kReserved6[0]), {}},
  };
  static const bool parsed = [] {
    for (Table &t : tables) {
      for (size_t i = 0; i < t.n; i++) {
        dispatch_addr_t net;
        parse_net(t.rows[i].net, &net);
        t.nets.push_back(net);
      }
    }
    return true;
  }();
  (void) parsed;

  if (a.family != AF_INET && a.family != AF_INET6) return "not an IP address";

  const Table &t = tables[a.family == AF_INET ? 0 : 1];
  for (size_t i = 0; i < t.n; i++) {
    const Reserved &r = t.rows[i];
    if (!in_prefix(a.addr, t.nets[i].addr, r.prefix)) continue;
    if (r.embedded == Embedded::kNone) return r.what;

    const unsigned char *b = a.addr;
    std::vector<dispatch_addr_t> carried;
    if (r.embedded == Embedded::kSixToFour) {
      carried.push_back(ipv4(&b[2], &b[3], &b[4], &b[5]));
    } else {
      carried.push_back(ipv4(&b[12], &b[13], &b[14], &b[15]));
      if (r.embedded == Embedded::kNat64Local) {
        carried.push_back(ipv4(&b[6], &b[7], &b[9], &b[10]));
      }
    }
    for (const dispatch_addr_t &v4 : carried) {
      std::string why = refusal(v4);
      if (!why.empty()) {
        return std::string(r.what) + " for " + EgressPolicy::format(v4) + ", " + why;
      }
    }
    return "";  // the IPv4 address it carries is public
  }

  if (a.family == AF_INET6 && (a.addr[0] & 0xe0) != 0x20) {
    return "an address outside the global unicast range 2000::/3";
  }
  return "";
}

bool all_digits(const std::string &s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// One number of a WHATWG IPv4 address: decimal, 0x hex or 0 octal.
bool ipv4_number(std::string s, uint64_t *out) {
  int radix = 10;
  if (s.empty()) return false;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s = s.substr(2);
  } else if (s.size() >= 2 && s[0] == '0') {
    radix = 8;
    s = s.substr(1);
  }
  uint64_t n = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (radix == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (radix == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= radix) return false;
    n = n * uint64_t(radix) + uint64_t(d);
    if (n > 0xffffffffULL) n = 0x100000000ULL;  // too large either way
  }
  *out = n;
  return true;
}

}  // namespace

bool EgressPolicy::add(const std::string &entry, std::string *err) {
  std::string address, rest;
  bool bracketed = false;

  if (entry.empty()) {
    *err = "an empty entry";
    return false;
  }

  if (entry[0] == '[') {
    size_t close = entry.find(']');
    if (close == std::string::npos) {
      *err = "a '[' without its ']'";
      return false;
    }
    address = entry.substr(1, close - 1);
    rest = entry.substr(close + 1);
    bracketed = true;
  } else {
    size_t slash = entry.find('/');
    if (slash != std::string::npos) {
      address = entry.substr(0, slash);
      rest = entry.substr(slash);
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      size_t colon = entry.find(':');  // IPv4:PORT
      address = entry.substr(0, colon);
      rest = entry.substr(colon);
    } else {
      address = entry;  // IPv4, or IPv6 without a port
    }
  }

  Range range;
  if (!parse_net(address.c_str(), &range.net) || address.empty()) {
    *err = "\"" + address + "\" is not an IPv4 or IPv6 address";
    return false;
  }
  if (bracketed && range.net.family != AF_INET6) {
    *err = "brackets are for IPv6 addresses only";
    return false;
  }

  int max = range.net.family == AF_INET ? 32 : 128;
  range.prefix = max;
  range.port = 0;

  if (!rest.empty() && rest[0] == '/') {
    size_t colon = rest.find(':');
    std::string p = rest.substr(1, colon == std::string::npos ? std::string::npos : colon - 1);
    if (!all_digits(p) || std::stoi(p) > max) {
      *err = "the prefix length must be 0-" + std::to_string(max) + " for an IPv" +
             (max == 32 ? "4" : "6") + " address";
      return false;
    }
    range.prefix = std::stoi(p);
    rest = colon == std::string::npos ? "" : rest.substr(colon);
  }

  if (!rest.empty()) {
    std::string p = rest.substr(1);
    if (rest[0] != ':' || !all_digits(p) || std::stoi(p) < 1 || std::stoi(p) > 65535) {
      *err = "expected CIDR[:PORT] with a port of 1-65535, as in 10.1.2.0/24:8443 or "
             "[fd00::1]/128:8080";
      return false;
    }
    range.port = std::stoi(p);
  }

  dispatch_addr_t network = range.net;
  for (int bit = range.prefix; bit < max; bit++) {
    network.addr[bit / 8] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
  }
  if (memcmp(network.addr, range.net.addr, sizeof(network.addr)) != 0) {
    *err = "host bits are set: the network is " + format(network) + "/" +
           std::to_string(range.prefix);
    return false;
  }

  ranges_.push_back(range);
  return true;
}

bool EgressPolicy::allows(const dispatch_addr_t &addr, int port, std::string *why) const {
  if (port < 1 || port > 65535) {
    *why = "port " + std::to_string(port) + " is not a port";
    return false;
  }

  // an IPv4-mapped address is the IPv4 destination itself
  dispatch_addr_t v4;
  bool mapped = mapped_ipv4(addr, &v4);

  std::string ports;
  for (const Range &r : ranges_) {
    bool covers = (r.net.family == addr.family && in_prefix(addr.addr, r.net.addr, r.prefix)) ||
                  (mapped && r.net.family == AF_INET && in_prefix(v4.addr, r.net.addr, r.prefix));
    if (!covers) continue;
    if (r.port == 0 || r.port == port) return true;
    ports += (ports.empty() ? "" : ", ") + std::to_string(r.port);
  }

  std::string what = refusal(addr);
  if (what.empty()) return true;

  *why = format(addr) + " is " + what + "; dispatch_fetch_allow " +
         (ports.empty() ? "does not open it" : "opens it only on port " + ports);
  return false;
}

std::string EgressPolicy::format(const dispatch_addr_t &addr) {
  char text[INET6_ADDRSTRLEN];
  if ((addr.family != AF_INET && addr.family != AF_INET6) ||
      inet_ntop(addr.family, addr.addr, text, sizeof(text)) == nullptr) {
    return "(not an IP address)";
  }
  return text;
}

bool parse_ip_literal(const std::string &host, dispatch_addr_t *out) {
  memset(out, 0, sizeof(*out));
  if (host.empty()) return false;

  if (host.front() == '[' || host.find(':') != std::string::npos) {
    std::string inner = host;
    if (host.front() == '[') {
      if (host.size() < 2 || host.back() != ']') return false;
      inner = host.substr(1, host.size() - 2);
    }
    if (inet_pton(AF_INET6, inner.c_str(), out->addr) != 1) return false;
    out->family = AF_INET6;
    return true;
  }

  // the URL Standard's IPv4 parser: 1-4 numbers, one trailing dot allowed
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    parts.push_back(host.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  if (parts.size() > 4) return false;

  std::vector<uint64_t> numbers;
  for (const std::string &p : parts) {
    uint64_t n;
    if (!ipv4_number(p, &n)) return false;
    numbers.push_back(n);
  }
  for (size_t i = 0; i + 1 < numbers.size(); i++) {
    if (numbers[i] > 255) return false;
  }
  uint64_t last_max = 1ULL << (8 * (5 - numbers.size()));
  if (numbers.back() >= last_max) return false;

  uint64_t value = numbers.back();
  for (size_t i = 0; i + 1 < numbers.size(); i++) {
    value += numbers[i] << (8 * (3 - i));
  }
  out->family = AF_INET;
  out->addr[0] = static_cast<unsigned char>(value >> 24);
  out->addr[1] = static_cast<unsigned char>(value >> 16);
  out->addr[2] = static_cast<unsigned char>(value >> 8);
  out->addr[3] = static_cast<unsigned char>(value);
  return true;
}

}  // namespace dispatch

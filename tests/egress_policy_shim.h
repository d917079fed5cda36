/*
 * The engine's EgressPolicy (C++) for the C tests: a policy made of
 * dispatch_fetch_allow entries, asked about one address.
 */

#ifndef EGRESS_POLICY_SHIM_H
#define EGRESS_POLICY_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 1 when a policy of the n entries lets fetch() connect to addr (an IPv4 or
 * IPv6 address as inet_pton reads it) on port; else 0 with the reason in why.
 * -1 when an entry or addr does not parse.
 */
int egress_allows(const char *const *entries, size_t n, const char *addr,
    int port, char *why, size_t why_len);

/* 1 with the address formatted into out when host is an IP literal, else 0 */
int egress_ip_literal(const char *host, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif /* EGRESS_POLICY_SHIM_H */

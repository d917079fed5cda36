/*
 * The engine through its C header: a poll() host, a real redis-server.
 * Each test is one behaviour, named for it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dispatch_engine.h"
#include "egress_policy_shim.h"
#include "http_fixture.h"
#include "poll_host.h"
#include "redis_fixture.h"

#define WAIT_MS 10000  /* generous: a busy machine must not fail a test */

typedef struct {
    int                  woke;
    dispatch_request_t  *req;
    dispatch_response_t  resp;
} call_t;

static dispatch_engine_t *engine;

/* what a test may change before its engine starts (setup zeroes it) */
static dispatch_engine_conf_t  conf_overrides;

/* and in the view of its requests */
static struct {
    uint64_t  cpu_limit_ms;
    uint64_t  wall_limit_ms;
    uint32_t  script_concurrency;
    uint32_t  subrequest_limit;
    const dispatch_header_t  *cf;     /* request.cf */
    size_t                    ncf;
} limits;

/*
 * The Cache API's index as nginx's shared zone keeps it, here in one
 * process: a table of TEST_CACHE_SLOTS entries, the least recently used by
 * a counter. No byte bounds: a full table is what makes the engine evict.
 */
#define TEST_CACHE_SLOTS  4

static struct {
    int                     used;
    uint64_t                last;
    dispatch_cache_entry_t  e;
} test_cache[TEST_CACHE_SLOTS];
static uint64_t  test_cache_clock;

static int
test_cache_find(const unsigned char *key)
{
    for (int i = 0; i < TEST_CACHE_SLOTS; i++) {
        if (test_cache[i].used
            && memcmp(test_cache[i].e.key, key, DISPATCH_CACHE_KEY_LEN) == 0)
        {
            return i;
        }
    }
    return -1;
}

static int
test_cache_lookup(void *data, const unsigned char *key,
    dispatch_cache_entry_t *out)
{
    struct timespec  ts;
    int              i = test_cache_find(key);

    if (i < 0) {
        return 0;
    }
    *out = test_cache[i].e;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out->expires_ms <= (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000) {
        test_cache[i].used = 0;
        return 2;
    }
    test_cache[i].last = ++test_cache_clock;
    return 1;
}

static int
test_cache_remove(void *data, const unsigned char *key,
    dispatch_cache_entry_t *removed)
{
    int  i = test_cache_find(key);

    if (i < 0) {
        return 0;
    }
    *removed = test_cache[i].e;
    test_cache[i].used = 0;
    return 1;
}

static int
test_cache_insert(void *data, const dispatch_cache_entry_t *entry,
    dispatch_cache_entry_t *replaced)
{
    int  rc = test_cache_remove(data, entry->key, replaced);

    for (int i = 0; i < TEST_CACHE_SLOTS; i++) {
        if (!test_cache[i].used) {
            test_cache[i].used = 1;
            test_cache[i].last = ++test_cache_clock;
            test_cache[i].e = *entry;
            return rc;
        }
    }
    return rc ? -2 : -1;
}

static int
test_cache_evict(void *data, const unsigned char *tenant,
    dispatch_cache_entry_t *evicted)
{
    int  lru = -1;

    if (tenant != NULL) {
        return 0;  /* no byte bounds here */
    }
    for (int i = 0; i < TEST_CACHE_SLOTS; i++) {
        if (test_cache[i].used && (lru < 0 || test_cache[i].last < test_cache[lru].last)) {
            lru = i;
        }
    }
    if (lru < 0) {
        return 0;
    }
    *evicted = test_cache[lru].e;
    test_cache[lru].used = 0;
    return 1;
}

static dispatch_engine_t *
start_engine(int port)
{
    static char              err[256];
    dispatch_host_t          host;
    dispatch_engine_conf_t   conf = conf_overrides;

    conf.redis_host = "127.0.0.1";
    conf.redis_port = port;
    conf.redis_timeout_ms = 1000;
    conf.script_max_size = 1 << 20;
    poll_host_init(&host);
    if (conf.cache_path != NULL) {
        memset(test_cache, 0, sizeof(test_cache));
        host.cache_lookup = test_cache_lookup;
        host.cache_insert = test_cache_insert;
        host.cache_remove = test_cache_remove;
        host.cache_evict = test_cache_evict;
    }
    dispatch_engine_t *e = dispatch_engine_create(&conf, &host, err, sizeof(err));
    if (e == NULL) {
        fprintf(stderr, "engine: %s\n", err);
    }
    return e;
}

static int
group_setup(void **state)
{
    return redis_fixture_start() > 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
    redis_fixture_stop();
    return 0;
}

/*
 * The engine revalidates its whole cache once its dispatch:events
 * subscription is live (PUBLISHes may have been missed before): tests that
 * count Redis commands start after that.
 */
static void
settle(void)
{
    poll_host_run_for(200);
}

static int
setup(void **state)
{
    poll_host_reset();
    if (!redis_fixture_running() && redis_fixture_start() < 0) {
        return -1;  /* a failed test left it stopped */
    }
    redis_fixture_cmd("FLUSHALL");
    memset(&limits, 0, sizeof(limits));
    engine = start_engine(redis_fixture_port());
    memset(&conf_overrides, 0, sizeof(conf_overrides));
    settle();
    return engine ? 0 : -1;
}

/* a test that needs other engine settings restarts the engine with them */
static void
restart_engine(void)
{
    dispatch_engine_destroy(engine);
    engine = start_engine(redis_fixture_port());
    memset(&conf_overrides, 0, sizeof(conf_overrides));
    assert_non_null(engine);
    settle();
}

static int
teardown(void **state)
{
    dispatch_engine_destroy(engine);
    engine = NULL;
    return 0;
}

static dispatch_str_t
str(const char *s)
{
    dispatch_str_t out = { s, strlen(s) };
    return out;
}

/* Starts a request; the engine wakes it later. */
static void
start(call_t *c, const char *ns, const char *script, const char *method,
    const char *url, const char *body)
{
    dispatch_header_t        headers[2] = {
        { { "Host", 4 }, { "example.com", 11 } },
        { { "X-Test", 6 }, { "yes", 3 } },
    };
    dispatch_request_view_t  view;

    memset(c, 0, sizeof(*c));
    memset(&view, 0, sizeof(view));
    view.ns = str(ns);
    view.script = str(script);
    view.method = str(method);
    view.url = str(url);
    view.headers = headers;
    view.nheaders = 2;
    view.body = str(body ? body : "");
    view.ctx = &c->woke;
    view.cpu_limit_ms = limits.cpu_limit_ms;
    view.wall_limit_ms = limits.wall_limit_ms;
    view.script_concurrency = limits.script_concurrency;
    view.subrequest_limit = limits.subrequest_limit;
    view.cf = limits.cf;
    view.ncf = limits.ncf;

    c->req = dispatch_request_start(engine, &view);
    assert_non_null(c->req);
}

/* Runs the loop until the engine wakes the request, and reads its response. */
static void
wait_response(call_t *c)
{
    assert_true(poll_host_run_until(&c->woke, WAIT_MS));
    assert_int_equal(dispatch_request_response(c->req, &c->resp), 1);
}

static void
call(call_t *c, const char *ns, const char *script, const char *method,
    const char *url, const char *body)
{
    start(c, ns, script, method, url, body);
    wait_response(c);
}

/* GET http://example.com/ of ns/script: its outcome; the body into out */
static dispatch_outcome_e
get(const char *script, char *out, size_t len)
{
    call_t              c;
    dispatch_outcome_e  outcome;

    call(&c, "ns", script, "GET", "http://example.com/", NULL);
    outcome = c.resp.outcome;
    if (out) {
        snprintf(out, len, "%.*s", (int) c.resp.body.len, c.resp.body.data);
    }
    dispatch_request_release(c.req);
    return outcome;
}

static const char *
header(call_t *c, const char *name)
{
    static char value[256];

    for (size_t i = 0; i < c->resp.nheaders; i++) {
        if (c->resp.headers[i].name.len == strlen(name)
            && memcmp(c->resp.headers[i].name.data, name, strlen(name)) == 0)
        {
            snprintf(value, sizeof(value), "%.*s",
                     (int) c->resp.headers[i].value.len,
                     c->resp.headers[i].value.data);
            return value;
        }
    }
    return NULL;
}

static void
assert_body(call_t *c, const char *expected)
{
    assert_int_equal(c->resp.body.len, strlen(expected));
    assert_memory_equal(c->resp.body.data, expected, strlen(expected));
}

/* ---- helpers shared with nginx ------------------------------------------- */

static void
test_name_charset_is_lowercase_digits_dash_underscore(void **state)
{
    assert_true(dispatch_name_valid("tenant-1_a", 10));
    assert_false(dispatch_name_valid("", 0));
    assert_false(dispatch_name_valid("Tenant", 6));
    assert_false(dispatch_name_valid("a.b", 3));
    assert_false(dispatch_name_valid("a/b", 3));
    assert_false(dispatch_name_valid("a\0b", 3));
    assert_true(dispatch_name_valid(
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123", 63));
    assert_false(dispatch_name_valid(
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234", 64));
}

static void
test_outcomes_map_to_spec_statuses(void **state)
{
    assert_string_equal(dispatch_outcome_name(DISPATCH_OUTCOME_NOT_FOUND), "not_found");
    assert_int_equal(dispatch_outcome_status(DISPATCH_OUTCOME_NOT_FOUND), 404);
    assert_int_equal(dispatch_outcome_status(DISPATCH_OUTCOME_EXCEPTION), 500);
    assert_int_equal(dispatch_outcome_status(DISPATCH_OUTCOME_STORE_UNAVAILABLE), 503);
    assert_int_equal(dispatch_outcome_status(DISPATCH_OUTCOME_EXCEEDED_WALL), 504);
    assert_string_equal(dispatch_outcome_name(DISPATCH_OUTCOME_STORE_UNAVAILABLE),
                        "store_unavailable");
}

/* ---- egress policy ---------------------------------------------------------- */

static char  why[512];

/* fetch() to addr:port under a policy of the entries: 1 allowed, 0 refused */
static int
allowed_by(const char *const *entries, size_t n, const char *addr, int port)
{
    int  rc = egress_allows(entries, n, addr, port, why, sizeof(why));

    if (rc < 0) {
        fail_msg("%s", why);
    }
    return rc;
}

static int
allowed(const char *addr)
{
    return allowed_by(NULL, 0, addr, 443);
}

typedef struct {
    const char  *first, *last;      /* the range's edges, refused */
    const char  *before, *after;    /* its public neighbours, or NULL */
    const char  *kind;              /* in the reason */
} reserved_range_t;

static const reserved_range_t  reserved4[] = {
    { "0.0.0.0", "0.255.255.255", NULL, "1.0.0.0", "\"this network\"" },
    { "10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0", "private" },
    { "100.64.0.0", "100.127.255.255", "100.63.255.255", "100.128.0.0", "CGNAT" },
    { "127.0.0.0", "127.255.255.255", "126.255.255.255", "128.0.0.0", "loopback" },
    { "169.254.0.0", "169.254.255.255", "169.253.255.255", "169.255.0.0", "link-local" },
    { "172.16.0.0", "172.31.255.255", "172.15.255.255", "172.32.0.0", "private" },
    { "192.0.0.0", "192.0.0.255", "191.255.255.255", "192.0.1.0", "IETF protocol" },
    { "192.0.2.0", "192.0.2.255", "192.0.1.255", "192.0.3.0", "documentation" },
    { "192.88.99.0", "192.88.99.255", "192.88.98.255", "192.88.100.0", "6to4 relay" },
    { "192.168.0.0", "192.168.255.255", "192.167.255.255", "192.169.0.0", "private" },
    { "198.18.0.0", "198.19.255.255", "198.17.255.255", "198.20.0.0", "benchmarking" },
    { "198.51.100.0", "198.51.100.255", "198.51.99.255", "198.51.101.0", "documentation" },
    { "203.0.113.0", "203.0.113.255", "203.0.112.255", "203.0.114.0", "documentation" },
    { "224.0.0.0", "239.255.255.255", "223.255.255.255", NULL, "multicast" },
    { "240.0.0.0", "255.255.255.254", NULL, NULL, "reserved" },
    { "255.255.255.255", "255.255.255.255", NULL, NULL, "broadcast" },
};

/* neighbours only where they are global unicast (2000::/3) themselves */
static const reserved_range_t  reserved6[] = {
    { "::", "::", NULL, NULL, "unspecified" },
    { "::1", "::1", NULL, NULL, "loopback" },
    { "::2", "::ffff:ffff", NULL, NULL, "IPv4-compatible" },
    { "100::", "100::ffff:ffff:ffff:ffff", NULL, NULL, "discard-only" },
    { "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      NULL, "Teredo" },
    { "2001:1::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "2001:200::",
      "IETF protocol" },
    { "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
      "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "documentation" },
    { "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL, "unique local" },
    { "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL, "link-local" },
    { "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL, "site-local" },
    { "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL, "multicast" },
};

static void
assert_refused_as(const char *addr, const char *kind)
{
    if (allowed(addr)) {
        fail_msg("%s was allowed", addr);
    }
    if (strstr(why, kind) == NULL) {
        fail_msg("%s: \"%s\" does not say \"%s\"", addr, why, kind);
    }
}

static void
assert_allowed(const char *addr)
{
    if (!allowed(addr)) {
        fail_msg("%s was refused: %s", addr, why);
    }
}

static void
assert_edges_refused(const reserved_range_t *r, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        assert_refused_as(r[i].first, r[i].kind);
        assert_refused_as(r[i].last, r[i].kind);
    }
}

static void
assert_neighbours_allowed(const reserved_range_t *r, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (r[i].before) {
            assert_allowed(r[i].before);
        }
        if (r[i].after) {
            assert_allowed(r[i].after);
        }
    }
}

static void
test_egress_public_unicast_addresses_are_allowed(void **state)
{
    assert_allowed("8.8.8.8");
    assert_allowed("1.1.1.1");
    assert_allowed("2606:4700:4700::1111");
    assert_allowed("2a00:1450:4001::1");
}

static void
test_egress_each_reserved_ipv4_range_is_refused_at_both_edges(void **state)
{
    assert_edges_refused(reserved4, sizeof(reserved4) / sizeof(reserved4[0]));
}

static void
test_egress_the_public_neighbours_of_reserved_ipv4_ranges_are_allowed(void **state)
{
    assert_neighbours_allowed(reserved4, sizeof(reserved4) / sizeof(reserved4[0]));
}

static void
test_egress_each_reserved_ipv6_range_is_refused_at_both_edges(void **state)
{
    assert_edges_refused(reserved6, sizeof(reserved6) / sizeof(reserved6[0]));
}

static void
test_egress_the_public_neighbours_of_reserved_ipv6_ranges_are_allowed(void **state)
{
    assert_neighbours_allowed(reserved6, sizeof(reserved6) / sizeof(reserved6[0]));
}

static void
test_egress_ipv6_outside_global_unicast_is_refused(void **state)
{
    assert_refused_as("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2000::/3");
    assert_refused_as("4000::", "2000::/3");
    assert_refused_as("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "2000::/3");
    assert_allowed("2000::");
    assert_allowed("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void
test_egress_ipv4_mapped_addresses_are_judged_by_their_ipv4(void **state)
{
    assert_refused_as("::ffff:127.0.0.1", "for 127.0.0.1, a loopback address");
    assert_refused_as("::ffff:169.254.169.254", "link-local");
    assert_refused_as("::ffff:10.0.0.1", "private");
    assert_refused_as("::ffff:0.0.0.0", "\"this network\"");
    assert_refused_as("::ffff:255.255.255.255", "broadcast");
    assert_allowed("::ffff:8.8.8.8");
}

static void
test_egress_nat64_addresses_are_judged_by_their_ipv4(void **state)
{
    assert_refused_as("64:ff9b::7f00:1", "a NAT64 address for 127.0.0.1, a loopback");
    assert_refused_as("64:ff9b::a9fe:a9fe", "169.254.169.254, a link-local");
    assert_refused_as("64:ff9b::", "\"this network\"");
    assert_refused_as("64:ff9b::ffff:ffff", "broadcast");
    assert_allowed("64:ff9b::808:808");
}

static void
test_egress_local_use_nat64_is_judged_by_either_place_of_its_ipv4(void **state)
{
    /* 8.8.8.8 in both places: RFC 6052's /48 spot and the last 32 bits */
    assert_allowed("64:ff9b:1:808:8:800:808:808");
    assert_refused_as("64:ff9b:1:808:8:800:7f00:1", "127.0.0.1, a loopback");
    assert_refused_as("64:ff9b:1:a00:0:100:808:808", "10.0.0.1, a private");
    assert_refused_as("64:ff9b:1::", "local-use NAT64");
    assert_refused_as("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "local-use NAT64");
}

static void
test_egress_6to4_addresses_are_judged_by_their_ipv4(void **state)
{
    assert_refused_as("2002:7f00:1::", "a 6to4 address for 127.0.0.1, a loopback");
    assert_refused_as("2002:c0a8:101::1", "192.168.1.1, a private");
    assert_refused_as("2002::", "\"this network\"");
    assert_refused_as("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "broadcast");
    assert_allowed("2002:808:808::1");
    assert_allowed("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_allowed("2003::");
}

static void
test_egress_the_reason_names_the_address_and_the_directive(void **state)
{
    assert_false(allowed("127.0.0.1"));
    assert_string_equal(why,
        "127.0.0.1 is a loopback address; dispatch_fetch_allow does not open it");
    assert_false(allowed("::1"));
    assert_string_equal(why,
        "::1 is a loopback address; dispatch_fetch_allow does not open it");
}

static void
test_egress_an_entry_opens_its_range_and_no_more(void **state)
{
    const char  *entries[] = { "10.1.2.0/24" };

    assert_int_equal(allowed_by(entries, 1, "10.1.2.0", 80), 1);
    assert_int_equal(allowed_by(entries, 1, "10.1.2.255", 443), 1);
    assert_int_equal(allowed_by(entries, 1, "10.1.1.255", 80), 0);
    assert_int_equal(allowed_by(entries, 1, "10.1.3.0", 80), 0);
    assert_int_equal(allowed_by(entries, 1, "127.0.0.1", 80), 0);
}

static void
test_egress_an_entry_with_a_port_opens_that_port_only(void **state)
{
    const char  *entries[] = { "127.0.0.1/32:8443" };

    assert_int_equal(allowed_by(entries, 1, "127.0.0.1", 8443), 1);
    assert_int_equal(allowed_by(entries, 1, "127.0.0.1", 8444), 0);
    assert_string_equal(why, "127.0.0.1 is a loopback address; "
                             "dispatch_fetch_allow opens it only on port 8443");
    assert_int_equal(allowed_by(entries, 1, "127.0.0.2", 8443), 0);
}

static void
test_egress_ipv6_entries_with_and_without_a_port(void **state)
{
    const char  *ula[] = { "fd00::/8" };
    const char  *lo[] = { "[::1]/128:8080" };

    assert_int_equal(allowed_by(ula, 1, "fd00::1", 80), 1);
    assert_int_equal(allowed_by(ula, 1, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80), 1);
    assert_int_equal(allowed_by(ula, 1, "fc00::1", 80), 0);
    assert_int_equal(allowed_by(lo, 1, "::1", 8080), 1);
    assert_int_equal(allowed_by(lo, 1, "::1", 8081), 0);
    assert_int_equal(allowed_by(lo, 1, "::2", 8080), 0);
}

static void
test_egress_entries_add_up(void **state)
{
    const char  *entries[] = { "127.0.0.1/32:8443", "127.0.0.1/32:8080", "10.0.0.0/8" };

    assert_int_equal(allowed_by(entries, 3, "127.0.0.1", 8443), 1);
    assert_int_equal(allowed_by(entries, 3, "127.0.0.1", 8080), 1);
    assert_int_equal(allowed_by(entries, 3, "10.9.9.9", 1), 1);
    assert_int_equal(allowed_by(entries, 3, "127.0.0.1", 80), 0);
    assert_string_equal(why, "127.0.0.1 is a loopback address; "
                             "dispatch_fetch_allow opens it only on port 8443, 8080");
}

static void
test_egress_an_entry_never_closes_a_public_address(void **state)
{
    const char  *entries[] = { "8.8.8.0/24:53" };

    assert_int_equal(allowed_by(entries, 1, "8.8.8.8", 443), 1);
}

static void
test_egress_an_ipv4_entry_opens_its_mapped_spelling_but_not_nat64(void **state)
{
    const char  *entries[] = { "127.0.0.1" };

    /* ::ffff:127.0.0.1 is the same socket; 64:ff9b::7f00:1 is a translator's */
    assert_int_equal(allowed_by(entries, 1, "::ffff:127.0.0.1", 80), 1);
    assert_int_equal(allowed_by(entries, 1, "64:ff9b::7f00:1", 80), 0);
    assert_int_equal(allowed_by(entries, 1, "2002:7f00:1::", 80), 0);
}

static void
test_egress_valid_entries_are_accepted(void **state)
{
    static const char  *good[] = {
        "10.1.2.0/24", "127.0.0.1/32:8443", "fd00::/8", "[::1]/128:8080",
        "127.0.0.1", "127.0.0.1:8080", "::1", "[::1]", "[::1]:8080", "[fd00::]/8",
        "fd00::/8:443", "0.0.0.0/0",
    };
    char    err[256];
    size_t  i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        err[0] = '\0';
        if (!dispatch_fetch_allow_valid(good[i], strlen(good[i]), err, sizeof(err))) {
            fail_msg("\"%s\" refused: %s", good[i], err);
        }
    }
}

static void
test_egress_bad_entries_are_refused_with_their_reason(void **state)
{
    static const struct {
        const char  *entry;
        const char  *reason;
    } bad[] = {
        { "", "an empty entry" },
        { "example.com/8", "\"example.com\" is not an IPv4 or IPv6 address" },
        { "10.1.2/24", "\"10.1.2\" is not an IPv4 or IPv6 address" },
        { "0x7f.0.0.1/32", "is not an IPv4 or IPv6 address" },
        { "fe80::1%eth0/128", "is not an IPv4 or IPv6 address" },
        { "10.0.0.0/33", "the prefix length must be 0-32 for an IPv4 address" },
        { "fd00::/129", "the prefix length must be 0-128 for an IPv6 address" },
        { "10.0.0.0/-1", "the prefix length must be 0-32" },
        { "10.0.0.0/", "the prefix length must be 0-32" },
        { "10.1.2.3/24", "host bits are set: the network is 10.1.2.0/24" },
        { "fd00::1/8", "host bits are set: the network is fd00::/8" },
        { "10.0.0.0/8:0", "a port of 1-65535" },
        { "10.0.0.0/8:65536", "a port of 1-65535" },
        { "10.0.0.0/8:", "a port of 1-65535" },
        { "10.0.0.0/8:http", "a port of 1-65535" },
        { "10.0.0.0/8 ", "the prefix length must be 0-32" },
        { "10.0.0.0 ", "is not an IPv4 or IPv6 address" },
        { "[::1/128", "a '[' without its ']'" },
        { "[10.0.0.1]/32", "brackets are for IPv6 addresses only" },
    };
    char    err[256];
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (dispatch_fetch_allow_valid(bad[i].entry, strlen(bad[i].entry), err, sizeof(err))) {
            fail_msg("\"%s\" accepted", bad[i].entry);
        }
        if (strstr(err, bad[i].reason) == NULL) {
            fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].entry, err, bad[i].reason);
        }
    }
}

static void
test_egress_ip_literals_are_read_as_the_url_parser_reads_them(void **state)
{
    static const struct {
        const char  *host;
        const char  *addr;   /* NULL: a domain name */
    } cases[] = {
        { "127.0.0.1", "127.0.0.1" },
        { "[::1]", "::1" },
        { "[::ffff:127.0.0.1]", "::ffff:127.0.0.1" },
        { "2130706433", "127.0.0.1" },
        { "0x7f.1", "127.0.0.1" },
        { "0177.0.0.1", "127.0.0.1" },
        { "127.1", "127.0.0.1" },
        { "127.0.0.1.", "127.0.0.1" },
        { "0x7F000001", "127.0.0.1" },
        { "169.254.43518", "169.254.169.254" },
        { "example.com", NULL },
        { "localhost", NULL },
        { "1.2.3.4.5", NULL },
        { "256.0.0.1", NULL },
        { "4294967296", NULL },
        { "08.0.0.1", NULL },
        { "[::1", NULL },
        { "", NULL },
    };
    char    out[64];
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int  lit = egress_ip_literal(cases[i].host, out, sizeof(out));

        if (cases[i].addr == NULL) {
            if (lit) {
                fail_msg("\"%s\" read as %s", cases[i].host, out);
            }
            continue;
        }
        if (!lit || strcmp(out, cases[i].addr) != 0) {
            fail_msg("\"%s\" read as %s, not %s", cases[i].host, lit ? out : "a name",
                     cases[i].addr);
        }
    }
}

/* ---- requests --------------------------------------------------------------- */

static void
test_missing_script_is_not_found(void **state)
{
    call_t c;

    call(&c, "ns", "nope", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_NOT_FOUND);
    assert_int_equal(c.resp.status, 404);
    dispatch_request_release(c.req);
}

static void
test_invalid_name_is_not_found_without_redis(void **state)
{
    call_t c;

    redis_fixture_stop();  /* proves Redis is not asked */
    call(&c, "ns", "Bad.Name", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_NOT_FOUND);
    dispatch_request_release(c.req);
    assert_true(redis_fixture_start() > 0);
}

static void
test_module_response_comes_back(void **state)
{
    call_t c;

    assert_int_equal(redis_fixture_put_script("ns", "hello",
        "export default { fetch() { return new Response('hi there', "
        "{ status: 201, statusText: 'Made', headers: { 'X-A': 'b' } }); } };",
        NULL), 0);

    call(&c, "ns", "hello", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.status, 201);
    assert_int_equal(c.resp.status_text.len, 4);
    assert_string_equal(header(&c, "x-a"), "b");
    assert_string_equal(header(&c, "content-type"), "text/plain;charset=UTF-8");
    assert_body(&c, "hi there");
    dispatch_request_release(c.req);
}

/* a fresh directory for the Cache API's bodies, and an engine using it */
static void
cache_engine(char *dir)
{
    strcpy(dir, "/tmp/dispatch-cache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    conf_overrides.cache_path = dir;
    restart_engine();
}

static void
cache_engine_done(const char *dir)
{
    char  cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* script ns/cache, with a cache path or not, answers expected */
static void
cache_script_answers(int with_path, const char *code, const char *expected)
{
    call_t  c;
    char    dir[64];

    if (with_path) {
        cache_engine(dir);
    }
    redis_fixture_put_script("ns", "cache", code, NULL);
    call(&c, "ns", "cache", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_body(&c, expected);
    dispatch_request_release(c.req);
    if (with_path) {
        cache_engine_done(dir);
    }
}

static void
test_cache_put_then_match_streams_the_body_back(void **state)
{
    cache_script_answers(1,
        "export default { async fetch() {"
        "  const big = 'x'.repeat(200000);"
        "  await caches.default.put('https://c.test/a', new Response(big, { headers: { 'cache-control': 'max-age=60' } }));"
        "  const hit = await caches.default.match('https://c.test/a');"
        "  const miss = await caches.default.match('https://c.test/b');"
        "  const text = await hit.text();"
        "  return new Response([text === big, hit.headers.get('cf-cache-status'), miss === undefined].join('|'));"
        "} };", "true|HIT|true");
}

static void
test_cache_full_index_evicts_the_least_recently_used(void **state)
{
    cache_script_answers(1,
        "export default { async fetch() {"
        "  const put = (i) => caches.default.put('https://c.test/' + i, new Response('v' + i, { headers: { 'cache-control': 'max-age=60' } }));"
        "  for (let i = 0; i < 4; i++) await put(i);"
        "  await caches.default.match('https://c.test/0');"  /* 0 is used: 1 goes next */
        "  await put(4);"
        "  const hits = [];"
        "  for (let i = 0; i < 5; i++) hits.push((await caches.default.match('https://c.test/' + i)) ? 1 : 0);"
        "  return new Response(hits.join(''));"
        "} };", "10111");
}

static void
test_cache_without_a_path_misses_and_stores_nothing(void **state)
{
    cache_script_answers(0,
        "export default { async fetch() {"
        "  const r = await caches.default.put('https://c.test/a', new Response('x', { headers: { 'cache-control': 'max-age=60' } }));"
        "  return new Response([r, await caches.default.match('https://c.test/a'), await caches.default.delete('https://c.test/a')].join('|'));"
        "} };", "||false");
}

static void
test_request_reaches_the_script(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "echo",
        "export default { async fetch(req) {"
        "  const u = new URL(req.url);"
        "  return new Response([req.method, u.pathname, u.searchParams.get('q'),"
        "    req.headers.get('x-test'), await req.text()].join('|'));"
        "} };", NULL);

    call(&c, "ns", "echo", "POST", "http://example.com/a/b?q=1", "payload");
    assert_int_equal(c.resp.status, 200);
    assert_body(&c, "POST|/a/b|1|yes|payload");
    dispatch_request_release(c.req);
}

static void
test_thrown_exception_is_500_and_logged_with_tenant(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "throws",
        "export default { fetch() { throw new Error('boom-42'); } };", NULL);

    call(&c, "ns", "throws", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEPTION);
    assert_int_equal(c.resp.status, 500);
    assert_non_null(strstr(poll_host_log(), "\"ns/throws\""));
    assert_non_null(strstr(poll_host_log(), "boom-42"));
    dispatch_request_release(c.req);
}

/* ---- metrics (dispatch_status) --------------------------------------------- */

typedef struct {
    int       scripts;
    uint64_t  ok, exception, wall, response_bytes, created;
    double    cpu_ms;
} drained_t;

static void
drain_one(void *ctx, const dispatch_script_metrics_t *m)
{
    drained_t *d = ctx;
    size_t     i;

    d->scripts++;
    if (m->script.len != 5 || memcmp(m->script.data, "count", 5) != 0) {
        return;
    }
    d->ok += m->requests[DISPATCH_OUTCOME_OK];
    d->exception += m->requests[DISPATCH_OUTCOME_EXCEPTION];
    for (i = 0; i < DISPATCH_WALL_BUCKETS; i++) {
        d->wall += m->wall[i];
    }
    d->response_bytes += m->response_bytes;
    d->created += m->isolates_created;
    d->cpu_ms += m->cpu_ms;
}

static void
test_metrics_drain_hands_each_scripts_counts_once(void **state)
{
    call_t                     c;
    int                        i;
    drained_t                  d;
    dispatch_worker_metrics_t  w;

    redis_fixture_put_script("ns", "count",
        "export default { fetch(req) {"
        "  if (req.url.endsWith('/throw')) throw new Error('x');"
        "  return new Response('12345'); } };", NULL);

    memset(&d, 0, sizeof(d));
    assert_int_equal(dispatch_engine_metrics_drain(engine, drain_one, &d, &w), 0);

    for (i = 0; i < 3; i++) {
        call(&c, "ns", "count", "GET", "http://example.com/", NULL);
        dispatch_request_release(c.req);
    }
    call(&c, "ns", "count", "GET", "http://example.com/throw", NULL);
    dispatch_request_release(c.req);

    memset(&d, 0, sizeof(d));
    assert_int_equal(dispatch_engine_metrics_drain(engine, drain_one, &d, &w), 0);
    assert_int_equal(d.ok, 3);
    assert_int_equal(d.exception, 1);
    assert_int_equal(d.wall, 4);              /* one histogram entry each */
    assert_int_equal(d.response_bytes, 15);
    assert_true(d.created <= 1);
    assert_true(d.cpu_ms > 0);
    assert_true(w.cache_hits + w.cache_misses >= 4);
    assert_true(w.isolates >= 1);
    assert_int_equal(w.redis_connected, 1);

    /* drained: nothing is handed twice */
    memset(&d, 0, sizeof(d));
    assert_int_equal(dispatch_engine_metrics_drain(engine, drain_one, &d, &w), 0);
    assert_int_equal(d.scripts, 0);
    assert_int_equal(w.cache_hits + w.cache_misses, 0);
}

static void
test_result_that_is_not_a_response_is_500(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "str",
        "export default { fetch() { return 'just a string'; } };", NULL);

    call(&c, "ns", "str", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEPTION);
    assert_non_null(strstr(poll_host_log(), "not a Response"));
    dispatch_request_release(c.req);
}

static void
test_syntax_error_is_500_and_names_the_line(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "broken",
        "export default {\n  fetch() {\n    return new Response(;\n  }\n};", NULL);

    call(&c, "ns", "broken", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEPTION);
    assert_non_null(strstr(poll_host_log(), "worker.js:3"));
    assert_non_null(strstr(poll_host_log(), "SyntaxError"));
    dispatch_request_release(c.req);
}

static void
test_isolate_keeps_globals_between_requests_of_one_script(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "counter",
        "let n = 0; export default { fetch() { return new Response(String(++n)); } };",
        "v1");

    call(&c, "ns", "counter", "GET", "http://example.com/", NULL);
    assert_body(&c, "1");
    dispatch_request_release(c.req);
    call(&c, "ns", "counter", "GET", "http://example.com/", NULL);
    assert_body(&c, "2");
    dispatch_request_release(c.req);
}

static void
test_scripts_do_not_share_globals(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "writer",
        "globalThis.secret = 's3cret'; export default { fetch() {"
        " return new Response(String(globalThis.secret)); } };", NULL);
    redis_fixture_put_script("ns", "reader",
        "export default { fetch() { return new Response(String(globalThis.secret)); } };",
        NULL);

    call(&c, "ns", "writer", "GET", "http://example.com/", NULL);
    assert_body(&c, "s3cret");
    dispatch_request_release(c.req);
    call(&c, "ns", "reader", "GET", "http://example.com/", NULL);
    assert_body(&c, "undefined");
    dispatch_request_release(c.req);
}

static void
test_new_version_of_a_script_gets_a_fresh_isolate(void **state)
{
    char body[32];

    redis_fixture_put_script("ns", "ver",
        "let n = 0; export default { fetch() { return new Response('v1:' + ++n); } };", "1");
    get("ver", body, sizeof(body));
    assert_string_equal(body, "v1:1");
    get("ver", body, sizeof(body));
    assert_string_equal(body, "v1:2");

    redis_fixture_put_script("ns", "ver",
        "let n = 0; export default { fetch() { return new Response('v2:' + ++n); } };", "2");
    redis_fixture_cmd("PUBLISH dispatch:events ns/ver");
    poll_host_run_for(300);
    get("ver", body, sizeof(body));
    assert_string_equal(body, "v2:1");
}

static void
test_eval_is_refused(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "evil",
        "export default { fetch() { let r; try { r = eval('1+1'); } catch (e) {"
        " r = e.constructor.name; } return new Response(String(r)); } };", NULL);
    call(&c, "ns", "evil", "GET", "http://example.com/", NULL);
    assert_body(&c, "EvalError");
    dispatch_request_release(c.req);
}

static void
test_redis_down_is_store_unavailable_within_the_timeout(void **state)
{
    call_t          c;
    struct timespec t0, t1;

    redis_fixture_stop();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    call(&c, "ns", "any", "GET", "http://example.com/", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_STORE_UNAVAILABLE);
    assert_int_equal(c.resp.status, 503);
    /* the timeout is 1 s; allow ten times that on a busy machine */
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    dispatch_request_release(c.req);
    assert_true(redis_fixture_start() > 0);
}

static void
test_released_request_is_never_woken(void **state)
{
    call_t                   c;
    dispatch_request_view_t  view;

    redis_fixture_put_script("ns", "hangs",
        "export default { fetch() { return new Promise(() => {}); } };", NULL);

    memset(&c, 0, sizeof(c));
    memset(&view, 0, sizeof(view));
    view.ns = str("ns");
    view.script = str("hangs");
    view.method = str("GET");
    view.url = str("http://example.com/");
    view.ctx = &c.woke;
    c.req = dispatch_request_start(engine, &view);
    assert_non_null(c.req);
    poll_host_run_for(300);
    assert_int_equal(c.woke, 0);
    assert_int_equal(dispatch_request_response(c.req, &c.resp), 0);

    dispatch_request_release(c.req);  /* the client went away */
    poll_host_run_for(100);
    assert_int_equal(poll_host_wakes(&c.woke), 0);
}

static void
test_destroy_closes_the_redis_connection(void **state)
{
    call_t c;

    call(&c, "ns", "nothing", "GET", "http://example.com/", NULL);
    dispatch_request_release(c.req);
    assert_true(poll_host_open_fds() > 0);
    dispatch_engine_destroy(engine);
    engine = NULL;
    assert_int_equal(poll_host_open_fds(), 0);
}

/* ---- the script cache ------------------------------------------------------ */

static void
test_cached_script_costs_no_redis_round_trip(void **state)
{
    long before;

    redis_fixture_put_script("ns", "c", "export default { fetch() { return new Response('c'); } };", "1");
    assert_int_equal(get("c", NULL, 0), DISPATCH_OUTCOME_OK);
    before = redis_fixture_calls("hgetall") + redis_fixture_calls("hget");
    for (int i = 0; i < 20; i++) {
        assert_int_equal(get("c", NULL, 0), DISPATCH_OUTCOME_OK);
    }
    assert_int_equal(redis_fixture_calls("hgetall") + redis_fixture_calls("hget"), before);
}

static void
test_publish_invalidates_a_cached_script_at_once(void **state)
{
    char body[32];

    redis_fixture_put_script("ns", "p", "export default { fetch() { return new Response('one'); } };", "1");
    assert_int_equal(get("p", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "one");

    redis_fixture_put_script("ns", "p", "export default { fetch() { return new Response('two'); } };", "2");
    get("p", body, sizeof(body));
    assert_string_equal(body, "one");  /* cached for dispatch_cache_ttl (10 s) */

    redis_fixture_cmd("PUBLISH dispatch:events ns/p");
    poll_host_run_for(300);  /* the message arrives on the subscription */
    get("p", body, sizeof(body));
    assert_string_equal(body, "two");
}

static void
test_revalidation_after_the_ttl_asks_for_the_etag_only(void **state)
{
    long full, etag;

    conf_overrides.cache_ttl_ms = 100;
    restart_engine();
    redis_fixture_put_script("ns", "r", "export default { fetch() { return new Response('r'); } };", "1");
    assert_int_equal(get("r", NULL, 0), DISPATCH_OUTCOME_OK);
    full = redis_fixture_calls("hgetall");
    etag = redis_fixture_calls("hget");

    poll_host_run_for(200);
    assert_int_equal(get("r", NULL, 0), DISPATCH_OUTCOME_OK);
    assert_int_equal(redis_fixture_calls("hgetall"), full);
    assert_int_equal(redis_fixture_calls("hget"), etag + 1);
}

static void
test_a_changed_etag_is_picked_up_after_the_ttl(void **state)
{
    char body[32];

    conf_overrides.cache_ttl_ms = 100;
    restart_engine();
    redis_fixture_put_script("ns", "e", "export default { fetch() { return new Response('old'); } };", "1");
    get("e", body, sizeof(body));
    assert_string_equal(body, "old");
    redis_fixture_put_script("ns", "e", "export default { fetch() { return new Response('new'); } };", "2");
    poll_host_run_for(200);
    get("e", body, sizeof(body));
    assert_string_equal(body, "new");
}

static void
test_cached_script_is_served_stale_while_redis_is_down(void **state)
{
    char body[32];

    conf_overrides.cache_ttl_ms = 100;
    conf_overrides.stale_ttl_ms = 60000;
    restart_engine();
    redis_fixture_put_script("ns", "s", "export default { fetch() { return new Response('still here'); } };", "1");
    assert_int_equal(get("s", NULL, 0), DISPATCH_OUTCOME_OK);

    redis_fixture_stop();
    poll_host_run_for(200);
    assert_int_equal(get("s", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "still here");
    assert_int_equal(get("uncached", NULL, 0), DISPATCH_OUTCOME_STORE_UNAVAILABLE);
    assert_true(redis_fixture_start() > 0);
}

static void
test_stale_ttl_zero_never_serves_stale(void **state)
{
    conf_overrides.cache_ttl_ms = 100;
    restart_engine();  /* stale_ttl_ms 0 */
    redis_fixture_put_script("ns", "z", "export default { fetch() { return new Response('z'); } };", "1");
    assert_int_equal(get("z", NULL, 0), DISPATCH_OUTCOME_OK);
    redis_fixture_stop();
    poll_host_run_for(200);
    assert_int_equal(get("z", NULL, 0), DISPATCH_OUTCOME_STORE_UNAVAILABLE);
    assert_true(redis_fixture_start() > 0);
}

static void
test_an_unknown_name_is_remembered_briefly(void **state)
{
    long before;

    assert_int_equal(get("ghost", NULL, 0), DISPATCH_OUTCOME_NOT_FOUND);
    before = redis_fixture_calls("hgetall");
    for (int i = 0; i < 50; i++) {
        assert_int_equal(get("ghost", NULL, 0), DISPATCH_OUTCOME_NOT_FOUND);
    }
    assert_int_equal(redis_fixture_calls("hgetall"), before);
}

/* ---- dynamic dispatch --------------------------------------------------------- */

#define NS_BINDING \
    "{\"bindings\":[{\"type\":\"dispatch_namespace\",\"name\":\"T\",\"namespace\":\"tenants\"}]}"

/* a router in ns "ns" that dispatches to tenants/NAME (the URL's path) with
   options.limits.cpuMs from ?cpu=, and answers what happened (x-calls:
   the requests its isolate has served) */
static void
put_router(void)
{
    assert_int_equal(redis_fixture_cmd("HSET dispatch:{ns}:script:router code %s metadata %s",
        "let calls = 0;"
        "export default { async fetch(req, env) {"
        "  const h = { 'x-calls': String(++calls) };"
        "  const u = new URL(req.url);"
        "  const cpu = Number(u.searchParams.get('cpu') || 1000);"
        "  try {"
        "    const r = await env.T.get(u.pathname.slice(1), { ARG: 'a' }, { limits: { cpuMs: cpu } })"
        "      .fetch('http://tenant/x', { method: 'POST', body: 'up', headers: { 'x-r': '1' } });"
        "    return new Response(`${r.status} ${r.headers.get('x-t')} ${await r.text()}`, { headers: h });"
        "  } catch (e) { return new Response('caught ' + e.message, { status: 502, headers: h }); }"
        "} };", NS_BINDING), 0);
}

static void
test_dispatch_runs_the_target_in_its_own_isolate_and_returns_its_response(void **state)
{
    call_t c;

    put_router();
    redis_fixture_put_script("tenants", "t1",
        "globalThis.mark = 'tenant';"
        "export default { async fetch(req, env) {"
        "  return new Response(`${req.method} ${req.headers.get('x-r')} ${await req.text()} ${env.ARG} "
        "${globalThis.mark}`, { status: 201, headers: { 'x-t': 't1' } });"
        "} };", NULL);

    call(&c, "ns", "router", "GET", "http://example.com/t1", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.status, 200);
    assert_body(&c, "201 t1 POST 1 up a tenant");
    dispatch_request_release(c.req);
}

static void
test_dispatch_to_a_missing_script_rejects_with_worker_not_found(void **state)
{
    call_t c;

    put_router();
    call(&c, "ns", "router", "GET", "http://example.com/nobody", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.status, 502);
    assert_true(c.resp.body.len > 23);
    assert_memory_equal(c.resp.body.data, "caught Worker not found", 23);
    dispatch_request_release(c.req);

    /* now the miss is known: get() throws at once, with the same message */
    call(&c, "ns", "router", "GET", "http://example.com/nobody", NULL);
    assert_int_equal(c.resp.status, 502);
    assert_memory_equal(c.resp.body.data, "caught Worker not found", 23);
    dispatch_request_release(c.req);
}

static void
test_dispatch_cpu_breach_rejects_in_the_router_which_lives_on(void **state)
{
    call_t c;
    char   body[512];

    put_router();
    redis_fixture_put_script("tenants", "spin", "export default { fetch() { for (;;) {} } };", NULL);
    redis_fixture_put_script("tenants", "fine", "export default { fetch() { return new Response('ok'); } };", NULL);

    call(&c, "ns", "router", "GET", "http://example.com/spin?cpu=20", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.status, 502);
    snprintf(body, sizeof(body), "%.*s", (int) c.resp.body.len, c.resp.body.data);
    assert_non_null(strstr(body, "Worker \"spin\" exceeded CPU time limit (20ms)."));
    dispatch_request_release(c.req);

    /* the router's isolate is the same one: it answers the next dispatch */
    call(&c, "ns", "router", "GET", "http://example.com/fine", NULL);
    assert_int_equal(c.resp.status, 200);
    assert_body(&c, "200 null ok");
    assert_string_equal(header(&c, "x-calls"), "2");
    dispatch_request_release(c.req);
}

/* ---- limits ------------------------------------------------------------------- */

static void
test_cpu_limit_stops_a_loop_and_the_next_request_runs(void **state)
{
    limits.cpu_limit_ms = 50;
    redis_fixture_put_script("ns", "spin", "export default { fetch() { for (;;) {} } };", NULL);
    redis_fixture_put_script("ns", "fine", "export default { fetch() { return new Response('fine'); } };", NULL);

    assert_int_equal(get("spin", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_CPU);
    assert_int_equal(get("fine", NULL, 0), DISPATCH_OUTCOME_OK);
    assert_int_equal(get("spin", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_CPU);  /* a new isolate */
}

static void
test_cpu_limit_sums_a_request_s_microtask_turns(void **state)
{
    limits.cpu_limit_ms = 50;
    redis_fixture_put_script("ns", "micro",
        "export default { async fetch() { for (;;) await 0; } };", NULL);
    assert_int_equal(get("micro", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_CPU);
}

static void
test_startup_cpu_limit_stops_a_looping_top_level(void **state)
{
    conf_overrides.startup_cpu_limit_ms = 100;
    restart_engine();
    redis_fixture_put_script("ns", "top",
        "for (;;) {} export default { fetch() { return new Response('x'); } };", NULL);
    assert_int_equal(get("top", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_CPU);
}

static void
test_memory_limit_stops_a_heap_bomb(void **state)
{
    conf_overrides.memory_limit = 32 << 20;
    restart_engine();
    limits.cpu_limit_ms = 10000;
    redis_fixture_put_script("ns", "bomb",
        "export default { fetch() { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); } };",
        NULL);
    assert_int_equal(get("bomb", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_MEMORY);
}

static void
test_memory_limit_stops_an_array_buffer_bomb(void **state)
{
    conf_overrides.memory_limit = 32 << 20;
    restart_engine();
    redis_fixture_put_script("ns", "abomb",
        "export default { fetch() { const k = []; for (;;) k.push(new ArrayBuffer(4 << 20)); } };",
        NULL);
    assert_int_equal(get("abomb", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_MEMORY);
}

static void
test_a_body_larger_than_the_budget_left_is_413_before_the_script_runs(void **state)
{
    call_t   c;
    char     body[64];
    char    *big;
    size_t   len = 12 << 20;

    conf_overrides.memory_limit = 8 << 20;
    restart_engine();
    redis_fixture_put_script("ns", "count",
        "let n = 0; export default { fetch() { return new Response(String(++n)); } };", NULL);
    assert_int_equal(get("count", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "1");

    big = malloc(len + 1);
    assert_non_null(big);
    memset(big, 'x', len);
    big[len] = '\0';
    call(&c, "ns", "count", "POST", "http://example.com/", big);
    free(big);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEEDED_MEMORY);
    assert_int_equal(c.resp.status, 413);
    dispatch_request_release(c.req);

    /* the same isolate, and the handler never ran for the big body */
    assert_int_equal(get("count", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "2");
}

/*
 * Array.prototype.then would make the built-ins' output array a thenable,
 * so that what the handler's promise resolves with is the tenant's: the
 * built-ins hand over a frozen array with no prototype, and the engine
 * checks whatever it gets. Either way the forged response never comes out.
 */
static void
forge(const char *script, const char *output)
{
    call_t  c;
    char    code[1024];

    snprintf(code, sizeof(code),
        "export default { fetch() {"
        "  Object.defineProperty(Array.prototype, 'then', { configurable: true,"
        "    get() { delete Array.prototype.then; return (ok) => ok(%s); } });"
        "  return new Response('genuine');"
        "} };", output);
    redis_fixture_put_script("ns", script, code, NULL);
    call(&c, "ns", script, "GET", "http://example.com/", NULL);
    if (c.resp.outcome == DISPATCH_OUTCOME_OK) {
        assert_int_equal(c.resp.status, 200);
        assert_body(&c, "genuine");
    } else {
        assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEPTION);
        assert_int_equal(c.resp.status, 500);
    }
    dispatch_request_release(c.req);
}

static void
test_a_forged_status_101_never_comes_out(void **state)
{
    forge("forge101", "[101, 'x', ['Upgrade', 'websocket'], null]");
}

static void
test_a_forged_header_name_never_comes_out(void **state)
{
    forge("forgename", "[200, '', ['bad name', 'v'], null]");
}

static void
test_hop_by_hop_headers_never_leave_the_engine(void **state)
{
    call_t  c;

    redis_fixture_put_script("ns", "hop",
        "export default { fetch() { return new Response('ok', { headers: {"
        "  'Connection': 'evil', 'Upgrade': 'websocket', 'Proxy-Foo': '1', 'X-Ok': '1' } }); } };",
        NULL);
    call(&c, "ns", "hop", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.nheaders, 2);   /* content-type and x-ok */
    assert_string_equal(header(&c, "x-ok"), "1");
    dispatch_request_release(c.req);
}

static void
cf_pair(dispatch_header_t *cf, size_t *n, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
    cf[*n].name.data = name;
    cf[*n].name.len = name_len;
    cf[*n].value.data = value;
    cf[*n].value.len = value_len;
    (*n)++;
}

/* request.cf: the engine keeps the header's bounds whatever the host sends */
static void
test_request_cf_keeps_the_bounds_of_the_header(void **state)
{
    static char         big[DISPATCH_CF_VALUE_MAX + 1];
    static char         names[DISPATCH_CF_MAX + 8][8];
    dispatch_header_t   cf[DISPATCH_CF_MAX + 16];
    size_t              n = 0, i;
    char                body[128];
    const char         *long_name =
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345";

    memset(big, 'x', sizeof(big));
    cf_pair(cf, &n, "ok", 2, "v", 1);
    cf_pair(cf, &n, "bad-name", 8, "x", 1);
    cf_pair(cf, &n, "", 0, "x", 1);
    cf_pair(cf, &n, long_name, strlen(long_name), "x", 1);
    cf_pair(cf, &n, "long", 4, big, DISPATCH_CF_VALUE_MAX + 1);
    cf_pair(cf, &n, "edge", 4, big, DISPATCH_CF_VALUE_MAX);
    cf_pair(cf, &n, "ok", 2, "vv", 2);
    for (i = 0; i < DISPATCH_CF_MAX + 6; i++) {
        snprintf(names[i], sizeof(names[i]), "n%zu", i);
        cf_pair(cf, &n, names[i], strlen(names[i]), "1", 1);
    }
    limits.cf = cf;
    limits.ncf = n;

    redis_fixture_put_script("ns", "cfbounds",
        "export default { fetch: (r) => new Response(JSON.stringify([Object.keys(r.cf).length,"
        " r.cf.ok, r.cf.edge.length, 'long' in r.cf, 'bad-name' in r.cf, '' in r.cf,"
        " 'n61' in r.cf, 'n62' in r.cf, Object.isFrozen(r.cf)])) };",
        NULL);
    assert_int_equal(get("cfbounds", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    /* ok and edge, then n0..n61: 64 in all; the last "ok" won */
    assert_string_equal(body, "[64,\"vv\",4096,false,false,false,true,false,true]");
    limits.cf = NULL;
    limits.ncf = 0;
}

static void
test_promise_then_replaced_steals_no_engine_callback(void **state)
{
    char  body[64];

    redis_fixture_put_script("ns", "steal",
        "const seen = []; const then = Promise.prototype.then;"
        "Promise.prototype.then = function (a, b) { seen.push(a, b); return then.call(this, a, b); };"
        "export default { async fetch(request, env, ctx) {"
        "  ctx.waitUntil(Promise.resolve(1));"
        "  await null;"
        "  return new Response(String(seen.length));"
        "} };", NULL);
    assert_int_equal(get("steal", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "0");
}

static void
test_a_script_that_keeps_hitting_its_cpu_limit_is_throttled(void **state)
{
    int  stopped = 0, refused = 0;

    limits.cpu_limit_ms = 5;
    redis_fixture_put_script("ns", "spin", "export default { fetch() { for (;;) {} } };", NULL);
    for (int i = 0; i < 12; i++) {
        switch (get("spin", NULL, 0)) {
        case DISPATCH_OUTCOME_EXCEEDED_CPU: stopped++; break;
        case DISPATCH_OUTCOME_QUARANTINED: refused++; break;
        default: fail_msg("an outcome other than exceeded_cpu or quarantined");
        }
    }
    /* three offences, then at most a few a second are admitted */
    assert_in_range(stopped, 3, 6);
    assert_true(refused >= 6);
    assert_non_null(strstr(poll_host_log(), "throttled in this worker"));
    assert_int_equal(dispatch_outcome_status(DISPATCH_OUTCOME_QUARANTINED), 503);
}

static void
test_an_allocation_larger_than_the_limit_is_a_catchable_range_error(void **state)
{
    char body[64];

    conf_overrides.memory_limit = 32 << 20;
    restart_engine();
    redis_fixture_put_script("ns", "huge",
        "export default { fetch() { try { new ArrayBuffer(64 << 20); return new Response('no'); }"
        " catch (e) { return new Response(e.constructor.name); } } };", NULL);
    assert_int_equal(get("huge", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "RangeError");
}

static void
test_wall_limit_ends_a_request_without_response(void **state)
{
    limits.wall_limit_ms = 200;
    redis_fixture_put_script("ns", "hang",
        "export default { fetch() { return new Promise(() => {}); } };", NULL);
    assert_int_equal(get("hang", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_WALL);
}

static void
test_a_limit_fails_every_request_in_flight_on_the_isolate(void **state)
{
    call_t waiting, spinning;

    limits.cpu_limit_ms = 50;
    redis_fixture_put_script("ns", "both",
        "export default { fetch(r) { if (r.method === 'POST') for (;;) {}"
        " return new Promise(() => {}); } };", NULL);
    start(&waiting, "ns", "both", "GET", "http://example.com/", NULL);
    poll_host_run_for(100);
    assert_int_equal(waiting.woke, 0);

    call(&spinning, "ns", "both", "POST", "http://example.com/", NULL);
    assert_int_equal(spinning.resp.outcome, DISPATCH_OUTCOME_EXCEEDED_CPU);
    wait_response(&waiting);
    assert_int_equal(waiting.resp.outcome, DISPATCH_OUTCOME_EXCEEDED_CPU);
    dispatch_request_release(spinning.req);
    dispatch_request_release(waiting.req);
}

static void
test_script_concurrency_refuses_requests_beyond_it(void **state)
{
    call_t first, second;

    limits.script_concurrency = 1;
    limits.wall_limit_ms = 500;
    redis_fixture_put_script("ns", "slow",
        "export default { fetch() { return new Promise(() => {}); } };", NULL);
    start(&first, "ns", "slow", "GET", "http://example.com/", NULL);
    poll_host_run_for(50);
    call(&second, "ns", "slow", "GET", "http://example.com/", NULL);
    assert_int_equal(second.resp.outcome, DISPATCH_OUTCOME_OVERLOADED);
    assert_int_equal(second.resp.status, 503);
    wait_response(&first);
    assert_int_equal(first.resp.outcome, DISPATCH_OUTCOME_EXCEEDED_WALL);
    dispatch_request_release(first.req);
    dispatch_request_release(second.req);
}

static void
test_isolates_beyond_the_bound_are_retired_least_recently_used_first(void **state)
{
    char body[16];
    const char *code = "let n = 0; export default { fetch() { return new Response(String(++n)); } };";

    conf_overrides.max_isolates = 2;
    restart_engine();
    redis_fixture_put_script("ns", "a", code, NULL);
    redis_fixture_put_script("ns", "b", code, NULL);
    redis_fixture_put_script("ns", "c", code, NULL);

    get("a", body, sizeof(body)); assert_string_equal(body, "1");
    get("b", body, sizeof(body)); assert_string_equal(body, "1");
    get("a", body, sizeof(body)); assert_string_equal(body, "2");  /* kept */
    get("c", body, sizeof(body)); assert_string_equal(body, "1");  /* retires b */
    get("a", body, sizeof(body)); assert_string_equal(body, "3");  /* still kept */
    get("b", body, sizeof(body)); assert_string_equal(body, "1");  /* started afresh */
}

static void
test_service_worker_format_answers(void **state)
{
    char body[64];

    redis_fixture_cmd("HSET dispatch:{ns}:script:sw code %s format service-worker",
        "addEventListener('fetch', e => e.respondWith(new Response('from a worker')));");
    assert_int_equal(get("sw", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "from a worker");
}

/* ---- timers -------------------------------------------------------------------- */

static void
test_timers_fire_in_order_and_cleared_ones_do_not(void **state)
{
    char body[64];

    redis_fixture_put_script("ns", "timers",
        "export default { async fetch() { const seen = [];"
        " const never = setTimeout(() => seen.push('cleared'), 5); clearTimeout(never);"
        " await new Promise(r => { setTimeout(() => { seen.push('b'); r(); }, 40);"
        "                          setTimeout(() => seen.push('a'), 10); });"
        " let n = 0; await new Promise(r => { const i = setInterval(() => {"
        "   if (++n === 3) { clearInterval(i); r(); } }, 5); });"
        " return new Response(seen.join(',') + ':' + n); } };", NULL);
    assert_int_equal(get("timers", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "a,b:3");
}

static void
test_a_timer_callback_runs_under_its_request_s_cpu_limit(void **state)
{
    limits.cpu_limit_ms = 50;
    redis_fixture_put_script("ns", "tspin",
        "export default { fetch() { return new Promise(() => setTimeout(() => { for (;;) {} }, 5)); } };",
        NULL);
    assert_int_equal(get("tspin", NULL, 0), DISPATCH_OUTCOME_EXCEEDED_CPU);
}

static void
test_timers_end_with_their_request(void **state)
{
    call_t  c;
    char    body[32];

    redis_fixture_put_script("ns", "later",
        "globalThis.fired = 0;"
        "export default { fetch(r) { if (r.method === 'POST') return new Response(String(globalThis.fired));"
        " setTimeout(() => { globalThis.fired++; }, 100); return new Response('set'); } };", NULL);
    call(&c, "ns", "later", "GET", "http://example.com/", NULL);
    assert_body(&c, "set");
    dispatch_request_release(c.req);  /* the request is over before its timer */
    poll_host_run_for(300);
    call(&c, "ns", "later", "POST", "http://example.com/", NULL);
    snprintf(body, sizeof(body), "%.*s", (int) c.resp.body.len, c.resp.body.data);
    assert_string_equal(body, "0");
    dispatch_request_release(c.req);
}

static void
test_top_level_code_cannot_set_timers(void **state)
{
    char body[128];

    redis_fixture_put_script("ns", "toptimer",
        "let e = 'none'; try { setTimeout(() => {}, 1); } catch (x) { e = x.constructor.name; }"
        "export default { fetch() { return new Response(e); } };", NULL);
    assert_int_equal(get("toptimer", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "Error");
}

static void
test_wait_until_work_outlives_the_released_request(void **state)
{
    call_t  c;
    char    body[32];

    redis_fixture_put_script("ns", "bg",
        "globalThis.state = 'pending';"
        "export default { fetch(r, env, ctx) { if (r.method === 'POST') return new Response(globalThis.state);"
        " ctx.waitUntil(new Promise(done => setTimeout(() => { globalThis.state = 'done'; done(); }, 100)));"
        " return new Response('sent'); } };", NULL);
    call(&c, "ns", "bg", "GET", "http://example.com/", NULL);
    assert_body(&c, "sent");
    dispatch_request_release(c.req);  /* the response is out; the work is not */
    poll_host_run_for(300);
    call(&c, "ns", "bg", "POST", "http://example.com/", NULL);
    snprintf(body, sizeof(body), "%.*s", (int) c.resp.body.len, c.resp.body.data);
    assert_string_equal(body, "done");
    dispatch_request_release(c.req);
}

static void
test_date_now_stands_still_while_a_script_computes(void **state)
{
    char body[64];

    redis_fixture_put_script("ns", "clock",
        "export default { async fetch() {"
        " const a = Date.now(); let x = 0; for (let i = 0; i < 3e6; i++) x += i;"
        " const b = Date.now();"
        " await new Promise(r => setTimeout(r, 20));"
        " const c = Date.now();"
        " return new Response((a === b) + ' ' + (c - b >= 20)); } };", NULL);
    assert_int_equal(get("clock", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "true true");
}

/* ---- bodies in pieces ------------------------------------------------------ */

/* Starts a POST whose body arrives in pieces: first, then more to come. */
static void
start_streamed(call_t *c, const char *script, const char *first, int64_t length)
{
    dispatch_request_view_t  view;

    memset(c, 0, sizeof(*c));
    memset(&view, 0, sizeof(view));
    view.ns = str("ns");
    view.script = str(script);
    view.method = str("POST");
    view.url = str("http://example.com/");
    view.body = str(first);
    view.body_more = 1;
    view.body_length = length;
    view.ctx = &c->woke;

    c->req = dispatch_request_start(engine, &view);
    assert_non_null(c->req);
}

/* Reads a streamed response body to its end, as a host would: on AGAIN it
 * waits until the engine wakes it. Returns the last read's result. */
static long
read_stream(call_t *c, char *out, size_t cap, size_t *len)
{
    long  n;

    *len = 0;
    for ( ;; ) {
        n = dispatch_response_read(c->req, out + *len, cap - *len);
        if (n > 0) {
            *len += (size_t) n;
            assert_true(*len < cap);
            continue;
        }
        if (n != DISPATCH_BODY_AGAIN) {
            return n;
        }
        c->woke = 0;
        assert_true(poll_host_run_until(&c->woke, WAIT_MS));
    }
}

static void
test_a_request_body_in_pieces_reaches_the_script_whole(void **state)
{
    call_t  c;

    redis_fixture_put_script("ns", "upper",
        "export default { async fetch(r) { return new Response((await r.text()).toUpperCase()); } };",
        NULL);
    start_streamed(&c, "upper", "ab", -1);
    poll_host_run_for(50);
    assert_int_equal(dispatch_request_body_write(c.req, "cd", 2, 0), 1);
    dispatch_request_body_write(c.req, "ef", 2, 1);
    wait_response(&c);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.body_streamed, 0);
    assert_body(&c, "ABCDEF");
    dispatch_request_release(c.req);
}

static void
test_the_host_stops_reading_while_the_script_is_behind(void **state)
{
    call_t   c;
    char     piece[16384];
    size_t   written = 0;
    int      paused = 0;

    memset(piece, 'x', sizeof(piece));
    redis_fixture_put_script("ns", "slow",
        "export default { async fetch(r) { await new Promise(d => setTimeout(d, 50));"
        " return new Response(String((await r.arrayBuffer()).byteLength)); } };", NULL);
    start_streamed(&c, "slow", "", 1 << 20);
    while (written < (1 << 20)) {
        int last = written + sizeof(piece) == (1 << 20);
        int more = dispatch_request_body_write(c.req, piece, sizeof(piece), last);
        written += sizeof(piece);
        if (!more && !last) {
            /* no more until the engine wakes the host and wants it */
            paused++;
            assert_int_equal(dispatch_request_body_wanted(c.req), 0);
            while (!dispatch_request_body_wanted(c.req)) {
                c.woke = 0;
                assert_true(poll_host_run_until(&c.woke, WAIT_MS));
            }
        }
    }
    assert_true(paused > 0);
    c.woke = 0;
    while (!dispatch_request_response(c.req, &c.resp)) {
        assert_true(poll_host_run_until(&c.woke, WAIT_MS));
        c.woke = 0;
    }
    assert_body(&c, "1048576");
    dispatch_request_release(c.req);
}

static void
test_a_streamed_response_is_read_in_pieces_as_the_host_asks(void **state)
{
    call_t  c;
    char    out[256];
    size_t  len;

    redis_fixture_put_script("ns", "counter",
        "let pulls = 0;"
        "export default { fetch() { let i = 0; return new Response(new ReadableStream({"
        " async pull(ctl) { pulls++; await new Promise(d => setTimeout(d, 5));"
        "   if (i === 3) { ctl.enqueue(new TextEncoder().encode('pulls=' + pulls)); ctl.close(); return; }"
        "   ctl.enqueue(new TextEncoder().encode('piece' + i++ + ';')); } })); } };", NULL);
    call(&c, "ns", "counter", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(c.resp.body_streamed, 1);
    assert_int_equal(c.resp.body_length, -1);
    assert_int_equal(read_stream(&c, out, sizeof(out), &len), 0);
    out[len] = '\0';
    /* pulled only as the host read: the stream's queue (high water 1) keeps
     * at most one piece ahead */
    assert_string_equal(out, "piece0;piece1;piece2;pulls=4");
    dispatch_request_release(c.req);
}

static void
test_a_request_body_passed_through_goes_out_with_its_length(void **state)
{
    call_t  c;
    char    out[64];
    size_t  len;

    redis_fixture_put_script("ns", "echo",
        "export default { fetch(r) { return new Response(r.body); } };", NULL);
    start_streamed(&c, "echo", "abc", 9);
    wait_response(&c);
    assert_int_equal(c.resp.body_streamed, 1);
    assert_int_equal(c.resp.body_length, 9);
    dispatch_request_body_write(c.req, "def", 3, 0);
    dispatch_request_body_write(c.req, "ghi", 3, 1);
    assert_int_equal(read_stream(&c, out, sizeof(out), &len), 0);
    out[len] = '\0';
    assert_string_equal(out, "abcdefghi");
    dispatch_request_release(c.req);
}

static void
test_a_stream_that_throws_cuts_the_response_short(void **state)
{
    call_t  c;
    char    out[64];
    size_t  len;

    redis_fixture_put_script("ns", "breaks",
        "export default { fetch() { let n = 0; return new Response(new ReadableStream({"
        " pull(ctl) { if (n++) throw new Error('broke-77'); ctl.enqueue(new Uint8Array([104, 105])); } })); } };",
        NULL);
    call(&c, "ns", "breaks", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.body_streamed, 1);
    assert_int_equal(read_stream(&c, out, sizeof(out), &len), DISPATCH_BODY_ERROR);
    assert_int_equal(len, 2);
    assert_non_null(strstr(poll_host_log(), "the response body stream failed"));
    assert_non_null(strstr(poll_host_log(), "broke-77"));
    dispatch_request_release(c.req);
}

static void
test_a_client_gone_mid_stream_runs_the_cancel_callback(void **state)
{
    call_t  c;
    char    out[64];
    char    body[32];
    long    n;

    redis_fixture_put_script("ns", "cancel",
        "globalThis.reason = 'none';"
        "export default { fetch(r) { if (r.method === 'POST') return new Response(globalThis.reason);"
        " return new Response(new ReadableStream({ pull(ctl) { ctl.enqueue(new Uint8Array(8)); },"
        "   cancel(why) { globalThis.reason = String(why && why.message); } })); } };", NULL);
    call(&c, "ns", "cancel", "GET", "http://example.com/", NULL);
    n = dispatch_response_read(c.req, out, sizeof(out));
    assert_true(n > 0);
    dispatch_request_release(c.req);  /* the client went away */
    poll_host_run_for(50);
    call(&c, "ns", "cancel", "POST", "http://example.com/", NULL);
    snprintf(body, sizeof(body), "%.*s", (int) c.resp.body.len, c.resp.body.data);
    assert_string_equal(body, "Network connection lost.");
    dispatch_request_release(c.req);
}

/* ---- fetch() ------------------------------------------------------------------ */

static int  upstream_port;

static const char *loopback_allowed[] = { "127.0.0.1/32" };

static int
fetch_setup(void **state)
{
    upstream_port = http_fixture_start();
    if (upstream_port < 0 || setup(state) != 0) {
        return -1;
    }
    /* the fixture is on loopback, which fetch() may not reach unless opened */
    conf_overrides.fetch_allow = loopback_allowed;
    conf_overrides.nfetch_allow = 1;
    restart_engine();
    return 0;
}

static int
fetch_setup_closed(void **state)
{
    upstream_port = http_fixture_start();
    return upstream_port < 0 ? -1 : setup(state);
}

static int
fetch_teardown(void **state)
{
    teardown(state);
    http_fixture_stop();
    return 0;
}

/* the script, with UPSTREAM replaced by http://127.0.0.1:PORT */
static void
put_fetch_script(const char *name, const char *code)
{
    char  base[64], out[8192];
    const char *p;
    size_t n = 0;

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", upstream_port);
    for (p = code; *p && n < sizeof(out) - 64; ) {
        if (strncmp(p, "UPSTREAM", 8) == 0) {
            n += (size_t) snprintf(out + n, sizeof(out) - n, "%s", base);
            p += 8;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    assert_int_equal(redis_fixture_put_script("ns", name, out, NULL), 0);
}

static void
test_fetch_sends_a_request_and_reads_the_response(void **state)
{
    call_t  c;

    put_fetch_script("f1",
        "export default { async fetch() {"
        " const res = await fetch('UPSTREAM/echo?x=1', { method: 'POST', body: 'ping' });"
        " return new Response(res.status + ' ' + res.headers.get('x-upstream') + ' ' + await res.text()); } };");
    call(&c, "ns", "f1", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_body(&c, "200 yes POST /echo?x=1|ping");
    assert_int_equal(c.resp.subrequests, 1);
    dispatch_request_release(c.req);
}

static void
test_fetch_reads_a_chunked_response_and_streams_a_request_body(void **state)
{
    call_t  c;

    put_fetch_script("f2",
        "export default { async fetch() {"
        " const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('a'));"
        "   c.enqueue(new TextEncoder().encode('bc')); c.close(); } });"
        " const res = await fetch('UPSTREAM/chunked', { method: 'PUT', body });"
        " return new Response(await res.text()); } };");
    call(&c, "ns", "f2", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_body(&c, "PUT /chunked|abc");
    dispatch_request_release(c.req);
}

static void
test_fetch_reuses_a_keep_alive_connection(void **state)
{
    call_t  c;

    put_fetch_script("f3",
        "export default { async fetch() {"
        " const a = await (await fetch('UPSTREAM/one')).text();"
        " const b = await (await fetch('UPSTREAM/two')).text();"
        " return new Response(a + ';' + b); } };");
    call(&c, "ns", "f3", "GET", "http://example.com/", NULL);
    assert_body(&c, "GET /one|;GET /two|");
    assert_int_equal(http_fixture_connections(), 1);
    dispatch_request_release(c.req);
}

static void
test_fetch_follows_a_redirect_and_counts_each_hop(void **state)
{
    call_t  c;

    put_fetch_script("f4",
        "export default { async fetch() {"
        " const res = await fetch('UPSTREAM/redirect');"
        " return new Response(res.redirected + ' ' + new URL(res.url).pathname + ' ' + await res.text()); } };");
    call(&c, "ns", "f4", "GET", "http://example.com/", NULL);
    assert_body(&c, "true /landed GET /landed|");
    assert_int_equal(c.resp.subrequests, 2);
    dispatch_request_release(c.req);
}

static void
test_fetch_past_the_subrequest_limit_is_a_catchable_error(void **state)
{
    call_t  c;

    limits.subrequest_limit = 2;
    put_fetch_script("f5",
        "export default { async fetch() {"
        " await fetch('UPSTREAM/1'); await fetch('UPSTREAM/2');"
        " try { await fetch('UPSTREAM/3'); return new Response('no limit'); }"
        " catch (e) { return new Response(e.constructor.name + ': ' + e.message); } } };");
    call(&c, "ns", "f5", "GET", "http://example.com/", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_OK);
    assert_int_equal(strncmp(c.resp.body.data, "Error: Too many subrequests", 27), 0);
    dispatch_request_release(c.req);
}

static void
test_fetch_to_a_closed_port_rejects_with_a_type_error(void **state)
{
    call_t  c;

    put_fetch_script("f6",
        "export default { async fetch() {"
        " try { await fetch('http://127.0.0.1:1/'); return new Response('reached'); }"
        " catch (e) { return new Response(e.name); } } };");
    call(&c, "ns", "f6", "GET", "http://example.com/", NULL);
    assert_body(&c, "TypeError");
    dispatch_request_release(c.req);
}

static void
test_fetch_to_loopback_is_refused_unless_opened(void **state)
{
    call_t  c;
    char    body[512];

    put_fetch_script("f7",
        "export default { async fetch() {"
        " try { await fetch('UPSTREAM/'); return new Response('reached'); }"
        " catch (e) { return new Response(e.name + ': ' + e.message); } } };");
    call(&c, "ns", "f7", "GET", "http://example.com/", NULL);
    snprintf(body, sizeof(body), "%.*s", (int) c.resp.body.len, c.resp.body.data);
    assert_non_null(strstr(body, "TypeError: "));
    assert_non_null(strstr(body, "loopback"));
    assert_int_equal(http_fixture_connections(), 0);
    dispatch_request_release(c.req);
}

/* ---- the management API (SPEC 4) ------------------------------------------ */

#define API "/accounts/acc/workers/dispatch/namespaces"
#define BOUNDARY "----dispatchtest7MA4YWxk"
#define MULTIPART "multipart/form-data; boundary=" BOUNDARY

typedef struct {
    int                        woke;
    dispatch_admin_t          *call;
    dispatch_admin_response_t  resp;
    char                       body[65536];
    char                       content_type[64];  /* copied before release */
} admin_t;

/* One call of the API; its status, and its body in a->body. */
static int
admin(admin_t *a, const char *method, const char *path, const char *query,
    const char *content_type, const char *body, size_t body_len)
{
    dispatch_admin_view_t  view;

    memset(a, 0, sizeof(*a));
    memset(&view, 0, sizeof(view));
    view.method = str(method);
    view.path = str(path);
    view.query = str(query ? query : "");
    view.content_type = str(content_type ? content_type : "");
    view.body.data = body ? body : "";
    view.body.len = body ? body_len : 0;
    view.ctx = &a->woke;
    a->call = dispatch_admin_start(engine, &view);
    assert_non_null(a->call);
    assert_true(poll_host_run_until(&a->woke, WAIT_MS));
    assert_int_equal(dispatch_admin_response(a->call, &a->resp), 1);
    snprintf(a->body, sizeof(a->body), "%.*s", (int) a->resp.body.len, a->resp.body.data);
    snprintf(a->content_type, sizeof(a->content_type), "%.*s",
             (int) a->resp.content_type.len, a->resp.content_type.data);
    dispatch_admin_release(a->call);
    return a->resp.status;
}

static int
admin_json(admin_t *a, const char *method, const char *path, const char *json)
{
    return admin(a, method, path, NULL, "application/json", json, json ? strlen(json) : 0);
}

/* A multipart upload as wrangler sends it: metadata, then the modules. */
static size_t
multipart(char *out, size_t size, const char *metadata, const char *const *parts, size_t n)
{
    size_t len = snprintf(out, size,
        "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"metadata\"; "
        "filename=\"blob\"\r\nContent-Type: application/json\r\n\r\n%s\r\n", metadata);

    /* parts: name, content type, content */
    for (size_t i = 0; i + 2 < n; i += 3) {
        len += snprintf(out + len, size - len,
            "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
            "Content-Type: %s\r\n\r\n%s\r\n", parts[i], parts[i], parts[i + 1], parts[i + 2]);
    }
    len += snprintf(out + len, size - len, "--" BOUNDARY "--\r\n");
    return len;
}

static int
upload(admin_t *a, const char *ns, const char *name, const char *metadata, const char *code)
{
    static char  body[16384];
    char         path[256];
    const char  *parts[] = { "worker.js", "application/javascript+module", code };
    size_t       len = multipart(body, sizeof(body), metadata, parts, 3);

    snprintf(path, sizeof(path), API "/%s/scripts/%s", ns, name);
    return admin(a, "PUT", path, NULL, MULTIPART, body, len);
}

static const char *
greeting(const char *text)
{
    static char code[256];

    snprintf(code, sizeof(code),
        "export default { fetch(r, env) { return new Response('%s' + (env.WHO ?? '')); } };",
        text);
    return code;
}

static const char main_only[] = "{\"main_module\":\"worker.js\"}";

static void
test_admin_creates_a_namespace_and_lists_it(void **state)
{
    admin_t a;

    assert_int_equal(admin_json(&a, "POST", API, "{\"name\":\"shop\"}"), 200);
    assert_non_null(strstr(a.body, "\"success\":true,\"errors\":[],\"messages\":[]"));
    assert_non_null(strstr(a.body, "\"namespace_name\":\"shop\""));
    assert_non_null(strstr(a.body, "\"namespace_id\":\""));
    assert_int_equal(admin_json(&a, "GET", API, NULL), 200);
    assert_non_null(strstr(a.body, "\"namespace_name\":\"shop\""));
    assert_non_null(strstr(a.body, "\"script_count\":0"));
    assert_int_equal(admin_json(&a, "POST", API, "{\"name\":\"shop\"}"), 409);
    assert_non_null(strstr(a.body, "\"success\":false"));
}

static void
test_admin_upload_serves_the_new_version_at_once(void **state)
{
    admin_t a;
    char    body[64];

    assert_int_equal(upload(&a, "ns", "up", main_only, greeting("v1")), 200);
    assert_non_null(strstr(a.body, "\"id\":\"up\""));
    assert_non_null(strstr(a.body, "\"etag\":\""));
    assert_int_equal(get("up", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "v1");

    uint64_t before = poll_host_generation();
    assert_int_equal(upload(&a, "ns", "up", main_only, greeting("v2")), 200);
    assert_true(poll_host_generation() > before);
    assert_int_equal(get("up", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "v2");
}

static void
test_admin_upload_serves_a_script_just_answered_404_for(void **state)
{
    admin_t a;
    char    body[64];

    assert_int_equal(get("late", body, sizeof(body)), DISPATCH_OUTCOME_NOT_FOUND);
    assert_int_equal(upload(&a, "ns", "late", main_only, greeting("here")), 200);
    assert_int_equal(get("late", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "here");
}

static void
test_admin_upload_writes_the_spec_layout(void **state)
{
    admin_t a;
    char    out[256];

    assert_int_equal(upload(&a, "ns", "lay", "{\"main_module\":\"worker.js\",\"tags\":[\"t1\"],"
        "\"unknown_field\":1,\"compatibility_date\":\"2024-01-01\"}", greeting("x")), 200);
    redis_fixture_get(out, sizeof(out), "HGET dispatch:{ns}:script:lay format");
    assert_string_equal(out, "module");
    redis_fixture_get(out, sizeof(out), "HGET dispatch:{ns}:script:lay metadata");
    assert_non_null(strstr(out, "\"main_module\":\"worker.js\""));
    assert_non_null(strstr(out, "\"tags\":[\"t1\"]"));
    assert_null(strstr(out, "unknown_field"));
    redis_fixture_get(out, sizeof(out), "SISMEMBER dispatch:{ns}:scripts lay");
    assert_string_equal(out, "1");
    redis_fixture_get(out, sizeof(out), "SISMEMBER dispatch:namespaces ns");
    assert_string_equal(out, "1");
}

static void
test_admin_upload_with_two_modules_imports_the_second(void **state)
{
    static char  body[4096];
    const char  *parts[] = {
        "worker.js", "application/javascript+module",
        "import { who } from './lib/who.js'; export default { fetch() { return new Response(who); } };",
        "lib/who.js", "application/javascript+module", "export const who = 'lib';",
        "worker.js.map", "application/source-map", "{}",
    };
    size_t       len = multipart(body, sizeof(body), main_only, parts, 9);
    admin_t      a;
    char         out[64];

    assert_int_equal(admin(&a, "PUT", API "/ns/scripts/two", NULL, MULTIPART, body, len), 200);
    assert_int_equal(get("two", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "lib");
}

static void
test_admin_script_details_and_content(void **state)
{
    admin_t a;

    upload(&a, "ns", "det", "{\"main_module\":\"worker.js\",\"compatibility_date\":\"2024-05-01\"}",
           greeting("d"));
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/det", NULL), 200);
    assert_non_null(strstr(a.body, "\"dispatch_namespace\":\"ns\""));
    assert_non_null(strstr(a.body, "\"compatibility_date\":\"2024-05-01\""));
    assert_non_null(strstr(a.body, "\"created_on\":\"20"));
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/det/content", NULL), 200);
    assert_string_equal(a.body, greeting("d"));
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/nope", NULL), 404);
    assert_non_null(strstr(a.body, "\"code\":10007"));
}

static void
test_admin_lists_scripts_by_tags(void **state)
{
    admin_t a;

    upload(&a, "ns", "a1", "{\"main_module\":\"worker.js\",\"tags\":[\"free\"]}", greeting("a"));
    upload(&a, "ns", "a2", "{\"main_module\":\"worker.js\",\"tags\":[\"free\",\"eu\"]}", greeting("b"));
    upload(&a, "ns", "a3", "{\"main_module\":\"worker.js\",\"tags\":[\"paid\"]}", greeting("c"));
    assert_int_equal(admin(&a, "GET", API "/ns/scripts", "tags=free:yes,eu:no", NULL, NULL, 0), 200);
    assert_non_null(strstr(a.body, "\"id\":\"a1\""));
    assert_null(strstr(a.body, "\"id\":\"a2\""));
    assert_null(strstr(a.body, "\"id\":\"a3\""));

    assert_int_equal(admin(&a, "GET", API "/ns/scripts", "limit=2", NULL, NULL, 0), 200);
    assert_non_null(strstr(a.body, "\"cursor\":\"a2\""));
    assert_int_equal(admin(&a, "GET", API "/ns/scripts", "limit=2&cursor=a2", NULL, NULL, 0), 200);
    assert_non_null(strstr(a.body, "\"id\":\"a3\""));
    assert_null(strstr(a.body, "\"id\":\"a1\""));
}

static void
test_admin_secrets_reach_the_script_and_no_answer_shows_them(void **state)
{
    admin_t a;
    char    body[64];

    upload(&a, "ns", "sec", main_only, greeting("hi "));
    assert_int_equal(admin_json(&a, "PUT", API "/ns/scripts/sec/secrets",
        "{\"name\":\"WHO\",\"text\":\"s3cr3t-value\",\"type\":\"secret_text\"}"), 200);
    assert_int_equal(get("sec", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "hi s3cr3t-value");

    static const char *reads[] = {
        API "/ns/scripts/sec/secrets", API "/ns/scripts/sec/secrets/WHO",
        API "/ns/scripts/sec/settings", API "/ns/scripts/sec/bindings", API "/ns/scripts/sec",
    };
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        assert_int_equal(admin_json(&a, "GET", reads[i], NULL), 200);
        assert_null(strstr(a.body, "s3cr3t"));
    }
    assert_non_null(strstr(a.body, "\"success\":true"));
    admin_json(&a, "GET", API "/ns/scripts/sec/secrets", NULL);
    assert_non_null(strstr(a.body, "{\"name\":\"WHO\",\"type\":\"secret_text\"}"));

    assert_int_equal(admin_json(&a, "DELETE", API "/ns/scripts/sec/secrets/WHO", NULL), 200);
    assert_int_equal(get("sec", body, sizeof(body)), DISPATCH_OUTCOME_OK);
    assert_string_equal(body, "hi ");
}

static void
test_admin_secrets_outlive_uploads_that_do_not_name_them(void **state)
{
    admin_t a;
    char    body[64];

    upload(&a, "ns", "kb", main_only, greeting("k "));
    admin_json(&a, "PUT", API "/ns/scripts/kb/secrets", "{\"name\":\"WHO\",\"text\":\"kept\"}");
    upload(&a, "ns", "kb", "{\"main_module\":\"worker.js\",\"keep_bindings\":[\"secret_text\"]}",
           greeting("k2 "));
    get("kb", body, sizeof(body));
    assert_string_equal(body, "k2 kept");
    upload(&a, "ns", "kb", main_only, greeting("k3 "));   /* as on Workers: deploys keep secrets */
    get("kb", body, sizeof(body));
    assert_string_equal(body, "k3 kept");
    assert_int_equal(admin_json(&a, "DELETE", API "/ns/scripts/kb/secrets/WHO", NULL), 200);
    get("kb", body, sizeof(body));
    assert_string_equal(body, "k3 ");
}

static void
test_admin_tags_are_at_most_eight(void **state)
{
    admin_t a;

    upload(&a, "ns", "tg", main_only, greeting("t"));
    assert_int_equal(admin_json(&a, "PUT", API "/ns/scripts/tg/tags",
        "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]"), 200);
    assert_int_equal(admin_json(&a, "PUT", API "/ns/scripts/tg/tags/9", NULL), 400);
    assert_int_equal(admin_json(&a, "DELETE", API "/ns/scripts/tg/tags/8", NULL), 200);
    assert_int_equal(admin_json(&a, "PUT", API "/ns/scripts/tg/tags/9", NULL), 200);
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/tg/tags", NULL), 200);
    assert_non_null(strstr(a.body, "\"result\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"9\"]"));
}

static void
test_admin_delete_removes_every_key_and_the_script_is_gone(void **state)
{
    admin_t a;
    char    out[64];

    upload(&a, "ns", "del", main_only, greeting("d"));
    assert_int_equal(get("del", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_int_equal(admin(&a, "DELETE", API "/ns/scripts/del", "force=true", NULL, NULL, 0), 200);
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{ns}:script:del");
    assert_string_equal(out, "0");
    redis_fixture_get(out, sizeof(out), "SISMEMBER dispatch:{ns}:scripts del");
    assert_string_equal(out, "0");
    assert_int_equal(get("del", out, sizeof(out)), DISPATCH_OUTCOME_NOT_FOUND);
    assert_int_equal(admin_json(&a, "DELETE", API "/ns/scripts/del", NULL), 404);
}

static void
test_admin_bulk_delete_by_tag_answers_what_it_deleted(void **state)
{
    admin_t a;
    char    out[64];

    upload(&a, "ns", "b1", "{\"main_module\":\"worker.js\",\"tags\":[\"old\"]}", greeting("1"));
    upload(&a, "ns", "b2", "{\"main_module\":\"worker.js\",\"tags\":[\"old\"]}", greeting("2"));
    upload(&a, "ns", "b3", "{\"main_module\":\"worker.js\",\"tags\":[\"new\"]}", greeting("3"));
    assert_int_equal(admin(&a, "DELETE", API "/ns/scripts", NULL, NULL, NULL, 0), 400);
    assert_int_equal(admin(&a, "DELETE", API "/ns/scripts", "tags=old:yes", NULL, NULL, 0), 200);
    assert_non_null(strstr(a.body, "\"id\":\"b1\""));
    assert_non_null(strstr(a.body, "\"id\":\"b2\""));
    assert_null(strstr(a.body, "\"id\":\"b3\""));
    assert_int_equal(get("b1", out, sizeof(out)), DISPATCH_OUTCOME_NOT_FOUND);
    assert_int_equal(get("b3", out, sizeof(out)), DISPATCH_OUTCOME_OK);
}

static void
test_admin_refused_upload_names_the_line_and_changes_nothing(void **state)
{
    admin_t a;
    char    before[128], after[128], out[64];

    upload(&a, "ns", "keep", main_only, greeting("old"));
    redis_fixture_get(before, sizeof(before), "HGET dispatch:{ns}:script:keep etag");
    assert_int_equal(upload(&a, "ns", "keep", main_only,
        "export default {\n  fetch() {\n    return new Response('x' +);\n  }\n};"), 400);
    assert_non_null(strstr(a.body, "\"code\":10021"));
    assert_non_null(strstr(a.body, "worker.js:3"));
    assert_int_equal(upload(&a, "ns", "keep", main_only,
        "const x = 1;\nthrow new Error('top level breaks');\nexport default {};"), 400);
    assert_non_null(strstr(a.body, "top level breaks"));
    assert_non_null(strstr(a.body, "worker.js:2"));
    redis_fixture_get(after, sizeof(after), "HGET dispatch:{ns}:script:keep etag");
    assert_string_equal(before, after);
    assert_int_equal(get("keep", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "old");
}

static void
test_admin_refuses_bad_uploads_with_a_clear_400(void **state)
{
    static char  body[4096];
    const char  *wasm[] = { "worker.js", "application/javascript+module", "export default {};",
                            "m.wasm", "application/wasm", "\1asm" };
    const char  *escape[] = { "../worker.js", "application/javascript+module", "export default {};" };
    admin_t      a;
    size_t       len;

    len = multipart(body, sizeof(body), main_only, wasm, 6);
    assert_int_equal(admin(&a, "PUT", API "/ns/scripts/w", NULL, MULTIPART, body, len), 400);
    assert_non_null(strstr(a.body, "WebAssembly module \\\"m.wasm\\\""));
    len = multipart(body, sizeof(body), "{\"main_module\":\"../worker.js\"}", escape, 3);
    assert_int_equal(admin(&a, "PUT", API "/ns/scripts/w", NULL, MULTIPART, body, len), 400);
    assert_int_equal(upload(&a, "ns", "w", "{\"main_module\":\"other.js\"}", "export default {};"), 400);
    assert_non_null(strstr(a.body, "not among the uploaded parts"));
    assert_int_equal(upload(&a, "ns", "w", "{\"main_module\":\"worker.js\",\"bindings\":"
        "[{\"type\":\"r2_bucket\",\"name\":\"B\"}]}", "export default {};"), 400);
    assert_non_null(strstr(a.body, "unknown binding type"));
    assert_int_equal(upload(&a, "ns", "w", "{not json", "export default {};"), 400);
    assert_int_equal(admin(&a, "PUT", API "/ns/scripts/w", NULL, "application/json", "{}", 2), 400);
    assert_int_equal(admin(&a, "PUT", API "/ns/scripts/..%2Fx", NULL, MULTIPART, body, len), 400);
}

static void
test_admin_unknown_paths_are_404_and_unknown_methods_405(void **state)
{
    admin_t a;

    assert_int_equal(admin_json(&a, "GET", "/accounts/acc/workers/scripts", NULL), 404);
    assert_non_null(strstr(a.body, "{\"success\":false,\"errors\":[{\"code\":7003,"));
    assert_string_equal(a.content_type, "application/json");
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/x/nothing", NULL), 404);
    assert_int_equal(admin_json(&a, "POST", API "/ns/scripts/x", NULL), 405);
    assert_non_null(strstr(a.body, "\"success\":false"));
}

static void
test_admin_rename_moves_scripts_and_keeps_kv_under_the_old_name(void **state)
{
    admin_t a;
    char    out[64];

    admin_json(&a, "POST", API, "{\"name\":\"old-ns\"}");
    upload(&a, "old-ns", "r", "{\"main_module\":\"worker.js\",\"bindings\":"
        "[{\"type\":\"kv_namespace\",\"name\":\"KV\",\"namespace_id\":\"k1\"}]}",
        greeting("r"));
    assert_int_equal(admin_json(&a, "PUT", API "/old-ns", "{\"name\":\"new-ns\"}"), 200);
    assert_non_null(strstr(a.body, "\"namespace_name\":\"new-ns\""));
    assert_non_null(strstr(a.body, "\"kv_namespace\":\"old-ns\""));
    redis_fixture_get(out, sizeof(out), "HGET dispatch:{new-ns}:script:r kv_namespace");
    assert_string_equal(out, "old-ns");
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{old-ns}:script:r");
    assert_string_equal(out, "0");
    assert_int_equal(admin_json(&a, "GET", API "/old-ns", NULL), 404);
    assert_int_equal(admin_json(&a, "DELETE", API "/new-ns", NULL), 200);
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{new-ns}:script:r dispatch:{new-ns}:scripts dispatch:{new-ns}:namespace");
    assert_string_equal(out, "0");
}

/* ---- WebAssembly modules (uploaded, compiled by the engine) ---------------- */

/* (module (func (export "add") (param i32 i32) (result i32)
 *   local.get 0 local.get 1 i32.add)), written by hand: 41 bytes. */
static const unsigned char add_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f,     /* type (i32 i32) -> i32 */
    0x03, 0x02, 0x01, 0x00,                                   /* one function of it */
    0x07, 0x07, 0x01, 0x03, 'a', 'd', 'd', 0x00, 0x00,        /* export "add" */
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
};

/* (module (memory (export "mem") 300) (func (export "grow") (param i32)
 *   (result i32) local.get 0 memory.grow)): 300 pages (18.75 MiB) of its own. */
static const unsigned char grow_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00,
    0x05, 0x04, 0x01, 0x00, 0xac, 0x02,                       /* memory: 300 pages */
    0x07, 0x0e, 0x02, 0x03, 'm', 'e', 'm', 0x02, 0x00, 0x04, 'g', 'r', 'o', 'w', 0x00, 0x00,
    0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b,
};

/* (module (memory 1)): one page, not exported and no maximum. */
static const unsigned char hidden_memory_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x05, 0x03, 0x01, 0x00, 0x01,
};

/* A multipart upload of worker.js and one binary part. */
static int
upload_with_wasm(admin_t *a, const char *name, const char *code, const char *wasm_name,
    const unsigned char *bytes, size_t n)
{
    static char  body[16384];
    char         path[256];
    const char  *parts[] = { "worker.js", "application/javascript+module", code };
    const char   close[] = "--" BOUNDARY "--\r\n";
    size_t       len = multipart(body, sizeof(body), main_only, parts, 3);

    len -= strlen(close);
    len += snprintf(body + len, sizeof(body) - len,
        "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
        "Content-Type: application/wasm\r\n\r\n", wasm_name, wasm_name);
    memcpy(body + len, bytes, n);
    len += n;
    len += snprintf(body + len, sizeof(body) - len, "\r\n%s", close);
    snprintf(path, sizeof(path), API "/ns/scripts/%s", name);
    return admin(a, "PUT", path, NULL, MULTIPART, body, len);
}

static void
test_admin_wasm_module_is_compiled_by_the_engine_and_imported(void **state)
{
    admin_t a;
    char    out[128];

    assert_int_equal(upload_with_wasm(&a, "wa",
        "import mod from './add.wasm';\n"
        "const first = new WebAssembly.Instance(mod);\n"
        "export default { async fetch() {\n"
        "  const second = await WebAssembly.instantiate(mod, {});\n"
        "  return new Response(first.exports.add(2, 3) + ' ' + second.exports.add(40, 2) + ' '\n"
        "    + (mod instanceof WebAssembly.Module) + ' '\n"
        "    + WebAssembly.Module.exports(mod).map((e) => e.name + ':' + e.kind).join());\n"
        "} };", "add.wasm", add_wasm, sizeof(add_wasm)), 200);
    assert_int_equal(get("wa", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "5 42 true add:function");

    /* stored as its own binary-safe field kind (SPEC 3) */
    redis_fixture_get(out, sizeof(out), "HSTRLEN dispatch:{ns}:script:wa wasm:add.wasm");
    assert_string_equal(out, "41");
    redis_fixture_get(out, sizeof(out), "HEXISTS dispatch:{ns}:script:wa module:add.wasm");
    assert_string_equal(out, "0");
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/wa", NULL), 200);
    assert_non_null(strstr(a.body, "\"has_modules\":true"));
    assert_int_equal(admin_json(&a, "GET", API "/ns/scripts/wa/settings", NULL), 200);

    /* a worker that loads it from Redis (a fresh engine) compiles it too */
    restart_engine();
    assert_int_equal(get("wa", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "5 42 true add:function");

    assert_int_equal(admin_json(&a, "DELETE", API "/ns/scripts/wa", NULL), 200);
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{ns}:script:wa");
    assert_string_equal(out, "0");
}

static void
test_admin_invalid_wasm_is_refused_and_nothing_is_stored(void **state)
{
    static const unsigned char bad[] = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0xff };
    admin_t a;
    char    out[64];

    assert_int_equal(upload_with_wasm(&a, "bad",
        "import mod from './bad.wasm'; export default { fetch() { return new Response('x'); } };",
        "bad.wasm", bad, sizeof(bad)), 400);
    assert_non_null(strstr(a.body, "\"code\":10021"));
    assert_non_null(strstr(a.body, "WebAssembly module \\\"bad.wasm\\\""));
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{ns}:script:bad");
    assert_string_equal(out, "0");

    /* a Wasm part and a JavaScript part of one path; a service worker's Wasm */
    assert_int_equal(upload_with_wasm(&a, "bad", "export default {};", "worker.js",
                                      add_wasm, sizeof(add_wasm)), 400);
    redis_fixture_get(out, sizeof(out), "EXISTS dispatch:{ns}:script:bad");
    assert_string_equal(out, "0");
}

static void
test_a_script_cannot_compile_wasm_from_bytes_at_run_time(void **state)
{
    admin_t a;
    char    out[256];

    /* even with a module the engine compiled for it in the same isolate */
    assert_int_equal(upload_with_wasm(&a, "jit",
        "import mod from './add.wasm';\n"
        "const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);\n"
        "export default { async fetch() {\n"
        "  new WebAssembly.Instance(mod);\n"
        "  const out = [];\n"
        "  try { new WebAssembly.Module(bytes); out.push('module'); } catch (e) { out.push(e.name); }\n"
        "  try { await WebAssembly.compile(bytes); out.push('compile'); } catch (e) { out.push(e.name); }\n"
        "  try { await WebAssembly.instantiate(bytes); out.push('instantiate'); } catch (e) { out.push(e.name); }\n"
        "  out.push(WebAssembly.validate(bytes));\n"
        "  return new Response(out.join());\n"
        "} };", "add.wasm", add_wasm, sizeof(add_wasm)), 200);
    assert_int_equal(get("jit", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "CompileError,CompileError,CompileError,true");
}

static void
test_wasm_memories_and_code_count_against_the_memory_limit(void **state)
{
    admin_t a;
    call_t  c;
    char    out[256];

    conf_overrides.memory_limit = 32 << 20;
    restart_engine();
    /* 300 pages fit once, not twice; growing them from inside Wasm past the
     * limit stops the script after its run */
    assert_int_equal(upload_with_wasm(&a, "mem",
        "import mod from './grow.wasm';\n"
        "let first;\n"
        "export default { fetch(request) {\n"
        "  if (request.url.endsWith('/grow')) { first.exports.grow(400); return new Response('grew'); }\n"
        "  first = new WebAssembly.Instance(mod);\n"
        "  let second = 'made';\n"
        "  try { new WebAssembly.Instance(mod); } catch (e) { second = e.name; }\n"
        "  return new Response(first.exports.mem.buffer.byteLength + ' ' + second);\n"
        "} };", "grow.wasm", grow_wasm, sizeof(grow_wasm)), 200);
    assert_int_equal(get("mem", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "19660800 RangeError");
    call(&c, "ns", "mem", "GET", "http://example.com/grow", NULL);
    assert_int_equal(c.resp.outcome, DISPATCH_OUTCOME_EXCEEDED_MEMORY);
    dispatch_request_release(c.req);

    /* a memory the engine cannot see grow is charged the whole limit */
    assert_int_equal(upload_with_wasm(&a, "hidden",
        "import mod from './m.wasm';\n"
        "export default { fetch() {\n"
        "  try { new WebAssembly.Instance(mod); return new Response('made'); }\n"
        "  catch (e) { return new Response(e.name); }\n"
        "} };", "m.wasm", hidden_memory_wasm, sizeof(hidden_memory_wasm)), 200);
    assert_int_equal(get("hidden", out, sizeof(out)), DISPATCH_OUTCOME_OK);
    assert_string_equal(out, "RangeError");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_charset_is_lowercase_digits_dash_underscore),
        cmocka_unit_test(test_outcomes_map_to_spec_statuses),
        cmocka_unit_test(test_egress_public_unicast_addresses_are_allowed),
        cmocka_unit_test(test_egress_each_reserved_ipv4_range_is_refused_at_both_edges),
        cmocka_unit_test(test_egress_the_public_neighbours_of_reserved_ipv4_ranges_are_allowed),
        cmocka_unit_test(test_egress_each_reserved_ipv6_range_is_refused_at_both_edges),
        cmocka_unit_test(test_egress_the_public_neighbours_of_reserved_ipv6_ranges_are_allowed),
        cmocka_unit_test(test_egress_ipv6_outside_global_unicast_is_refused),
        cmocka_unit_test(test_egress_ipv4_mapped_addresses_are_judged_by_their_ipv4),
        cmocka_unit_test(test_egress_nat64_addresses_are_judged_by_their_ipv4),
        cmocka_unit_test(test_egress_local_use_nat64_is_judged_by_either_place_of_its_ipv4),
        cmocka_unit_test(test_egress_6to4_addresses_are_judged_by_their_ipv4),
        cmocka_unit_test(test_egress_the_reason_names_the_address_and_the_directive),
        cmocka_unit_test(test_egress_an_entry_opens_its_range_and_no_more),
        cmocka_unit_test(test_egress_an_entry_with_a_port_opens_that_port_only),
        cmocka_unit_test(test_egress_ipv6_entries_with_and_without_a_port),
        cmocka_unit_test(test_egress_entries_add_up),
        cmocka_unit_test(test_egress_an_entry_never_closes_a_public_address),
        cmocka_unit_test(test_egress_an_ipv4_entry_opens_its_mapped_spelling_but_not_nat64),
        cmocka_unit_test(test_egress_valid_entries_are_accepted),
        cmocka_unit_test(test_egress_bad_entries_are_refused_with_their_reason),
        cmocka_unit_test(test_egress_ip_literals_are_read_as_the_url_parser_reads_them),
        cmocka_unit_test_setup_teardown(test_admin_creates_a_namespace_and_lists_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_upload_serves_the_new_version_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_upload_serves_a_script_just_answered_404_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_upload_writes_the_spec_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_upload_with_two_modules_imports_the_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_script_details_and_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_lists_scripts_by_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_secrets_reach_the_script_and_no_answer_shows_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_secrets_outlive_uploads_that_do_not_name_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_tags_are_at_most_eight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_delete_removes_every_key_and_the_script_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_bulk_delete_by_tag_answers_what_it_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_refused_upload_names_the_line_and_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_refuses_bad_uploads_with_a_clear_400, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_unknown_paths_are_404_and_unknown_methods_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_rename_moves_scripts_and_keeps_kv_under_the_old_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_wasm_module_is_compiled_by_the_engine_and_imported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_invalid_wasm_is_refused_and_nothing_is_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_script_cannot_compile_wasm_from_bytes_at_run_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wasm_memories_and_code_count_against_the_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_script_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_body_larger_than_the_budget_left_is_413_before_the_script_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_forged_status_101_never_comes_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_forged_header_name_never_comes_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hop_by_hop_headers_never_leave_the_engine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_cf_keeps_the_bounds_of_the_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promise_then_replaced_steals_no_engine_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_script_that_keeps_hitting_its_cpu_limit_is_throttled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_name_is_not_found_without_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_response_comes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_reaches_the_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thrown_exception_is_500_and_logged_with_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_that_is_not_a_response_is_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_drain_hands_each_scripts_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_is_500_and_names_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolate_keeps_globals_between_requests_of_one_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_do_not_share_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_version_of_a_script_gets_a_fresh_isolate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_is_store_unavailable_within_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_request_is_never_woken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_closes_the_redis_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_script_costs_no_redis_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_invalidates_a_cached_script_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revalidation_after_the_ttl_asks_for_the_etag_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_changed_etag_is_picked_up_after_the_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_script_is_served_stale_while_redis_is_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_ttl_zero_never_serves_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_unknown_name_is_remembered_briefly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_runs_the_target_in_its_own_isolate_and_returns_its_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_to_a_missing_script_rejects_with_worker_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_cpu_breach_rejects_in_the_router_which_lives_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_limit_stops_a_loop_and_the_next_request_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_limit_sums_a_request_s_microtask_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_cpu_limit_stops_a_looping_top_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_stops_a_heap_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_stops_an_array_buffer_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_allocation_larger_than_the_limit_is_a_catchable_range_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_limit_ends_a_request_without_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_limit_fails_every_request_in_flight_on_the_isolate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_concurrency_refuses_requests_beyond_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolates_beyond_the_bound_are_retired_least_recently_used_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_worker_format_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_put_then_match_streams_the_body_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_full_index_evicts_the_least_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_without_a_path_misses_and_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_fire_in_order_and_cleared_ones_do_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_timer_callback_runs_under_its_request_s_cpu_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timers_end_with_their_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_level_code_cannot_set_timers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date_now_stands_still_while_a_script_computes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_until_work_outlives_the_released_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_request_body_in_pieces_reaches_the_script_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_host_stops_reading_while_the_script_is_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_streamed_response_is_read_in_pieces_as_the_host_asks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_request_body_passed_through_goes_out_with_its_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stream_that_throws_cuts_the_response_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_client_gone_mid_stream_runs_the_cancel_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_sends_a_request_and_reads_the_response, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_reads_a_chunked_response_and_streams_a_request_body, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_reuses_a_keep_alive_connection, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_follows_a_redirect_and_counts_each_hop, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_past_the_subrequest_limit_is_a_catchable_error, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_to_a_closed_port_rejects_with_a_type_error, fetch_setup, fetch_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_to_loopback_is_refused_unless_opened, fetch_setup_closed, fetch_teardown),
    };

    /* TEST_FILTER=test_admin_* runs some of them (a glob) */
    if (getenv("TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("engine", tests, group_setup, group_teardown);
}

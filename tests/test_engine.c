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
#include "poll_host.h"
#include "redis_fixture.h"

#define WAIT_MS 10000  /* generous: a busy machine must not fail a test */

typedef struct {
    int                  woke;
    dispatch_request_t  *req;
    dispatch_response_t  resp;
} call_t;

static dispatch_engine_t *engine;

static dispatch_engine_t *
start_engine(int port)
{
    static char              err[256];
    dispatch_host_t          host;
    dispatch_engine_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.redis_host = "127.0.0.1";
    conf.redis_port = port;
    conf.redis_timeout_ms = 1000;
    conf.script_max_size = 1 << 20;
    poll_host_init(&host);
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

static int
setup(void **state)
{
    poll_host_reset();
    redis_fixture_cmd("FLUSHALL");
    engine = start_engine(redis_fixture_port());
    return engine ? 0 : -1;
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

/* Starts a request and runs the loop until the engine wakes it. */
static void
call(call_t *c, const char *ns, const char *script, const char *method,
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

    c->req = dispatch_request_start(engine, &view);
    assert_non_null(c->req);
    assert_true(poll_host_run_until(&c->woke, WAIT_MS));
    assert_int_equal(dispatch_request_response(c->req, &c->resp), 1);
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
test_new_version_of_a_script_replaces_the_old(void **state)
{
    call_t c;

    redis_fixture_put_script("ns", "ver",
        "export default { fetch() { return new Response('one'); } };", "1");
    call(&c, "ns", "ver", "GET", "http://example.com/", NULL);
    assert_body(&c, "one");
    dispatch_request_release(c.req);

    redis_fixture_put_script("ns", "ver",
        "export default { fetch() { return new Response('two'); } };", "2");
    call(&c, "ns", "ver", "GET", "http://example.com/", NULL);
    assert_body(&c, "two");
    dispatch_request_release(c.req);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_charset_is_lowercase_digits_dash_underscore),
        cmocka_unit_test(test_outcomes_map_to_spec_statuses),
        cmocka_unit_test_setup_teardown(test_missing_script_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_name_is_not_found_without_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_response_comes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_reaches_the_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thrown_exception_is_500_and_logged_with_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_that_is_not_a_response_is_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_is_500_and_names_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolate_keeps_globals_between_requests_of_one_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_do_not_share_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_version_of_a_script_replaces_the_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down_is_store_unavailable_within_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_released_request_is_never_woken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_closes_the_redis_connection, setup, teardown),
    };

    return cmocka_run_group_tests_name("engine", tests, group_setup, group_teardown);
}

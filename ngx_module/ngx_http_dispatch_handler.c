
/*
 * The content handler: a request goes to the engine and comes back through
 * a posted event, which sends the response and finalizes the request once.
 */


#include "ngx_http_dispatch.h"


static void ngx_http_dispatch_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_dispatch_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_dispatch_authority(ngx_http_request_t *r,
    ngx_str_t *authority);
static ngx_uint_t ngx_http_dispatch_authority_unsafe(ngx_str_t *authority);
static ngx_uint_t ngx_http_dispatch_bad_ipv4(u_char *host, u_char *end);
static ngx_uint_t ngx_http_dispatch_bad_ipv6(u_char *p, u_char *end);
static int64_t ngx_http_dispatch_ipv4_number(u_char *p, u_char *end);
static ngx_int_t ngx_http_dispatch_url(ngx_http_request_t *r, ngx_str_t *url);
static ngx_int_t ngx_http_dispatch_headers_in(ngx_http_request_t *r,
    dispatch_header_t **headers, size_t *nheaders);
static void ngx_http_dispatch_wake_handler(ngx_event_t *ev);
static void ngx_http_dispatch_read_handler(ngx_http_request_t *r);
static void ngx_http_dispatch_write_handler(ngx_http_request_t *r);
static void ngx_http_dispatch_continue(ngx_http_request_t *r);
static ngx_int_t ngx_http_dispatch_pump_body(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static ngx_uint_t ngx_http_dispatch_pass_body(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static void ngx_http_dispatch_finalize(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx, ngx_int_t rc);
static void ngx_http_dispatch_drop_body(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static ngx_int_t ngx_http_dispatch_send_stream(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static ngx_int_t ngx_http_dispatch_send_response(ngx_http_request_t *r,
    dispatch_response_t *resp);
static ngx_int_t ngx_http_dispatch_send_outcome(ngx_http_request_t *r,
    dispatch_outcome_e outcome, ngx_int_t status);
static ngx_int_t ngx_http_dispatch_status_line(ngx_http_request_t *r,
    dispatch_response_t *resp);
static ngx_int_t ngx_http_dispatch_header_out(ngx_http_request_t *r,
    dispatch_header_t *h);
static const char *ngx_http_dispatch_header_invalid(dispatch_header_t *h);
static void ngx_http_dispatch_log_dropped(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx, dispatch_header_t *h, const char *why);
static ngx_uint_t ngx_http_dispatch_hop_by_hop(dispatch_header_t *h);
static ngx_uint_t ngx_http_dispatch_chars_in(uint32_t *map, const char *p,
    size_t len);
static ngx_uint_t ngx_http_dispatch_text_in(const char *p, size_t len);
static void ngx_http_dispatch_cleanup(void *data);
static ngx_int_t ngx_http_dispatch_ws_head(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx, dispatch_response_t *resp);
static ngx_int_t ngx_http_dispatch_ws_start(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static ngx_int_t ngx_http_dispatch_ws_pump(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx);
static void ngx_http_dispatch_ws_read_handler(ngx_http_request_t *r);


static ngx_str_t  ngx_http_dispatch_unprintable = ngx_string("(unprintable)");


#define ngx_http_dispatch_str(s)  { (const char *) (s).data, (s).len }


/*
 * What the script produced is checked again here, whatever the engine did:
 * a tenant that tampers with the JavaScript intrinsics controls it.
 */

#define NGX_HTTP_DISPATCH_STATUS_TEXT_MAX  128
#define NGX_HTTP_DISPATCH_STREAM_BUF       32768
#define NGX_HTTP_DISPATCH_WS_BUF           4096
#define NGX_HTTP_DISPATCH_NAME_LOG_MAX     32
#define NGX_HTTP_DISPATCH_DROPPED_LOG_MAX  8


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 prefix;    /* every name that starts with it */
} ngx_http_dispatch_hop_t;


/* nginx frames the body and runs the connection itself */

static ngx_http_dispatch_hop_t  ngx_http_dispatch_hop_headers[] = {
    { ngx_string("Connection"), 0 },
    { ngx_string("Keep-Alive"), 0 },
    { ngx_string("Upgrade"), 0 },
    { ngx_string("TE"), 0 },
    { ngx_string("Trailer"), 0 },
    { ngx_string("Transfer-Encoding"), 0 },
    { ngx_string("Content-Length"), 0 },
    { ngx_string("Proxy-"), 1 },
    { ngx_null_string, 0 }
};


/* RFC 9110 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA */

static uint32_t  ngx_http_dispatch_tchar[] = {
    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */

                /* ?>=< ;:98 7654 3210  /.-, +*)( '&%$ #"!  */
    0x03ff6cfa, /* 0000 0011 1111 1111  0110 1100 1111 1010 */

                /* _^]\ [ZYX WVUT SRQP  ONML KJIH GFED CBA@ */
    0xc7fffffe, /* 1100 0111 1111 1111  1111 1111 1111 1110 */

                /*  ~}| {zyx wvut srqp  onml kjih gfed cba` */
    0x57ffffff, /* 0101 0111 1111 1111  1111 1111 1111 1111 */

    0x00000000, /* 1000 0000 - 1111 1111 */
    0x00000000,
    0x00000000,
    0x00000000
};


/*
 * RFC 9110 reason-phrase and field-value bytes: HTAB, SP, VCHAR, obs-text;
 * never CR, LF, NUL or another control character
 */

/*
 * What an authority may hold: no byte up to SP, no DEL, none of
 * \\ / ? # @ < > ^ | % (the URL Standard's forbidden domain code points), no
 * [ or ] (an IPv6 literal's brackets are judged by their place), and no byte
 * above 0x7f (a name is sent in its ASCII form; new URL() refuses one that is
 * not valid UTF-8 or IDNA: "\xff", a zero-width space).
 */

static uint32_t  ngx_http_dispatch_host_char[] = {
    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */

                /* ?>=< ;:98 7654 3210  /.-, +*)( '&%$ #"!  */
    0x2fff7fd6, /* 0010 1111 1111 1111  0111 1111 1101 0110 */

                /* _^]\ [ZYX WVUT SRQP  ONML KJIH GFED CBA@ */
    0x87fffffe, /* 1000 0111 1111 1111  1111 1111 1111 1110 */

                /*  ~}| {zyx wvut srqp  onml kjih gfed cba` */
    0x6fffffff, /* 0110 1111 1111 1111  1111 1111 1111 1111 */

    0x00000000, /* 1000 0000 - 1111 1111 */
    0x00000000,
    0x00000000,
    0x00000000
};


static uint32_t  ngx_http_dispatch_text[] = {
    0x00000200, /* 0000 0000 0000 0000  0000 0010 0000 0000 */

                /* ?>=< ;:98 7654 3210  /.-, +*)( '&%$ #"!  */
    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */

                /* _^]\ [ZYX WVUT SRQP  ONML KJIH GFED CBA@ */
    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */

                /*  ~}| {zyx wvut srqp  onml kjih gfed cba` */
    0x7fffffff, /* 0111 1111 1111 1111  1111 1111 1111 1111 */

    0xffffffff, /* 1000 0000 - 1111 1111 */
    0xffffffff,
    0xffffffff,
    0xffffffff
};


/* at most 64 bytes of a client-chosen name, URI-escaped, for a log line */

static ngx_str_t *
ngx_http_dispatch_escaped(ngx_pool_t *pool, ngx_str_t *name)
{
    size_t      len;
    ngx_str_t  *out;

    out = ngx_palloc(pool, sizeof(ngx_str_t));
    if (out == NULL) {
        return &ngx_http_dispatch_unprintable;
    }

    len = ngx_min(name->len, 64);

    out->data = ngx_pnalloc(pool, len * 3);
    if (out->data == NULL) {
        return &ngx_http_dispatch_unprintable;
    }

    out->len = (u_char *) ngx_escape_uri(out->data, name->data, len,
                                         NGX_ESCAPE_URI_COMPONENT)
               - out->data;

    return out;
}


ngx_int_t
ngx_http_dispatch_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_dispatch_ctx_t       *ctx;
    ngx_http_dispatch_loc_conf_t  *dlcf;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch handler");

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dispatch_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_dispatch_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_dispatch_module);

    if (ngx_http_complex_value(r, dlcf->ns, &ctx->ns) != NGX_OK
        || ngx_http_complex_value(r, dlcf->script, &ctx->script) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a name outside the charset cannot be a script: no need to ask Redis */

    if (!dispatch_name_valid((const char *) ctx->ns.data, ctx->ns.len)
        || !dispatch_name_valid((const char *) ctx->script.data,
                                ctx->script.len))
    {
        /* the client chose these bytes (a decoded %0A too): escaped */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch: invalid namespace or script name \"%V/%V\"",
                      ngx_http_dispatch_escaped(r->pool, &ctx->ns),
                      ngx_http_dispatch_escaped(r->pool, &ctx->script));

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_dispatch_send_outcome(r, DISPATCH_OUTCOME_NOT_FOUND,
                                              0);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch \"%V/%V\"", &ctx->ns, &ctx->script);

    /* a host that would move request.url's path or query: the client's 400 */

    if (ngx_http_dispatch_authority(r, &ctx->authority) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch: the host \"%V\" cannot be a URL's host",
                      ngx_http_dispatch_escaped(r->pool, &ctx->authority));

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_dispatch_engine == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch: the engine is not running in this worker");

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_dispatch_send_outcome(r,
                                        DISPATCH_OUTCOME_STORE_UNAVAILABLE, 0);
    }

    /*
     * The script starts once the headers are in; the body reaches it as it
     * is read (ngx_http_dispatch_pump_body), never buffered to a file.
     */

    r->request_body_no_buffering = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_dispatch_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_dispatch_body_handler(ngx_http_request_t *r)
{
    ngx_str_t                      url, body;
    ngx_pool_cleanup_t            *cln;
    dispatch_request_view_t        view;
    ngx_http_dispatch_ctx_t       *ctx;
    ngx_http_dispatch_loc_conf_t  *dlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    ngx_memzero(&view, sizeof(dispatch_request_view_t));
    ngx_str_null(&body);

    /* more to come: what is here goes to the engine once it is started */

    ctx->reading_body = r->request_body_no_buffering;

    if ((!ctx->reading_body && ngx_http_dispatch_read_body(r, &body) != NGX_OK)
        || ngx_http_dispatch_url(r, &url) != NGX_OK
        || ngx_http_dispatch_headers_in(r, (dispatch_header_t **) &view.headers,
                                        &view.nheaders)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch body read: %uz bytes, %uz headers, more: %ui",
                   body.len, view.nheaders, (ngx_uint_t) ctx->reading_body);

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_dispatch_cleanup;
    cln->data = ctx;

    ctx->wake.handler = ngx_http_dispatch_wake_handler;
    ctx->wake.data = ctx;
    ctx->wake.log = r->connection->log;

    view.ns = (dispatch_str_t) ngx_http_dispatch_str(ctx->ns);
    view.script = (dispatch_str_t) ngx_http_dispatch_str(ctx->script);
    view.method = (dispatch_str_t) ngx_http_dispatch_str(r->method_name);
    view.url = (dispatch_str_t) ngx_http_dispatch_str(url);
    view.body = (dispatch_str_t) ngx_http_dispatch_str(body);
    view.body_more = ctx->reading_body;
    view.body_length = r->headers_in.chunked ? -1
                                             : r->headers_in.content_length_n;
    view.ctx = ctx;

    /* for the engine's log lines once the request is released */

    view.client = (dispatch_str_t)
                  ngx_http_dispatch_str(r->connection->addr_text);
    view.request_line = (dispatch_str_t)
                        ngx_http_dispatch_str(r->request_line);

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dispatch_module);

    view.cpu_limit_ms = dlcf->cpu_limit;
    view.wall_limit_ms = dlcf->wall_limit;
    view.script_concurrency = (uint32_t) dlcf->script_concurrency;
    view.subrequest_limit = (uint32_t) dlcf->subrequest_limit;

    if (ngx_http_dispatch_cf_values(r, dlcf, (dispatch_header_t **) &view.cf,
                                    &view.ncf)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->engine_req = dispatch_request_start(ngx_http_dispatch_engine, &view);

    if (ctx->engine_req == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch request started: %p", ctx->engine_req);

    r->write_event_handler = ngx_http_request_empty_handler;

    if (ctx->reading_body) {
        r->read_event_handler = ngx_http_dispatch_read_handler;

        /* what was read with the headers, and what the socket has now */

        ngx_http_dispatch_continue(r);
        return;
    }

    /* notice a client that goes away while the script runs */

    r->read_event_handler = ngx_http_test_reading;
}


/*
 * More of the request body, read only while the engine wants it: when the
 * script is behind, nginx stops reading from the client (and TCP slows the
 * client down). NGX_ERROR: the client is gone.
 */

static ngx_int_t
ngx_http_dispatch_pump_body(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = r->connection;

    /* what the first read left in rb->bufs */

    (void) ngx_http_dispatch_pass_body(r, ctx);

    while (ctx->reading_body) {

        if (!dispatch_request_body_wanted(ctx->engine_req)) {

            /* the script is behind: no client_body_timeout meanwhile */

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch request body paused");

            if (c->read->timer_set) {
                ngx_del_timer(c->read);
            }

            return NGX_OK;
        }

        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ctx->reading_body = 0;
            r->read_event_handler = ngx_http_test_reading;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch request body failed: %i", rc);

            if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
                ngx_log_error(NGX_LOG_INFO, c->log, 0,
                              "dispatch \"%V/%V\": the request body is larger "
                              "than client_max_body_size", &ctx->ns,
                              &ctx->script);
            }

            dispatch_request_body_fail(ctx->engine_req,
                                       c->error ? 0 : (int) rc);

            return c->error ? NGX_ERROR : NGX_OK;
        }

        if (rc == NGX_OK) {
            (void) ngx_http_dispatch_pass_body(r, ctx);

            ctx->reading_body = 0;
            r->read_event_handler = ngx_http_test_reading;

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch request body read");

            (void) dispatch_request_body_write(ctx->engine_req, NULL, 0, 1);

            return NGX_OK;
        }

        /* NGX_AGAIN: nothing more until the next read event */

        if (!ngx_http_dispatch_pass_body(r, ctx)) {
            return NGX_OK;
        }
    }

    return NGX_OK;
}


/* the engine copies what nginx read; nginx reuses its buffer */

static ngx_uint_t
ngx_http_dispatch_pass_body(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx)
{
    size_t        size;
    ngx_uint_t    passed;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return 0;
    }

    passed = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size = b->last - b->pos;

        if (size) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "dispatch request body piece: %uz", size);

            (void) dispatch_request_body_write(ctx->engine_req,
                                               (const char *) b->pos, size, 0);
            passed = 1;
        }

        b->pos = b->last;
    }

    r->request_body->bufs = NULL;

    return passed;
}


static void
ngx_http_dispatch_read_handler(ngx_http_request_t *r)
{
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    if (!ctx->reading_body) {
        ngx_http_test_reading(r);
        return;
    }

    ngx_http_dispatch_continue(r);
}


static void
ngx_http_dispatch_write_handler(ngx_http_request_t *r)
{
    ngx_event_t              *wev;
    ngx_connection_t         *c;
    ngx_http_dispatch_ctx_t  *ctx;

    c = r->connection;
    wev = c->write;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "dispatch write handler");

    if (wev->timedout) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

        if (ctx && ctx->stalled) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "dispatch \"%V/%V\": the response body stream "
                          "produced nothing for send_timeout: the response "
                          "is cut short", &ctx->ns, &ctx->script);

        } else {
            ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                          "client timed out");
        }

        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    ngx_http_dispatch_continue(r);
}


/*
 * One step of the request's life, on every wake, read and write event:
 * the response's header once the engine has it, the request body while
 * the engine wants it, the response body while the client takes it.
 * It finalizes the request once, when the response is out or cannot be.
 */

static void
ngx_http_dispatch_continue(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    dispatch_response_t       resp;
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    if (ctx->engine_req == NULL) {
        return;
    }

    if (ctx->reading_body
        && ngx_http_dispatch_pump_body(r, ctx) == NGX_ERROR)
    {
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    if (!ctx->responded) {
        /* a field an older engine does not know stays 0 */
        ngx_memzero(&resp, sizeof(dispatch_response_t));

        if (!dispatch_request_response(ctx->engine_req, &resp)) {
            return;
        }

        ctx->outcome = resp.outcome;
        ctx->outcome_set = 1;
        ctx->cpu_ms = resp.cpu_ms;
        ctx->subrequests = resp.subrequests;

        if (resp.chain_failure.len) {
            ctx->chain_failure.data = ngx_pnalloc(r->pool,
                                                  resp.chain_failure.len);
            if (ctx->chain_failure.data) {
                ngx_memcpy(ctx->chain_failure.data, resp.chain_failure.data,
                           resp.chain_failure.len);
                ctx->chain_failure.len = resp.chain_failure.len;
            }
        }
        ctx->responded = 1;

        if (resp.outcome == DISPATCH_OUTCOME_OK) {
            rc = ngx_http_dispatch_send_response(r, &resp);

        } else {
            rc = ngx_http_dispatch_send_outcome(r, resp.outcome, resp.status);
        }

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "dispatch response: outcome \"%s\", status %ui, "
                       "streamed %ui, rc %i",
                       dispatch_outcome_name(ctx->outcome),
                       r->headers_out.status, (ngx_uint_t) ctx->streaming, rc);

        if (!ctx->streaming || rc == NGX_ERROR || rc > NGX_OK
            || r->header_only)
        {
            ngx_http_dispatch_finalize(r, ctx, rc);
            return;
        }

        r->write_event_handler = ngx_http_dispatch_write_handler;

        if (ctx->websocket && ngx_http_dispatch_ws_start(r, ctx) != NGX_OK) {
            ngx_http_dispatch_finalize(r, ctx, NGX_ERROR);
            return;
        }
    }

    if (ctx->websocket && !ctx->stream_over
        && ngx_http_dispatch_ws_pump(r, ctx) == NGX_ERROR)
    {
        ngx_http_dispatch_finalize(r, ctx, NGX_ERROR);
        return;
    }

    if (!ctx->streaming || ctx->stream_over) {
        return;
    }

    rc = ngx_http_dispatch_send_stream(r, ctx);

    if (rc == NGX_DONE) {

        /*
         * What was sent made room: bytes that came while the engine did
         * not want them wait in the socket, and no new event says so
         */

        if (ctx->websocket && r->connection->read->ready
            && dispatch_websocket_wanted(ctx->engine_req))
        {
            ngx_post_event(r->connection->read, &ngx_posted_events);
        }

        return;
    }

    ngx_http_dispatch_finalize(r, ctx, rc);
}


/* the response is out, or cannot be */

static void
ngx_http_dispatch_finalize(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx,
    ngx_int_t rc)
{
    ctx->stream_over = 1;

    if (ctx->reading_body && (rc == NGX_OK || rc == NGX_AGAIN)) {
        ngx_http_dispatch_drop_body(r, ctx);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The response went out before the client sent all of its body: the
 * script's reads past what it was given reject (as Workers', "Can't read
 * from request stream after response has been sent"), and nginx reads the
 * rest and drops it, as it drops a body nobody reads (within lingering_time
 * and lingering_timeout), so the connection serves the client's next
 * request. Without this nginx 1.22 closes a connection whose unbuffered
 * body it began reading, and a pipelined request is never answered.
 */

static void
ngx_http_dispatch_drop_body(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx)
{
    ngx_event_t               *rev;
    ngx_http_request_body_t   *rb;
    ngx_http_core_srv_conf_t  *cscf;

    ctx->reading_body = 0;

    if (r->connection->error) {
        return;                 /* the engine's "Network connection lost." */
    }

    dispatch_request_body_fail(ctx->engine_req, DISPATCH_BODY_AFTER_RESPONSE);

    rb = r->request_body;
    rev = r->connection->read;

    if (r != r->main || rb == NULL || !r->reading_body
#if (NGX_HTTP_V2)
        || r->stream
#endif
        )
    {
        return;
    }

    /* what is left, for nginx's discarding reader */

    if (r->headers_in.chunked) {
        if (rb->chunked == NULL) {
            return;
        }

        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

        r->headers_in.content_length_n =
            ngx_max(rb->chunked->length,
                    (off_t) cscf->large_client_header_buffers.size);

    } else {
        r->headers_in.content_length_n = rb->rest;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch: the response is out, the rest of the request "
                   "body is dropped (%O)", r->headers_in.content_length_n);

    r->reading_body = 0;
    r->discard_body = 1;
    r->count++;
    r->read_event_handler = ngx_http_discarded_request_body_handler;

    if (rev->timer_set) {
        ngx_del_timer(rev);
    }

    /* bytes the script was too slow to want may wait in the socket */

    if (rev->ready) {
        ngx_post_event(rev, &ngx_posted_events);

    } else if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        r->connection->error = 1;
    }
}


/*
 * The response body as the script produces it, in recycled buffers: the
 * engine copies each piece in (never a pointer into V8's heap, which may go
 * while nginx still holds the buffer), and the next piece is asked for
 * only once nginx has sent the last, so a slow client slows the script.
 * NGX_DONE: waiting (for the client, or for the script); anything else
 * finalizes the request.
 */

static ngx_int_t
ngx_http_dispatch_send_stream(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx)
{
    long                       n;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;
    wev = c->write;

    for ( ;; ) {

        if (ctx->busy || wev->delayed) {
            rc = ngx_http_output_filter(r, NULL);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            cl = NULL;

            ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                                    (ngx_buf_tag_t) &ngx_http_dispatch_module);

            if (ctx->busy || wev->delayed) {
                clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

                if (!wev->delayed) {
                    ngx_add_timer(wev, clcf->send_timeout);
                }

                if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
                    return NGX_ERROR;
                }

                return NGX_DONE;
            }
        }

        /* a stall's timer runs on until the script produces something */

        if (wev->timer_set && !ctx->stalled) {
            ngx_del_timer(wev);
        }

        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;

        if (b->start == NULL) {
            b->start = ngx_palloc(r->pool, NGX_HTTP_DISPATCH_STREAM_BUF);
            if (b->start == NULL) {
                return NGX_ERROR;
            }

            b->end = b->start + NGX_HTTP_DISPATCH_STREAM_BUF;
            b->temporary = 1;
            b->tag = (ngx_buf_tag_t) &ngx_http_dispatch_module;
        }

        b->pos = b->start;
        b->last = b->start;
        b->flush = 0;

        n = dispatch_response_read(ctx->engine_req, (char *) b->start,
                                   b->end - b->start);

        if (n == DISPATCH_BODY_AGAIN) {
            /* the engine wakes us once the script has produced more */
            cl->next = ctx->free;
            ctx->free = cl;

            /*
             * A stream that produces nothing uses no CPU and sends nothing:
             * send_timeout bounds the wait, as it bounds a client that
             * takes nothing. Wakes that bring nothing do not restart it.
             */

            /* a WebSocket's silence is its idle timeout's business */

            if (!ctx->stalled && !ctx->websocket) {
                clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

                if (wev->timer_set) {
                    ngx_del_timer(wev);
                }

                ngx_add_timer(wev, clcf->send_timeout);
                ctx->stalled = 1;
            }

            return NGX_DONE;
        }

        if (ctx->stalled) {
            ctx->stalled = 0;

            if (wev->timer_set) {
                ngx_del_timer(wev);
            }
        }

        if (n == DISPATCH_BODY_ERROR || n < 0) {
            cl->next = ctx->free;
            ctx->free = cl;

            /* the engine said why; the client sees a cut-short response */

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch response body failed");
            return NGX_ERROR;
        }

        if (n == 0) {
            ctx->body_done = 1;

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch response body complete");

            return ngx_http_send_special(r, NGX_HTTP_LAST);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "dispatch response body piece: %l", n);

        b->last = b->pos + n;
        b->flush = 1;
        cl->next = NULL;

        rc = ngx_http_output_filter(r, cl);

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                                (ngx_buf_tag_t) &ngx_http_dispatch_module);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }
}


static ngx_int_t
ngx_http_dispatch_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    size_t        len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = len;
        return NGX_OK;
    }

    /* a body larger than client_body_buffer_size is in a temporary file */

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "dispatch: cannot read the request body file");
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * request.url's host[:port], as the client asked: the request line's when it
 * is in absolute form (nginx routes by it too: $host), else the Host header.
 * NGX_DECLINED when the client's holds a byte that ends or splits a URL's
 * authority (nginx's own check lets a backslash, "?", "#" and "@" through):
 * "Host: h\admin" made request.url "http://h/admin/x" for a request nginx
 * routed as "/x", past a location that guarded "/admin/". A subrequest
 * (auth_request, mirror, SSI) has the client's request line and headers but
 * not where the line's host is: the main request's.
 */

static ngx_int_t
ngx_http_dispatch_authority(ngx_http_request_t *r, ngx_str_t *authority)
{
    u_char                    *p, *end;
    ngx_http_request_t        *m;
    ngx_http_core_srv_conf_t  *cscf;

    m = r->main;

    if (m->host_start && m->host_end) {
        p = m->host_end;
        end = m->request_line.data + m->request_line.len;

        if (p < end && *p == ':') {
            for (p++; p < end && *p >= '0' && *p <= '9'; p++) { /* void */ }
        }

        authority->data = m->host_start;
        authority->len = p - m->host_start;

    } else if (r->headers_in.host) {
        *authority = r->headers_in.host->value;

    } else {
        /* no host from the client (HTTP/1.0): the server's first name */

        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        *authority = cscf->server_name;

        if (ngx_http_dispatch_authority_unsafe(authority)) {
            ngx_str_null(authority);    /* a regex name: "localhost" */
        }

        return NGX_OK;
    }

    return ngx_http_dispatch_authority_unsafe(authority) ? NGX_DECLINED
                                                         : NGX_OK;
}


/*
 * Also what the URL Standard refuses in a host ("<", ">", "^", "|", a "[" or
 * "]" that is not an IPv6 literal's) or a port (anything but digits, above
 * 65535), all of which nginx lets through: request.url would be a URL that
 * new URL() refuses, and every router built on it would throw for that
 * client ("Host: h:99999").
 */

static ngx_uint_t
ngx_http_dispatch_authority_unsafe(ngx_str_t *authority)
{
    u_char      *p, *end, *host_end;
    ngx_uint_t   port, literal;

    p = authority->data;
    end = p + authority->len;
    literal = (p < end && *p == '[');

    if (literal) {
        host_end = ngx_strlchr(p, end, ']');

        if (host_end == NULL) {
            return 1;
        }

        host_end++;

    } else {
        host_end = ngx_strlchr(p, end, ':');

        if (host_end == NULL) {
            host_end = end;
        }
    }

    for ( /* void */ ; p < end; p++) {
        if (ngx_http_dispatch_host_char[*p >> 5] & (1U << (*p & 0x1f))) {
            continue;
        }

        if ((*p == '[' || *p == ']')
            && literal && (p == authority->data || p == host_end - 1))
        {
            continue;
        }

        return 1;
    }

    /* what the URL Standard reads as an address must be a valid one */

    if (literal) {
        if (ngx_http_dispatch_bad_ipv6(authority->data + 1, host_end - 1)) {
            return 1;
        }

    } else if (ngx_http_dispatch_bad_ipv4(authority->data, host_end)) {
        return 1;
    }

    if (host_end == end) {
        return 0;
    }

    if (*host_end != ':') {
        return 1;
    }

    port = 0;

    for (p = host_end + 1; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return 1;
        }

        port = port * 10 + (*p - '0');

        if (port > 65535) {
            return 1;
        }
    }

    return 0;
}


/*
 * A host whose last label is a number is an IPv4 address to the URL
 * Standard, and new URL() refuses it unless it is a valid one: 1 for
 * "1.2.3.999", "a.1", "x.0", "256.1", "1.2.3.4.5" ("1.2.3" and "0x7f.1" are
 * valid ones).
 */

static ngx_uint_t
ngx_http_dispatch_bad_ipv4(u_char *host, u_char *end)
{
    u_char      *p, *part;
    int64_t      n;
    ngx_uint_t   parts, i, digits;

    digits = 1;

    if (end > host && end[-1] == '.') {
        end--;
    }

    for (p = end; p > host && p[-1] != '.'; p--) {
        digits = digits && p[-1] >= '0' && p[-1] <= '9';
    }

    if (!(digits && p < end) && ngx_http_dispatch_ipv4_number(p, end) < 0) {
        return 0;       /* a domain */
    }

    parts = 1;

    for (p = host; p < end; p++) {
        parts += (*p == '.');
    }

    if (parts > 4) {
        return 1;
    }

    for (i = 1, part = host; i <= parts; i++, part = p + 1) {
        for (p = part; p < end && *p != '.'; p++) { /* void */ }

        n = ngx_http_dispatch_ipv4_number(part, p);

        if (n < 0 || (i < parts && n > 255)
            || (i == parts && n >= (int64_t) 1 << (8 * (5 - parts))))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The URL Standard's IPv6 parser, as a check: 1 for what it refuses. nginx's
 * own parser differs at the edges ("1:2:3:4:5:6:7::" refused, "::1:" and
 * "::1.2.3." taken), and the script's new URL(request.url) is what has to
 * take it.
 */

static ngx_uint_t
ngx_http_dispatch_bad_ipv6(u_char *p, u_char *end)
{
    ngx_int_t   piece, compress, length, seen, octet;
    ngx_uint_t  c;

    piece = 0;
    compress = -1;

    if (p < end && *p == ':') {
        if (end - p < 2 || p[1] != ':') {
            return 1;
        }

        p += 2;
        compress = ++piece;
    }

    while (p < end) {
        if (piece == 8) {
            return 1;
        }

        if (*p == ':') {
            if (compress >= 0) {
                return 1;
            }

            p++;
            compress = ++piece;
            continue;
        }

        for (length = 0; length < 4 && p < end; length++, p++) {
            c = *p | 0x20;

            if (!((*p >= '0' && *p <= '9') || (c >= 'a' && c <= 'f'))) {
                break;
            }
        }

        if (p < end && *p == '.') {

            /* an IPv4 address in the last two groups */

            if (length == 0 || piece > 6) {
                return 1;
            }

            p -= length;

            for (seen = 0; p < end; seen++) {
                if (seen > 0) {
                    if (*p != '.' || seen == 4) {
                        return 1;
                    }

                    p++;
                }

                if (p == end || *p < '0' || *p > '9') {
                    return 1;
                }

                for (octet = -1; p < end && *p >= '0' && *p <= '9'; p++) {
                    if (octet == 0) {
                        return 1;       /* a leading zero */
                    }

                    octet = (octet < 0 ? 0 : octet * 10) + (*p - '0');

                    if (octet > 255) {
                        return 1;
                    }
                }
            }

            if (seen != 4) {
                return 1;
            }

            piece += 2;
            break;
        }

        if (p < end && *p == ':') {
            p++;

            if (p == end) {
                return 1;
            }

        } else if (p < end) {
            return 1;
        }

        piece++;
    }

    return compress < 0 && piece != 8;
}


/* the URL Standard's IPv4 number: 0x hex, 0 octal, else decimal; -1: none */

static int64_t
ngx_http_dispatch_ipv4_number(u_char *p, u_char *end)
{
    int64_t  n, radix, d;

    if (p == end) {
        return -1;
    }

    radix = 10;

    if (end - p >= 2 && p[0] == '0' && (p[1] | 0x20) == 'x') {
        radix = 16;
        p += 2;

    } else if (end - p >= 2 && p[0] == '0') {
        radix = 8;
        p++;
    }

    for (n = 0; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            d = *p - '0';

        } else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f') {
            d = (*p | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        if (d >= radix) {
            return -1;
        }

        /* past 2^32 it is refused whatever follows: it stays there */
        n = ngx_min(n * radix + d, (int64_t) 1 << 32);
    }

    return n;
}


/*
 * request.url: scheme://host[:port]/path?query, as the client asked. A
 * backslash in the path is "%5C" there: nginx (on Unix) routes it as any
 * byte, the URL Standard reads it as "/", so "/x\..\admin/" routed by
 * "location /" was "/admin/" to the script.
 */

static ngx_int_t
ngx_http_dispatch_url(ngx_http_request_t *r, ngx_str_t *url)
{
    size_t                    len, i, backslashes, path;
    u_char                   *p, c;
    ngx_str_t                 scheme, host;
    ngx_http_dispatch_ctx_t  *ctx;

    ngx_str_set(&scheme, "http");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");
    }
#endif

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);
    host = ctx->authority;      /* checked by the handler */

    if (host.len == 0) {
        ngx_str_set(&host, "localhost");
    }

    backslashes = 0;

    for (path = 0; path < r->unparsed_uri.len; path++) {
        c = r->unparsed_uri.data[path];

        if (c == '?' || c == '#') {
            break;
        }

        backslashes += (c == '\\');
    }

    len = scheme.len + sizeof("://") - 1 + host.len + r->unparsed_uri.len
          + 2 * backslashes;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    url->data = p;
    p = ngx_cpymem(p, scheme.data, scheme.len);
    p = ngx_cpymem(p, "://", sizeof("://") - 1);
    p = ngx_cpymem(p, host.data, host.len);

    for (i = 0; i < r->unparsed_uri.len; i++) {
        c = r->unparsed_uri.data[i];

        if (i < path && c == '\\') {
            p = ngx_cpymem(p, "%5C", 3);

        } else {
            *p++ = c;
        }
    }

    url->len = p - url->data;

    return NGX_OK;
}


/*
 * The client's headers, as sent, and CF-Connecting-IP: Cloudflare's edge
 * sets it to the client's address on every request a Worker receives,
 * replacing any the client sent, and scripts trust it (hono's getConnInfo
 * and ipRestriction, rate limiters keyed by it).  Here it is the address
 * nginx took the request from, after the realip module if it is set up.
 */
static ngx_int_t
ngx_http_dispatch_headers_in(ngx_http_request_t *r, dispatch_header_t **headers,
    size_t *nheaders)
{
    size_t                    n;
    ngx_uint_t                i;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    dispatch_header_t        *out;
    ngx_http_dispatch_ctx_t  *ctx;

    static ngx_str_t  connecting_ip = ngx_string("CF-Connecting-IP");

    n = 1;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    out = ngx_palloc(r->pool, n * sizeof(dispatch_header_t));
    if (out == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == connecting_ip.len
                && ngx_strncasecmp(h[i].key.data, connecting_ip.data,
                                   connecting_ip.len) == 0)
            {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "dispatch: the client's CF-Connecting-IP "
                               "\"%V\" replaced", &h[i].value);
                continue;
            }

            out[n].name = (dispatch_str_t) ngx_http_dispatch_str(h[i].key);
            out[n].value = (dispatch_str_t) ngx_http_dispatch_str(h[i].value);

            /*
             * A request line in absolute form names the host (RFC 9112
             * 3.2.2: the Host header is then ignored), as request.url and
             * nginx's $host do: the script's Host header says the same.
             */

            if (&h[i] == r->headers_in.host
                && r->main->host_start && r->main->host_end)
            {
                ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);
                out[n].value = (dispatch_str_t)
                               ngx_http_dispatch_str(ctx->authority);
            }

            n++;
        }
    }

    out[n].name = (dispatch_str_t) ngx_http_dispatch_str(connecting_ip);
    out[n].value = (dispatch_str_t)
                   ngx_http_dispatch_str(r->connection->addr_text);
    n++;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch: CF-Connecting-IP \"%V\"",
                   &r->connection->addr_text);

    *headers = out;
    *nheaders = n;

    return NGX_OK;
}


static void
ngx_http_dispatch_wake_handler(ngx_event_t *ev)
{
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "dispatch woken: %p", ctx->engine_req);

    ngx_http_dispatch_continue(r);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_dispatch_send_response(ngx_http_request_t *r,
    dispatch_response_t *resp)
{
    size_t                    i;
    ngx_int_t                 rc;
    ngx_uint_t                dropped;
    const char               *invalid;
    dispatch_header_t        *h;
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    if (resp->status == 101) {
        if (ngx_http_dispatch_ws_head(r, ctx, resp) != NGX_OK) {
            return ngx_http_dispatch_send_outcome(r,
                                                DISPATCH_OUTCOME_EXCEPTION, 0);
        }

    } else if (resp->status < 200 || resp->status > 599) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch \"%V/%V\": the script's status %i "
                      "is not 200-599", &ctx->ns, &ctx->script,
                      (ngx_int_t) resp->status);

        return ngx_http_dispatch_send_outcome(r, DISPATCH_OUTCOME_EXCEPTION,
                                              0);
    }

    r->headers_out.status = resp->status;

    if (!ctx->websocket && ngx_http_dispatch_status_line(r, resp) != NGX_OK) {
        return NGX_ERROR;
    }

    dropped = 0;

    for (i = 0; i < resp->nheaders; i++) {
        h = (dispatch_header_t *) &resp->headers[i];

        invalid = ngx_http_dispatch_header_invalid(h);

        if (invalid) {
            if (dropped++ < NGX_HTTP_DISPATCH_DROPPED_LOG_MAX) {
                ngx_http_dispatch_log_dropped(r, ctx, h, invalid);
            }

            continue;
        }

        if (ngx_http_dispatch_hop_by_hop(h)) {
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "dispatch \"%V/%V\": hop-by-hop header "
                           "\"%*s\" dropped", &ctx->ns, &ctx->script,
                           h->name.len, h->name.data);
            continue;
        }

        rc = ngx_http_dispatch_header_out(r, h);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (dropped > NGX_HTTP_DISPATCH_DROPPED_LOG_MAX) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "dispatch \"%V/%V\": %ui more invalid response "
                      "headers dropped", &ctx->ns, &ctx->script,
                      dropped - NGX_HTTP_DISPATCH_DROPPED_LOG_MAX);
    }

    if (resp->body_streamed) {
        ctx->streaming = 1;
        r->headers_out.content_length_n = resp->body_length;

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        /* the status and headers go out now, not with the first piece */

        return ngx_http_send_special(r, NGX_HTTP_FLUSH) == NGX_ERROR
               ? NGX_ERROR : NGX_OK;
    }

    return ngx_http_dispatch_send_body(r, (u_char *) resp->body.data,
                                       resp->body.len);
}


/* names a dropped header once: a short, escaped piece of a name that may
 * hold anything, and never its value */

static void
ngx_http_dispatch_log_dropped(ngx_http_request_t *r,
    ngx_http_dispatch_ctx_t *ctx, dispatch_header_t *h, const char *why)
{
    u_char  *last;
    size_t   len;
    u_char   name[NGX_HTTP_DISPATCH_NAME_LOG_MAX * 3];

    len = ngx_min(h->name.len, NGX_HTTP_DISPATCH_NAME_LOG_MAX);

    last = (u_char *) ngx_escape_uri(name, (u_char *) h->name.data, len,
                                     NGX_ESCAPE_URI_COMPONENT);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "dispatch \"%V/%V\": response header \"%*s%s\" dropped: %s",
                  &ctx->ns, &ctx->script, last - name, name,
                  h->name.len > len ? "..." : "", why);
}


/*
 * "200 Reason": the status is 200-599 here, three digits; a reason phrase
 * that is too long or holds a byte outside the RFC 9110 set is left out,
 * and nginx sends its own or just the code
 */

static ngx_int_t
ngx_http_dispatch_status_line(ngx_http_request_t *r,
    dispatch_response_t *resp)
{
    u_char                   *p;
    ngx_http_dispatch_ctx_t  *ctx;

    if (resp->status_text.len == 0) {
        return NGX_OK;
    }

    if (resp->status_text.len > NGX_HTTP_DISPATCH_STATUS_TEXT_MAX
        || !ngx_http_dispatch_chars_in(ngx_http_dispatch_text,
                                       resp->status_text.data,
                                       resp->status_text.len))
    {
        ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "dispatch \"%V/%V\": status text of %uz bytes dropped: "
                      "too long or not a reason phrase",
                      &ctx->ns, &ctx->script, resp->status_text.len);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("200 ") - 1 + resp->status_text.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.status_line.data = p;
    p = ngx_sprintf(p, "%03ui ", (ngx_uint_t) resp->status);
    p = ngx_cpymem(p, resp->status_text.data, resp->status_text.len);
    r->headers_out.status_line.len = p - r->headers_out.status_line.data;

    return NGX_OK;
}


/* NULL when the header may go on the wire, else why not */

static const char *
ngx_http_dispatch_header_invalid(dispatch_header_t *h)
{
    if (h->name.len == 0
        || !ngx_http_dispatch_chars_in(ngx_http_dispatch_tchar, h->name.data,
                                       h->name.len))
    {
        return "the name is not a token";
    }

    if (!ngx_http_dispatch_text_in(h->value.data, h->value.len)) {
        return "a control character in the value";
    }

    return NULL;
}


static ngx_uint_t
ngx_http_dispatch_hop_by_hop(dispatch_header_t *h)
{
    ngx_http_dispatch_hop_t  *hop;

    for (hop = ngx_http_dispatch_hop_headers; hop->name.len; hop++) {

        if (hop->prefix ? h->name.len < hop->name.len
                        : h->name.len != hop->name.len)
        {
            continue;
        }

        if (ngx_strncasecmp((u_char *) h->name.data, hop->name.data,
                            hop->name.len)
            == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * ngx_http_dispatch_chars_in(ngx_http_dispatch_text, p, len), eight bytes
 * at a time: a word with no byte below 0x20 and none 0x7f holds text only
 * (the bytes of every header value of every response pass here).
 */

static ngx_uint_t
ngx_http_dispatch_text_in(const char *p, size_t len)
{
    uint64_t  w, low, del;

    while (len >= 8) {
        ngx_memcpy(&w, p, 8);

        low = (w - 0x2020202020202020ULL) & ~w & 0x8080808080808080ULL;
        w ^= 0x7f7f7f7f7f7f7f7fULL;
        del = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;

        if ((low | del)
            && !ngx_http_dispatch_chars_in(ngx_http_dispatch_text, p, 8))
        {
            return 0;
        }

        p += 8;
        len -= 8;
    }

    return ngx_http_dispatch_chars_in(ngx_http_dispatch_text, p, len);
}


static ngx_uint_t
ngx_http_dispatch_chars_in(uint32_t *map, const char *p, size_t len)
{
    u_char  c;
    size_t  i;

    for (i = 0; i < len; i++) {
        c = (u_char) p[i];

        if (!(map[c >> 5] & (1U << (c & 0x1f)))) {
            return 0;
        }
    }

    return 1;
}


/* the header is valid and not hop-by-hop here */

static ngx_int_t
ngx_http_dispatch_header_out(ngx_http_request_t *r, dispatch_header_t *h)
{
    u_char           *name, *value;
    ngx_table_elt_t  *out;

#define ngx_http_dispatch_is(n)                                               \
    (h->name.len == sizeof(n) - 1                                             \
     && ngx_strncasecmp((u_char *) h->name.data, (u_char *) n,               \
                        sizeof(n) - 1) == 0)

    value = ngx_pnalloc(r->pool, h->value.len);
    if (value == NULL && h->value.len) {
        return NGX_ERROR;
    }

    ngx_memcpy(value, h->value.data, h->value.len);

    if (ngx_http_dispatch_is("content-type")) {
        r->headers_out.content_type.data = value;
        r->headers_out.content_type.len = h->value.len;
        r->headers_out.content_type_len = h->value.len;
        r->headers_out.content_type_lowcase = NULL;
        return NGX_OK;
    }

    name = ngx_pnalloc(r->pool, h->name.len);
    if (name == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(name, h->name.data, h->name.len);

    out = ngx_list_push(&r->headers_out.headers);
    if (out == NULL) {
        return NGX_ERROR;
    }

    out->hash = 1;
    out->key.data = name;
    out->key.len = h->name.len;
    out->value.data = value;
    out->value.len = h->value.len;
    out->lowcase_key = name;

    /*
     * the script's own Server and Date replace nginx's; auth_request passes
     * a subrequest's WWW-Authenticate on with its 401
     */

    if (ngx_http_dispatch_is("server")) {
        r->headers_out.server = out;

    } else if (ngx_http_dispatch_is("date")) {
        r->headers_out.date = out;

    } else if (ngx_http_dispatch_is("www-authenticate")
               && r->headers_out.www_authenticate == NULL)
    {
        r->headers_out.www_authenticate = out;
    }

#undef ngx_http_dispatch_is

    return NGX_OK;
}


/*
 * A platform failure: a short text/plain line naming the outcome. The status
 * is the engine's when it is a 4xx or 5xx (413 for a body over the memory
 * budget), else the outcome's; 0 when there is no engine response.
 */

static ngx_int_t
ngx_http_dispatch_send_outcome(ngx_http_request_t *r,
    dispatch_outcome_e outcome, ngx_int_t status)
{
    size_t                    len;
    u_char                   *body;
    const char               *name;
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);
    if (ctx) {
        ctx->outcome = outcome;
        ctx->outcome_set = 1;
    }

    name = dispatch_outcome_name(outcome);
    len = ngx_strlen(name);

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(body, name, len);
    body[len] = '\n';

    if (status < 400 || status > 599) {
        status = dispatch_outcome_status(outcome);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch outcome \"%s\", status %i", name, status);

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    return ngx_http_dispatch_send_body(r, body, len + 1);
}


/* the whole body, its header first; the admin handler's answers too */

ngx_int_t
ngx_http_dispatch_send_body(ngx_http_request_t *r, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (len == 0) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* the engine's buffer or the pool's: either lives as long as r */

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the request is going away: its engine request must not outlive it */

static void
ngx_http_dispatch_cleanup(void *data)
{
    ngx_http_dispatch_ctx_t  *ctx = data;

    /*
     * A WebSocket ended by nginx (send_timeout, an error): the script's
     * close event (1006), unless the engine heard of the end already.
     * First: the engine may wake the request while it runs the event, and
     * that wake must not outlive the pool.
     */

    if (ctx->websocket && ctx->engine_req) {
        (void) dispatch_websocket_input(ctx->engine_req, NULL, 0, 1);
    }

    if (ctx->wake.posted) {
        ngx_delete_posted_event(&ctx->wake);
    }

    if (ctx->engine_req == NULL) {
        return;
    }

    if (ctx->responded && (ctx->body_done || !ctx->streaming)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "dispatch request released: the response is out");

    } else if (ctx->websocket) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "dispatch request released: the WebSocket is closed");

    } else if (ctx->responded) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "dispatch \"%V/%V\": the response body was not sent "
                      "to its end, its stream is cancelled",
                      &ctx->ns, &ctx->script);

    } else {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "dispatch \"%V/%V\": the client went away, "
                      "request abandoned", &ctx->ns, &ctx->script);
    }

    dispatch_request_release(ctx->engine_req);
    ctx->engine_req = NULL;
}


/*
 * A 101: the script accepted a WebSocket (the engine checked that the
 * request asked for one and computed Sec-WebSocket-Accept). Only on an
 * HTTP/1.1 connection of its own: HTTP/2 and HTTP/3 have no 101.
 */

static ngx_int_t
ngx_http_dispatch_ws_head(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx,
    dispatch_response_t *resp)
{
    ngx_table_elt_t  *h;

    if (r != r->main || r->http_version != NGX_HTTP_VERSION_11
#if (NGX_HTTP_V2)
        || r->stream
#endif
        || !resp->body_streamed)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch \"%V/%V\": the script answered with a "
                      "WebSocket (101), which needs an HTTP/1.1 request of "
                      "its own", &ctx->ns, &ctx->script);
        return NGX_DECLINED;
    }

    /* the connection's next bytes are frames: no request body before them */

    if (ctx->reading_body || r->headers_in.content_length_n > 0
        || r->headers_in.chunked)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch \"%V/%V\": the script answered with a "
                      "WebSocket (101) a request that has a body",
                      &ctx->ns, &ctx->script);
        return NGX_DECLINED;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    /* nginx's header filter adds "Connection: upgrade" to a 101 */

    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    ctx->websocket = 1;

    return NGX_OK;
}


/*
 * The 101 is out: from now on the connection carries frames, which the
 * engine parses and produces. Bytes the client sent after its request's
 * head come first.
 */

static ngx_int_t
ngx_http_dispatch_ws_start(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx)
{
    size_t                         n;
    ngx_connection_t              *c;
    ngx_http_dispatch_loc_conf_t  *dlcf;

    c = r->connection;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "dispatch websocket: the connection is upgraded");

    r->keepalive = 0;
    c->log->action = "serving a WebSocket";

    ctx->ws_buf = ngx_palloc(r->pool, NGX_HTTP_DISPATCH_WS_BUF);
    if (ctx->ws_buf == NULL) {
        return NGX_ERROR;
    }

    r->read_event_handler = ngx_http_dispatch_ws_read_handler;

    n = r->header_in->last - r->header_in->pos;

    if (n) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "dispatch websocket: %uz bytes came with the head", n);

        (void) dispatch_websocket_input(ctx->engine_req,
                                        (const char *) r->header_in->pos, n,
                                        0);
        r->header_in->pos = r->header_in->last;
    }

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dispatch_module);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_add_timer(c->read, dlcf->websocket_idle_timeout);

    return NGX_OK;
}


/*
 * Reads what the client sent while the engine wants it: a script that is
 * behind, or a client that does not take what it is sent, stops the reads
 * (TCP then slows the client down). The client's end, or its silence for
 * dispatch_websocket_idle_timeout, is the script's close event (1006);
 * NGX_ERROR then ends the request.
 */

static ngx_int_t
ngx_http_dispatch_ws_pump(ngx_http_request_t *r, ngx_http_dispatch_ctx_t *ctx)
{
    ssize_t                        n;
    ngx_event_t                   *rev;
    ngx_connection_t              *c;
    ngx_http_dispatch_loc_conf_t  *dlcf;

    c = r->connection;
    rev = c->read;

    if (ctx->ws_buf == NULL) {
        return NGX_OK;          /* not upgraded (yet) */
    }

    if (rev->timedout) {
        rev->timedout = 0;

        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "dispatch \"%V/%V\": the WebSocket client sent nothing "
                      "for dispatch_websocket_idle_timeout", &ctx->ns,
                      &ctx->script);

        (void) dispatch_websocket_input(ctx->engine_req, NULL, 0, 1);
        return NGX_ERROR;
    }

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dispatch_module);

    while (dispatch_websocket_wanted(ctx->engine_req)) {

        n = c->recv(c, ctx->ws_buf, NGX_HTTP_DISPATCH_WS_BUF);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                return NGX_ERROR;
            }

            return NGX_OK;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "dispatch websocket: the client is gone");

            (void) dispatch_websocket_input(ctx->engine_req, NULL, 0, 1);
            return NGX_ERROR;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "dispatch websocket: %z bytes from the client", n);

        (void) dispatch_websocket_input(ctx->engine_req,
                                        (const char *) ctx->ws_buf, n, 0);

        ngx_add_timer(rev, dlcf->websocket_idle_timeout);
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "dispatch websocket: reads paused");

    return NGX_OK;
}


static void
ngx_http_dispatch_ws_read_handler(ngx_http_request_t *r)
{
    ngx_http_dispatch_continue(r);
}


/*
 * dispatch_admin: the management API's content handler (SPEC 4). nginx
 * checks who may call (the token, or a loopback client), reads the whole
 * body into memory and strips the location's prefix; the engine does the
 * rest and is woken back through a posted event, as a dispatch is. The one
 * call a bearer other than the token reaches, wrangler's asset bucket
 * upload, is a call of its own first (verify_only): the engine checks that
 * the bearer is a live upload session's before the body is read.
 *
 * The body is read unbuffered (r->request_body_no_buffering) and copied
 * into one buffer of this module: nginx never writes it to a temporary
 * file, whatever client_body_buffer_size is, and the event loop never
 * waits on a disk. A body of announced length is allocated once, at that
 * length; a chunked one grows by doubling. client_max_body_size bounds
 * both (nginx answers 413 past it), which is why 0 (no bound) is refused
 * in an admin location.
 */


#include "ngx_http_dispatch.h"

#if (NGX_SSL)
#include <openssl/crypto.h>
#endif


#define NGX_HTTP_DISPATCH_ADMIN_CHUNKED_FIRST  16384


typedef struct {
    ngx_http_dispatch_ctx_t    base;     /* first: host->wake and host->log
                                            take the call's ctx as one */
    dispatch_admin_t          *call;
    u_char                    *body;
    size_t                     len;
    size_t                     size;
    unsigned                   reading_body:1;
    unsigned                   answered:1;
    unsigned                   upload_only:1;
    unsigned                   verifying:1;
    unsigned                   cleanup_added:1;
} ngx_http_dispatch_admin_ctx_t;


static ngx_int_t ngx_http_dispatch_admin_access(ngx_http_request_t *r,
    ngx_http_dispatch_loc_conf_t *dlcf, ngx_uint_t *upload_only);
static ngx_int_t ngx_http_dispatch_admin_bearer(ngx_http_request_t *r,
    ngx_str_t *given);
static ngx_uint_t ngx_http_dispatch_admin_is_asset_upload(
    ngx_http_request_t *r);
static ngx_uint_t ngx_http_dispatch_admin_loopback(struct sockaddr *sa);
static ngx_uint_t ngx_http_dispatch_admin_token_equal(ngx_str_t *given,
    ngx_str_t *token);
static void ngx_http_dispatch_admin_body_handler(ngx_http_request_t *r);
static void ngx_http_dispatch_admin_read_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_dispatch_admin_read_body(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx);
static ngx_int_t ngx_http_dispatch_admin_take_body(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx, ngx_uint_t *taken);
static void ngx_http_dispatch_admin_start(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx);
static ngx_int_t ngx_http_dispatch_admin_path(ngx_http_request_t *r,
    ngx_str_t *path, ngx_str_t *query);
static void ngx_http_dispatch_admin_wake_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_dispatch_admin_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t code, const char *message);
static ngx_int_t ngx_http_dispatch_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *content_type, u_char *data, size_t len);
static void ngx_http_dispatch_admin_cleanup(void *data);


#define ngx_http_dispatch_admin_str(s)  { (const char *) (s).data, (s).len }


/* Cloudflare's codes: 10000 authentication, 10002 internal error */

#define NGX_HTTP_DISPATCH_ADMIN_AUTH      10000
#define NGX_HTTP_DISPATCH_ADMIN_INTERNAL  10002


ngx_int_t
ngx_http_dispatch_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_uint_t                      upload_only;
    ngx_http_dispatch_loc_conf_t   *dlcf;
    ngx_http_dispatch_admin_ctx_t  *actx;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch admin handler");

    dlcf = ngx_http_get_module_loc_conf(r, ngx_http_dispatch_module);

    /* who may call is decided before a byte of the body is read */

    upload_only = 0;

    rc = ngx_http_dispatch_admin_access(r, dlcf, &upload_only);

    if (rc != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            r->keepalive = 0;
        }

        return ngx_http_dispatch_admin_error(r, rc,
                                             NGX_HTTP_DISPATCH_ADMIN_AUTH,
                                             "Authentication error");
    }

    if (ngx_http_dispatch_engine == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch admin: the engine is not running in this "
                      "worker");

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            r->keepalive = 0;
        }

        return ngx_http_dispatch_admin_error(r,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             NGX_HTTP_DISPATCH_ADMIN_INTERNAL,
                                             "The engine is not running");
    }

    actx = ngx_pcalloc(r->pool, sizeof(ngx_http_dispatch_admin_ctx_t));
    if (actx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    actx->base.request = r;
    actx->upload_only = upload_only ? 1 : 0;
    ngx_http_set_ctx(r, actx, ngx_http_dispatch_module);

    if (actx->upload_only) {

        /*
         * a bearer that is not the admin token: the engine checks that it
         * is a live upload session's before a byte of the body is read
         * (the wake handler reads it then, or answers the refusal)
         */

        actx->verifying = 1;
        r->main->count++;

        ngx_http_dispatch_admin_start(r, actx);

        return NGX_DONE;
    }

    /* never to a temporary file: the pieces are copied as they come */

    r->request_body_no_buffering = 1;

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_dispatch_admin_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * NGX_OK, or the status that refuses the call. With a token configured, a
 * bearer that is not it is let through for one call only: POST
 * .../accounts/A/workers/assets/upload, wrangler's asset bucket upload,
 * which carries the upload session's token instead (*upload_only set: the
 * engine serves that call only, and only for a live upload session).
 */

static ngx_int_t
ngx_http_dispatch_admin_access(ngx_http_request_t *r,
    ngx_http_dispatch_loc_conf_t *dlcf, ngx_uint_t *upload_only)
{
    ngx_int_t  rc;
    ngx_str_t  given;

    if (dlcf->admin_token.len == 0) {

        /* after the realip module, if any: the client, not its proxy */

        if (ngx_http_dispatch_admin_loopback(r->connection->sockaddr)) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch admin: refused a client that is not on "
                      "loopback (no token is configured)");

        return NGX_HTTP_FORBIDDEN;
    }

    rc = ngx_http_dispatch_admin_bearer(r, &given);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!ngx_http_dispatch_admin_token_equal(&given, &dlcf->admin_token)) {

        if (ngx_http_dispatch_admin_is_asset_upload(r)) {
            *upload_only = 1;
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch admin: a wrong bearer token");
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_OK;
}


/* "Bearer" 1*SP token (RFC 6750); the scheme is case-insensitive */

static ngx_int_t
ngx_http_dispatch_admin_bearer(ngx_http_request_t *r, ngx_str_t *given)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch admin: no Authorization header");
        return NGX_HTTP_UNAUTHORIZED;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch admin: the Authorization header is not "
                      "\"Bearer TOKEN\"");
        return NGX_HTTP_UNAUTHORIZED;
    }

    for (p += sizeof("Bearer ") - 1; p < last && *p == ' '; p++) {
        /* void */
    }

    given->data = p;
    given->len = last - p;

    if (given->len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "dispatch admin: an empty bearer token");
        return NGX_HTTP_UNAUTHORIZED;
    }

    return NGX_OK;
}


/*
 * POST PREFIX/accounts/ACCOUNT/workers/assets/upload, spelled exactly so
 * (the engine routes the same path; any other spelling is refused here)
 */

static ngx_uint_t
ngx_http_dispatch_admin_is_asset_upload(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t   path, query;

    static u_char  tail[] = "/workers/assets/upload";

    if (r->method != NGX_HTTP_POST) {
        return 0;
    }

    if (ngx_http_dispatch_admin_path(r, &path, &query) != NGX_OK) {
        return 0;
    }

    p = path.data;
    last = path.data + path.len;

    if (path.len < sizeof("/accounts/") - 1
        || ngx_strncmp(p, "/accounts/", sizeof("/accounts/") - 1) != 0)
    {
        return 0;
    }

    /* one non-empty account segment */

    p += sizeof("/accounts/") - 1;

    if (p == last || *p == '/') {
        return 0;
    }

    while (p < last && *p != '/') {
        p++;
    }

    return (size_t) (last - p) == sizeof(tail) - 1
           && ngx_strncmp(p, tail, sizeof(tail) - 1) == 0;
}


/* 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and unix sockets */

static ngx_uint_t
ngx_http_dispatch_admin_loopback(struct sockaddr *sa)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    u_char               *a;
    struct sockaddr_in6  *sin6;
#endif

    switch (sa->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) sa;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;

        if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
            return 1;
        }

        a = sin6->sin6_addr.s6_addr;

        return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
#endif

#if (NGX_HAVE_UNIX_DOMAIN)
    case AF_UNIX:
        return 1;
#endif

    default:
        return 0;
    }
}


/*
 * Constant time over the configured token's length: a given token of
 * another length is refused after a comparison that costs the same.
 */

static ngx_uint_t
ngx_http_dispatch_admin_token_equal(ngx_str_t *given, ngx_str_t *token)
{
    u_char      *a;
    ngx_uint_t   same_len;

    same_len = (given->len == token->len);

    /* never read past what was given */

    a = same_len ? given->data : token->data;

#if (NGX_SSL)
    return (CRYPTO_memcmp(a, token->data, token->len) == 0) & same_len;
#else
    {
        size_t  i;
        u_char  diff;

        diff = 0;

        for (i = 0; i < token->len; i++) {
            diff |= a[i] ^ token->data[i];
        }

        return (diff == 0) & same_len;
    }
#endif
}


/*
 * Called once nginx has read what came with the headers: with the whole
 * body (r->request_body_no_buffering was reset), or with more to come.
 */

static void
ngx_http_dispatch_admin_body_handler(ngx_http_request_t *r)
{
    ngx_http_dispatch_admin_ctx_t  *actx;

    actx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    actx->reading_body = r->request_body_no_buffering;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch admin body: length %O, chunked: %ui, more: %ui",
                   r->headers_in.content_length_n,
                   (ngx_uint_t) r->headers_in.chunked,
                   (ngx_uint_t) actx->reading_body);

    /*
     * A body of announced length is allocated once, at that length: nginx
     * checked it against client_max_body_size. A chunked body's length is
     * what was decoded so far: it grows.
     */

    if (!r->headers_in.chunked && r->headers_in.content_length_n > 0) {
        actx->size = (size_t) r->headers_in.content_length_n;
        actx->body = ngx_palloc(r->pool, actx->size);

        if (actx->body == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    r->write_event_handler = ngx_http_request_empty_handler;
    r->read_event_handler = ngx_http_dispatch_admin_read_handler;

    ngx_http_dispatch_admin_read_handler(r);
}


/* more of the body, then the call; a client gone meanwhile is noticed */

static void
ngx_http_dispatch_admin_read_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_dispatch_admin_ctx_t  *actx;

    actx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    if (actx->call) {
        ngx_http_test_reading(r);
        return;
    }

    rc = ngx_http_dispatch_admin_read_body(r, actx);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_dispatch_admin_start(r, actx);
}


/*
 * NGX_OK: the whole body is in actx->body; NGX_AGAIN: waiting for the
 * client; otherwise the status to finalize with (413 past
 * client_max_body_size, 408, 400, 499 for a client gone).
 */

static ngx_int_t
ngx_http_dispatch_admin_read_body(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx)
{
    ngx_int_t   rc;
    ngx_uint_t  taken;

    if (ngx_http_dispatch_admin_take_body(r, actx, &taken) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    while (actx->reading_body) {

        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            actx->reading_body = 0;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "dispatch admin body failed: %i", rc);

            if (r->connection->error) {
                return NGX_HTTP_CLIENT_CLOSED_REQUEST;
            }

            if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "dispatch admin: the request body is larger "
                              "than client_max_body_size");
            }

            return rc;
        }

        if (ngx_http_dispatch_admin_take_body(r, actx, &taken) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK) {
            actx->reading_body = 0;
            break;
        }

        /* NGX_AGAIN with nothing new: until the next read event */

        if (!taken) {
            return NGX_AGAIN;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch admin body read: %uz bytes", actx->len);

    return NGX_OK;
}


/* copies what nginx read into the body; nginx reuses its buffers */

static ngx_int_t
ngx_http_dispatch_admin_take_body(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx, ngx_uint_t *taken)
{
    size_t        n, size;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *taken = 0;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        n = b->last - b->pos;

        if (n == 0) {
            continue;
        }

        if (n > actx->size - actx->len) {

            /* chunked, or more than announced (nginx does not let that
             * happen): double, at least to what is needed */

            size = ngx_max(actx->size * 2, NGX_HTTP_DISPATCH_ADMIN_CHUNKED_FIRST);

            if (size < actx->len + n) {
                size = actx->len + n;
            }

            p = ngx_palloc(r->pool, size);
            if (p == NULL) {
                return NGX_ERROR;
            }

            if (actx->len) {
                ngx_memcpy(p, actx->body, actx->len);
            }

            if (actx->body) {
                ngx_pfree(r->pool, actx->body);
            }

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "dispatch admin body grows: %uz to %uz",
                           actx->size, size);

            actx->body = p;
            actx->size = size;
        }

        ngx_memcpy(actx->body + actx->len, b->pos, n);
        actx->len += n;
        b->pos = b->last;
        *taken = 1;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "dispatch admin body piece: %uz, total %uz",
                       n, actx->len);
    }

    r->request_body->bufs = NULL;

    return NGX_OK;
}


static void
ngx_http_dispatch_admin_start(ngx_http_request_t *r,
    ngx_http_dispatch_admin_ctx_t *actx)
{
    ngx_str_t               path, query, type, bearer;
    ngx_pool_cleanup_t     *cln;
    dispatch_admin_view_t   view;

    if (ngx_http_dispatch_admin_path(r, &path, &query) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!actx->cleanup_added) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        cln->handler = ngx_http_dispatch_admin_cleanup;
        cln->data = actx;
        actx->cleanup_added = 1;
    }

    /* the engine may wake us before dispatch_admin_start returns */

    actx->base.wake.handler = ngx_http_dispatch_admin_wake_handler;
    actx->base.wake.data = actx;
    actx->base.wake.log = r->connection->log;

    ngx_memzero(&view, sizeof(dispatch_admin_view_t));

    view.method = (dispatch_str_t) ngx_http_dispatch_admin_str(r->method_name);
    view.path = (dispatch_str_t) ngx_http_dispatch_admin_str(path);
    view.query = (dispatch_str_t) ngx_http_dispatch_admin_str(query);

    if (r->headers_in.content_type) {
        type = r->headers_in.content_type->value;

    } else {
        ngx_str_null(&type);
    }

    view.content_type = (dispatch_str_t) ngx_http_dispatch_admin_str(type);

    view.body.data = (const char *) actx->body;
    view.body.len = actx->len;
    view.ctx = &actx->base;

    /* the bucket upload's session token; checked by the engine */

    if (r->headers_in.authorization
        && ngx_http_dispatch_admin_bearer(r, &bearer) == NGX_OK)
    {
        view.bearer = (dispatch_str_t) ngx_http_dispatch_admin_str(bearer);
    }

    view.upload_only = actx->upload_only;
    view.verify_only = actx->verifying;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch admin call: %V \"%V\" query \"%V\", "
                   "body %uz bytes, content type \"%V\"",
                   &r->method_name, &path, &query, actx->len, &type);

    actx->call = dispatch_admin_start(ngx_http_dispatch_engine, &view);

    if (actx->call == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dispatch admin: the engine could not start the call");

        ngx_http_finalize_request(r,
                     ngx_http_dispatch_admin_error(r,
                                         NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         NGX_HTTP_DISPATCH_ADMIN_INTERNAL,
                                         "Out of memory"));
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch admin call started: %p", actx->call);

    /* the engine copied what it needs */

    if (actx->body) {
        ngx_pfree(r->pool, actx->body);
        actx->body = NULL;
        actx->len = 0;
        actx->size = 0;
    }

    /* ngx_http_dispatch_admin_read_handler now notices a client that goes
     * away meanwhile */
}


/*
 * The path as the client sent it, still percent-encoded (the engine splits
 * it into segments, then decodes each: "..%2F" stays inside one name),
 * without the location's prefix; the query without its '?'. A URI that a
 * rewrite changed has no such text: it is escaped back from nginx's.
 */

static ngx_int_t
ngx_http_dispatch_admin_path(ngx_http_request_t *r, ngx_str_t *path,
    ngx_str_t *query)
{
    u_char                    *p;
    size_t                     n;
    ngx_str_t                  prefix;
    ngx_http_core_loc_conf_t  *clcf;

    if (r->valid_unparsed_uri) {
        *path = r->unparsed_uri;

        p = ngx_strlchr(path->data, path->data + path->len, '?');

        if (p) {
            query->data = p + 1;
            query->len = path->data + path->len - query->data;
            path->len = p - path->data;

        } else {
            ngx_str_null(query);
        }

    } else {
        n = ngx_escape_uri(NULL, r->uri.data, r->uri.len, NGX_ESCAPE_URI);

        path->data = ngx_pnalloc(r->pool, r->uri.len + 2 * n);
        if (path->data == NULL) {
            return NGX_ERROR;
        }

        path->len = (u_char *) ngx_escape_uri(path->data, r->uri.data,
                                              r->uri.len, NGX_ESCAPE_URI)
                    - path->data;

        *query = r->args;
    }

    /* "location /client/v4/" and "location /client/v4" alike */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    prefix = clcf->name;

    if (prefix.len && prefix.data[prefix.len - 1] == '/') {
        prefix.len--;
    }

    if (path->len >= prefix.len
        && ngx_strncmp(path->data, prefix.data, prefix.len) == 0
        && (path->len == prefix.len || path->data[prefix.len] == '/'))
    {
        path->data += prefix.len;
        path->len -= prefix.len;

    } else {
        /* spelled otherwise than the location ("/client%2Fv4/..."): the
         * engine finds no route for it */

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "dispatch admin: \"%V\" does not start with \"%V\"",
                       path, &prefix);
    }

    if (path->len == 0) {
        ngx_str_set(path, "/");
    }

    return NGX_OK;
}


static void
ngx_http_dispatch_admin_wake_handler(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_str_t                       type;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    dispatch_admin_response_t       resp;
    ngx_http_dispatch_admin_ctx_t  *actx;

    actx = ev->data;
    r = actx->base.request;
    c = r->connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "dispatch admin woken: %p", actx->call);

    if (actx->call == NULL || actx->answered) {
        return;
    }

    ngx_memzero(&resp, sizeof(dispatch_admin_response_t));

    if (!dispatch_admin_response(actx->call, &resp)) {
        return;
    }

    if (actx->verifying) {
        actx->verifying = 0;

        if (resp.status == NGX_HTTP_OK) {

            /* a live upload session's bearer: now the body, then the call */

            dispatch_admin_release(actx->call);
            actx->call = NULL;

            r->request_body_no_buffering = 1;

            rc = ngx_http_read_client_request_body(r,
                                         ngx_http_dispatch_admin_body_handler);

            /* what the content phase does with the handler's return */

            ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                         ? rc : NGX_DONE);
            ngx_http_run_posted_requests(c);
            return;
        }

        /* refused: its body is never read */

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            r->keepalive = 0;
        }
    }

    actx->answered = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "dispatch admin response: status %d, %uz bytes",
                   resp.status, resp.body.len);

    if (resp.status < 200 || resp.status > 599) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "dispatch admin: the engine answered status %d",
                      resp.status);

        rc = ngx_http_dispatch_admin_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           NGX_HTTP_DISPATCH_ADMIN_INTERNAL,
                                           "Internal error");

    } else {
        type.data = (u_char *) resp.content_type.data;
        type.len = resp.content_type.len;

        if (type.len == 0) {
            ngx_str_set(&type, "application/json");
        }

        /* the engine's buffers live until the release, in the cleanup */

        rc = ngx_http_dispatch_admin_send(r, resp.status, &type,
                                          (u_char *) resp.body.data,
                                          resp.body.len);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_dispatch_admin_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t code, const char *message)
{
    u_char           *body, *last;
    size_t            len;
    ngx_str_t         type;
    ngx_table_elt_t  *h;

    len = sizeof("{\"success\":false,\"errors\":[{\"code\":,\"message\":\"\"}],"
                 "\"messages\":[],\"result\":null}") - 1
          + NGX_INT_T_LEN + ngx_strlen(message);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(body, "{\"success\":false,\"errors\":[{\"code\":%ui,"
                             "\"message\":\"%s\"}],\"messages\":[],"
                             "\"result\":null}", code, message);

    if (status == NGX_HTTP_UNAUTHORIZED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Bearer");
    }

    ngx_str_set(&type, "application/json");

    return ngx_http_dispatch_admin_send(r, status, &type, body, last - body);
}


static ngx_int_t
ngx_http_dispatch_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, u_char *data, size_t len)
{
    r->headers_out.status = status;
    r->headers_out.content_type = *content_type;
    r->headers_out.content_type_len = content_type->len;
    r->headers_out.content_type_lowcase = NULL;

    return ngx_http_dispatch_send_body(r, data, len);
}


/* the request is going away: answered, or its client went away */

static void
ngx_http_dispatch_admin_cleanup(void *data)
{
    ngx_http_dispatch_admin_ctx_t  *actx = data;

    if (actx->base.wake.posted) {
        ngx_delete_posted_event(&actx->base.wake);
    }

    if (actx->call == NULL) {
        return;
    }

    if (actx->answered) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP,
                       actx->base.request->connection->log, 0,
                       "dispatch admin call released: answered");

    } else {
        ngx_log_error(NGX_LOG_INFO, actx->base.request->connection->log, 0,
                      "dispatch admin: the client went away before the "
                      "answer, the call is released");
    }

    dispatch_admin_release(actx->call);
    actx->call = NULL;
}


/*
 * Outbound connections for fetch(): host names through nginx's resolver (the
 * `resolver` directive of the http{} block), byte streams through
 * ngx_event_connect_peer and, for https:, OpenSSL with the certificate and
 * the host name verified. The engine decides where a connection may go
 * (dispatch_fetch_allow) before it asks; this file only carries bytes.
 *
 * Nothing here belongs to an http request: a fetch in ctx.waitUntil()
 * outlives its request, so memory comes from the worker's heap and lines go
 * to the cycle's log. Every asynchronous operation has its cancel: a
 * resolution resolve_cancel, a stream stream_close.
 */


#include "ngx_http_dispatch.h"


#define NGX_HTTP_DISPATCH_NAME_MAX  255    /* a DNS name, and an SNI name */


typedef struct {
    ngx_resolver_t               *resolver;   /* NULL: none at http{} */
    ngx_msec_t                    resolver_timeout;
#if (NGX_SSL)
    ngx_ssl_t                    *ssl;
#endif
} ngx_http_dispatch_fetch_t;


struct dispatch_resolve_s {
    ngx_resolver_ctx_t           *ctx;        /* while nginx resolves */
    ngx_event_t                   event;      /* the answer, posted */
    dispatch_resolve_handler_pt   handler;
    void                         *arg;

    int                           status;
    dispatch_addr_t              *addrs;
    size_t                        naddrs;

    unsigned                      in_handler:1;

    u_char                        name[NGX_HTTP_DISPATCH_NAME_MAX + 1];
    u_char                        error[256];
};


struct dispatch_stream_s {
    ngx_peer_connection_t         peer;
    ngx_sockaddr_t                sockaddr;
    ngx_str_t                     name;        /* "192.0.2.1:443" */
    u_char                        name_data[NGX_SOCKADDR_STRLEN];

    ngx_event_t                   notify;      /* FAILED from stream_open,
                                                  posted */
    dispatch_stream_handler_pt    handler;
    void                         *arg;

    unsigned                      tls:1;
    unsigned                      connected:1;
    unsigned                      failed:1;
    unsigned                      in_handler:1;
    unsigned                      closed:1;

    size_t                        sni_len;
    u_char                        sni[NGX_HTTP_DISPATCH_NAME_MAX + 1];
    u_char                        error[256];
};


static dispatch_resolve_t *ngx_http_dispatch_resolve(void *data,
    const char *name, size_t len, dispatch_resolve_handler_pt handler,
    void *arg, char *err, size_t err_len);
static void ngx_http_dispatch_resolve_handler(ngx_resolver_ctx_t *ctx);
static void ngx_http_dispatch_resolve_answer(ngx_event_t *ev);
static void ngx_http_dispatch_resolve_cancel(dispatch_resolve_t *r);

static dispatch_stream_t *ngx_http_dispatch_stream_open(void *data,
    const dispatch_addr_t *addr, int port, int tls, const char *sni,
    size_t sni_len, uint64_t timeout_ms, dispatch_stream_handler_pt handler,
    void *arg);
static void ngx_http_dispatch_stream_connect_handler(ngx_event_t *ev);
static void ngx_http_dispatch_stream_connected(dispatch_stream_t *s);
static void ngx_http_dispatch_stream_event_handler(ngx_event_t *ev);
static void ngx_http_dispatch_stream_notify(ngx_event_t *ev);
static void ngx_http_dispatch_stream_deliver(dispatch_stream_t *s,
    int events);
static void ngx_http_dispatch_stream_fail(dispatch_stream_t *s);
static long ngx_http_dispatch_stream_read(dispatch_stream_t *s, char *buf,
    size_t size);
static long ngx_http_dispatch_stream_write(dispatch_stream_t *s,
    const char *buf, size_t size);
static long ngx_http_dispatch_stream_io_failed(dispatch_stream_t *s,
    ngx_err_t err, const char *what);
static const char *ngx_http_dispatch_stream_error(dispatch_stream_t *s);
static void ngx_http_dispatch_stream_close(dispatch_stream_t *s);
static int ngx_http_dispatch_stream_shutdown(dispatch_stream_t *s);
static int ngx_http_dispatch_stream_starttls(dispatch_stream_t *s,
    const char *sni, size_t sni_len, uint64_t timeout_ms);
#if (NGX_SSL)
static void ngx_http_dispatch_stream_starttls_handler(ngx_event_t *ev);
#endif
static void ngx_http_dispatch_stream_close_connection(dispatch_stream_t *s);
static void ngx_http_dispatch_stream_close_finally(ngx_connection_t *c);

#if (NGX_SSL)
static void ngx_http_dispatch_stream_ssl_start(dispatch_stream_t *s);
static ngx_int_t ngx_http_dispatch_stream_ssl_name(dispatch_stream_t *s);
static void ngx_http_dispatch_stream_ssl_handshaked(ngx_connection_t *c);
static ngx_ssl_t *ngx_http_dispatch_fetch_ssl(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf);
#endif


/* this worker's: set by ngx_http_dispatch_fetch_init_process() */
static ngx_http_dispatch_fetch_t  ngx_http_dispatch_fetch;


/*
 * The log of the connections fetch() and connect() open: the error log,
 * but what nginx says there at crit goes at info. The peer is a tenant's
 * choice, and OpenSSL's complaints about what it sends (a handshake of
 * junk: "packet length too long") are crit in ngx_ssl_connection_error()
 * whatever c->log_error says; the script is told why it failed. Static: a
 * TLS shutdown may outlive the stream.
 */

static ngx_log_t  ngx_http_dispatch_stream_log_object;


static void
ngx_http_dispatch_stream_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len)
{
    u_char  *p, *last;

    /* "TIME [LEVEL] PID#TID: MESSAGE" LF, as ngx_log_error_core() made it */

    last = buf + len;

    while (last > buf && (last[-1] == LF || last[-1] == CR)) {
        last--;
    }

    p = ngx_strlchr(buf, last, ']');

    if (p != NULL) {
        p = ngx_strlchr(p, last, ':');
    }

    p = (p != NULL && last - p >= 2) ? p + 2 : buf;

    if (level == NGX_LOG_CRIT) {
        level = NGX_LOG_INFO;
    }

    ngx_log_error(level, ngx_cycle->log, 0, "%*s", (size_t) (last - p), p);
}


static ngx_log_t *
ngx_http_dispatch_stream_log(void)
{
    ngx_log_t  *log;

    log = &ngx_http_dispatch_stream_log_object;

    *log = *ngx_cycle->log;
    log->writer = ngx_http_dispatch_stream_log_writer;
    log->wdata = NULL;
    log->handler = NULL;
    log->data = NULL;
    log->next = NULL;

    return log;
}


/* ---- configuration ---------------------------------------------------------- */


/* dispatch_fetch_allow CIDR[:PORT] ...; lines add up */

char *
ngx_http_dispatch_fetch_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    char         err[256], **entry;
    u_char      *p;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (dmcf->fetch_allow == NULL) {
        dmcf->fetch_allow = ngx_array_create(cf->pool, 4, sizeof(char *));
        if (dmcf->fetch_allow == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (!dispatch_fetch_allow_valid((const char *) value[i].data,
                                        value[i].len, err, sizeof(err)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid entry \"%V\" in \"%V\": %s",
                               &value[i], &cmd->name, err);
            return NGX_CONF_ERROR;
        }

        p = ngx_pnalloc(cf->pool, value[i].len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        *ngx_cpymem(p, value[i].data, value[i].len) = '\0';

        entry = ngx_array_push(dmcf->fetch_allow);
        if (entry == NULL) {
            return NGX_CONF_ERROR;
        }

        *entry = (char *) p;
    }

    return NGX_CONF_OK;
}


/*
 * dispatch_fetch_trusted_certificate FILE; the CA certificates fetch()
 * trusts instead of the system's. Loaded here, so that `nginx -t` names a
 * file it cannot read or that holds no certificate, with file:line.
 */

char *
ngx_http_dispatch_fetch_trusted_certificate(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

#if (NGX_SSL)
    ngx_str_t        *value;
    ngx_ssl_t        *ssl;
    ngx_file_info_t   fi;
    unsigned long     e;

    if (dmcf->fetch_trusted_certificate.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    dmcf->fetch_trusted_certificate = value[1];

    if (ngx_conf_full_name(cf->cycle, &dmcf->fetch_trusted_certificate, 1)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(dmcf->fetch_trusted_certificate.data, &fi)
        == NGX_FILE_ERROR)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read \"%V\" of \"%V\"",
                           &dmcf->fetch_trusted_certificate, &cmd->name);
        return NGX_CONF_ERROR;
    }

    ssl = ngx_http_dispatch_fetch_ssl(cf, dmcf);
    if (ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_load_verify_locations(ssl->ctx,
                                 (char *) dmcf->fetch_trusted_certificate.data,
                                 NULL)
        == 0)
    {
        e = ERR_peek_last_error();
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no certificate could be loaded from \"%V\" of "
                           "\"%V\": %s",
                           &dmcf->fetch_trusted_certificate, &cmd->name,
                           e ? ERR_reason_error_string(e) : "unknown error");
        ERR_clear_error();
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    (void) dmcf;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" needs nginx built with OpenSSL", &cmd->name);
    return NGX_CONF_ERROR;

#endif
}


/*
 * At the end of http{}: the TLS client context, when some location
 * dispatches. Without dispatch_fetch_trusted_certificate it trusts the
 * system's store, which nginx itself never loads.
 */

char *
ngx_http_dispatch_fetch_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf)
{
    ngx_conf_init_msec_value(dmcf->fetch_connect_timeout, 10000);
    ngx_conf_init_msec_value(dmcf->fetch_send_timeout, 60000);
    ngx_conf_init_msec_value(dmcf->fetch_read_timeout, 60000);

#if (NGX_SSL)

    if (!dmcf->enabled || dmcf->fetch_trusted_certificate.data) {
        return NGX_CONF_OK;
    }

    if (ngx_http_dispatch_fetch_ssl(cf, dmcf) == NULL) {
        return NGX_CONF_ERROR;
    }

    if (SSL_CTX_set_default_verify_paths(dmcf->fetch_ssl->ctx) == 0) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "dispatch: SSL_CTX_set_default_verify_paths() failed");
        return NGX_CONF_ERROR;
    }

    ERR_clear_error();

#endif

    return NGX_CONF_OK;
}


#if (NGX_SSL)

/*
 * TLS 1.2 and 1.3, partial writes from a buffer that may move between
 * retries. OpenSSL verifies the chain and the host name during the
 * handshake; as nginx's proxy_ssl_verify does, the handshake goes on and
 * the outcome is checked after it, before a byte of the request is sent
 * (a refusal inside the handshake is logged at "crit" by nginx, and any
 * tenant could fill the log with them).
 */

static int
ngx_http_dispatch_fetch_verify(int ok, X509_STORE_CTX *store)
{
    return 1;   /* the outcome is read with SSL_get_verify_result() */
}


static ngx_ssl_t *
ngx_http_dispatch_fetch_ssl(ngx_conf_t *cf, ngx_http_dispatch_main_conf_t *dmcf)
{
    ngx_ssl_t           *ssl;
    ngx_pool_cleanup_t  *cln;

    if (dmcf->fetch_ssl) {
        return dmcf->fetch_ssl;
    }

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NULL;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NULL;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    SSL_CTX_set_min_proto_version(ssl->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ssl->ctx, SSL_VERIFY_PEER,
                       ngx_http_dispatch_fetch_verify);
    SSL_CTX_set_mode(ssl->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                               |SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    dmcf->fetch_ssl = ssl;

    return ssl;
}

#endif


/*
 * In each worker: the resolver of the http{} block, the TLS context, the
 * fetch part of the engine's conf and the host's fetch functions.
 */

void
ngx_http_dispatch_fetch_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf, dispatch_engine_conf_t *conf,
    dispatch_host_t *host)
{
    ngx_uint_t                 n;
    ngx_http_conf_ctx_t       *hctx;
    ngx_http_core_loc_conf_t  *clcf;

    /*
     * The http{} block's own core location conf: its resolver is the one
     * of the `resolver` directive at http level, or the empty one nginx
     * makes there for servers to inherit (ngx_resolve_start() then says
     * NGX_NO_RESOLVER).
     */

    hctx = (ngx_http_conf_ctx_t *) ngx_get_conf(cycle->conf_ctx,
                                                 ngx_http_module);
    clcf = hctx->loc_conf[ngx_http_core_module.ctx_index];

    ngx_http_dispatch_fetch.resolver = clcf->resolver;
    ngx_http_dispatch_fetch.resolver_timeout =
        (clcf->resolver_timeout == NGX_CONF_UNSET_MSEC)
        ? 30000 : clcf->resolver_timeout;

#if (NGX_SSL)
    ngx_http_dispatch_fetch.ssl = dmcf->fetch_ssl;
#endif

    if (dmcf->fetch_allow) {
        conf->fetch_allow = (const char *const *) dmcf->fetch_allow->elts;
        conf->nfetch_allow = dmcf->fetch_allow->nelts;
    }

    conf->fetch_connect_timeout_ms = dmcf->fetch_connect_timeout;
    conf->fetch_send_timeout_ms = dmcf->fetch_send_timeout;
    conf->fetch_read_timeout_ms = dmcf->fetch_read_timeout;

    /* leave worker_connections room for the clients */

    n = dmcf->fetch_connections;

    if (n == NGX_CONF_UNSET_UINT) {
        n = ngx_max(cycle->connection_n / 4, 16);

    } else if (n >= cycle->connection_n) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "dispatch_fetch_connections %ui leaves no room for "
                      "clients in worker_connections %ui",
                      n, cycle->connection_n);
    }

    conf->fetch_max_connections = n;

    host->resolve = ngx_http_dispatch_resolve;
    host->resolve_cancel = ngx_http_dispatch_resolve_cancel;
    host->stream_open = ngx_http_dispatch_stream_open;
    host->stream_read = ngx_http_dispatch_stream_read;
    host->stream_write = ngx_http_dispatch_stream_write;
    host->stream_error = ngx_http_dispatch_stream_error;
    host->stream_close = ngx_http_dispatch_stream_close;
    host->stream_shutdown = ngx_http_dispatch_stream_shutdown;
    host->stream_starttls = ngx_http_dispatch_stream_starttls;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "dispatch fetch: resolver %p, %uz allowances, "
                   "%uz connections, connect timeout %M",
                   ngx_http_dispatch_fetch.resolver, conf->nfetch_allow,
                   conf->fetch_max_connections,
                   (ngx_msec_t) conf->fetch_connect_timeout_ms);
}


/* ---- resolve --------------------------------------------------------------- */


static dispatch_resolve_t *
ngx_http_dispatch_resolve(void *data, const char *name, size_t len,
    dispatch_resolve_handler_pt handler, void *arg, char *err, size_t err_len)
{
    dispatch_resolve_t  *r;
    ngx_resolver_ctx_t  *ctx;

    if (len == 0 || len > NGX_HTTP_DISPATCH_NAME_MAX) {
        ngx_cpystrn((u_char *) err, (u_char *) "invalid host name", err_len);
        return NULL;
    }

    ctx = ngx_http_dispatch_fetch.resolver
          ? ngx_resolve_start(ngx_http_dispatch_fetch.resolver, NULL)
          : NGX_NO_RESOLVER;

    if (ctx == NGX_NO_RESOLVER) {
        ngx_cpystrn((u_char *) err, (u_char *)
                    "no resolver: set nginx's `resolver` directive (http "
                    "level) for fetch() to resolve host names", err_len);
        return NULL;
    }

    if (ctx == NULL) {
        ngx_cpystrn((u_char *) err, (u_char *) "out of memory", err_len);
        return NULL;
    }

    r = ngx_calloc(sizeof(dispatch_resolve_t), ngx_cycle->log);
    if (r == NULL) {
        ngx_resolve_name_done(ctx);
        ngx_cpystrn((u_char *) err, (u_char *) "out of memory", err_len);
        return NULL;
    }

    /* the resolver lowercases the name in place: our own copy */

    ngx_memcpy(r->name, name, len);

    r->handler = handler;
    r->arg = arg;
    r->event.handler = ngx_http_dispatch_resolve_answer;
    r->event.data = r;
    r->event.log = ngx_cycle->log;

    ctx->name.data = r->name;
    ctx->name.len = len;
    ctx->handler = ngx_http_dispatch_resolve_handler;
    ctx->data = r;
    ctx->timeout = ngx_http_dispatch_fetch.resolver_timeout;

    r->ctx = ctx;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch resolve \"%*s\": %p", len, name, r);

    /* an answer from the cache comes back inside: the handler posts it */

    if (ngx_resolve_name(ctx) != NGX_OK) {
        /* nginx freed ctx */
        ngx_free(r);
        ngx_cpystrn((u_char *) err, (u_char *) "cannot start resolving",
                    err_len);
        return NULL;
    }

    return r;
}


/* nginx's answer, possibly from inside ngx_resolve_name(): kept and posted */

static void
ngx_http_dispatch_resolve_handler(ngx_resolver_ctx_t *ctx)
{
    u_char              *p;
    ngx_uint_t           i, n;
    dispatch_addr_t     *a;
    struct sockaddr     *sa;
    dispatch_resolve_t  *r;

    r = ctx->data;

    if (ctx->state) {
        r->status = (ctx->state == NGX_RESOLVE_NXDOMAIN)
                    ? DISPATCH_RESOLVE_NOT_FOUND : DISPATCH_RESOLVE_FAILED;
        p = ngx_snprintf(r->error, sizeof(r->error) - 1,
                         "%V could not be resolved (%i: %s)", &ctx->name,
                         ctx->state, ngx_resolver_strerror(ctx->state));
        *p = '\0';
        goto done;
    }

    n = 0;

    for (i = 0; i < ctx->naddrs; i++) {
        sa = ctx->addrs[i].sockaddr;

        if (sa->sa_family == AF_INET
#if (NGX_HAVE_INET6)
            || sa->sa_family == AF_INET6
#endif
           )
        {
            n++;
        }
    }

    if (n == 0) {
        r->status = DISPATCH_RESOLVE_NOT_FOUND;
        p = ngx_snprintf(r->error, sizeof(r->error) - 1,
                         "%V has no address", &ctx->name);
        *p = '\0';
        goto done;
    }

    r->addrs = ngx_alloc(n * sizeof(dispatch_addr_t), ngx_cycle->log);
    if (r->addrs == NULL) {
        r->status = DISPATCH_RESOLVE_FAILED;
        ngx_cpystrn(r->error, (u_char *) "out of memory", sizeof(r->error));
        goto done;
    }

    for (i = 0; i < ctx->naddrs; i++) {
        sa = ctx->addrs[i].sockaddr;
        a = &r->addrs[r->naddrs];
        ngx_memzero(a, sizeof(dispatch_addr_t));

        if (sa->sa_family == AF_INET) {
            a->family = AF_INET;
            ngx_memcpy(a->addr, &((struct sockaddr_in *) sa)->sin_addr, 4);
            r->naddrs++;

#if (NGX_HAVE_INET6)
        } else if (sa->sa_family == AF_INET6) {
            a->family = AF_INET6;
            ngx_memcpy(a->addr, &((struct sockaddr_in6 *) sa)->sin6_addr, 16);
            r->naddrs++;
#endif
        }
    }

done:

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch resolved \"%V\": state %i, %uz addresses",
                   &ctx->name, ctx->state, r->naddrs);

    ngx_resolve_name_done(ctx);
    r->ctx = NULL;

    ngx_post_event(&r->event, &ngx_posted_events);
}


static void
ngx_http_dispatch_resolve_answer(ngx_event_t *ev)
{
    dispatch_resolve_t  *r;

    r = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch resolve answer: %p, status %d", r, r->status);

    r->in_handler = 1;

    r->handler(r->arg, r->status,
               r->status ? (const char *) r->error : NULL,
               r->addrs, r->naddrs);

    if (r->addrs) {
        ngx_free(r->addrs);
    }

    ngx_free(r);
}


/* never a callback afterwards; once answered, r is gone */

static void
ngx_http_dispatch_resolve_cancel(dispatch_resolve_t *r)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch resolve cancel: %p", r);

    if (r->in_handler) {
        return;  /* freed when its handler returns */
    }

    if (r->ctx) {
        ngx_resolve_name_done(r->ctx);
    }

    if (r->event.posted) {
        ngx_delete_posted_event(&r->event);
    }

    if (r->addrs) {
        ngx_free(r->addrs);
    }

    ngx_free(r);
}


/* ---- streams ---------------------------------------------------------------- */


static dispatch_stream_t *
ngx_http_dispatch_stream_open(void *data, const dispatch_addr_t *addr,
    int port, int tls, const char *sni, size_t sni_len, uint64_t timeout_ms,
    dispatch_stream_handler_pt handler, void *arg)
{
    u_char             *p;
    ngx_int_t           rc;
    ngx_err_t           err;
    socklen_t           socklen;
    ngx_connection_t   *c;
    dispatch_stream_t  *s;

    if (port < 1 || port > 65535 || sni_len > NGX_HTTP_DISPATCH_NAME_MAX) {
        return NULL;
    }

    s = ngx_calloc(sizeof(dispatch_stream_t), ngx_cycle->log);
    if (s == NULL) {
        return NULL;
    }

    switch (addr->family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        s->sockaddr.sockaddr_in6.sin6_family = AF_INET6;
        ngx_memcpy(&s->sockaddr.sockaddr_in6.sin6_addr, addr->addr, 16);
        socklen = sizeof(struct sockaddr_in6);
        break;
#endif

    case AF_INET:
        s->sockaddr.sockaddr_in.sin_family = AF_INET;
        ngx_memcpy(&s->sockaddr.sockaddr_in.sin_addr, addr->addr, 4);
        socklen = sizeof(struct sockaddr_in);
        break;

    default:
        ngx_free(s);
        return NULL;
    }

    ngx_inet_set_port(&s->sockaddr.sockaddr, (in_port_t) port);

    s->name.data = s->name_data;
    s->name.len = ngx_sock_ntop(&s->sockaddr.sockaddr, socklen, s->name_data,
                                NGX_SOCKADDR_STRLEN, 1);

    ngx_memcpy(s->sni, sni, sni_len);
    s->sni_len = sni_len;
    s->tls = tls ? 1 : 0;
    s->handler = handler;
    s->arg = arg;

    s->notify.handler = ngx_http_dispatch_stream_notify;
    s->notify.data = s;
    s->notify.log = ngx_cycle->log;

    s->peer.sockaddr = &s->sockaddr.sockaddr;
    s->peer.socklen = socklen;
    s->peer.name = &s->name;
    s->peer.get = ngx_event_get_peer;
    s->peer.log = ngx_http_dispatch_stream_log();
    s->peer.log_error = NGX_ERROR_INFO;   /* a tenant's upstream resetting
                                             is no alert */

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream open %V tls:%d sni:\"%*s\": %p",
                   &s->name, tls, sni_len, sni, s);
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream connect timeout %uL", timeout_ms);

#if !(NGX_SSL)
    if (s->tls) {
        ngx_cpystrn(s->error, (u_char *) "https: needs nginx built with "
                    "OpenSSL", sizeof(s->error));
        s->failed = 1;
        ngx_post_event(&s->notify, &ngx_posted_events);
        return s;
    }
#endif

    rc = ngx_event_connect_peer(&s->peer);
    err = ngx_socket_errno;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream connect %V: %i", &s->name, rc);

    if (rc == NGX_ERROR || rc == NGX_BUSY) {
        /* no socket or no free connection: worker_connections */
        ngx_free(s);
        return NULL;
    }

    if (rc == NGX_DECLINED) {
        /* refused at once; nginx has closed the socket */
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "connect() to %V failed (%d: %s)", &s->name, err,
                         strerror(err));
        *p = '\0';
        s->failed = 1;
        ngx_post_event(&s->notify, &ngx_posted_events);
        return s;
    }

    c = s->peer.connection;
    c->data = s;
    c->read->handler = ngx_http_dispatch_stream_connect_handler;
    c->write->handler = ngx_http_dispatch_stream_connect_handler;

    /* covers the TCP connect and the TLS handshake */

    ngx_add_timer(c->write, timeout_ms ? (ngx_msec_t) timeout_ms : 10000);

    if (rc == NGX_OK) {
        /* connected at once: go on from the event loop */
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return s;
}


static void
ngx_http_dispatch_stream_connect_handler(ngx_event_t *ev)
{
    int                 err;
    u_char             *p;
    socklen_t           len;
    ngx_connection_t   *c;
    dispatch_stream_t  *s;

    c = ev->data;
    s = c->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream connect handler %V: timedout %d",
                   &s->name, (int) ev->timedout);

    if (ev->timedout) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "connecting to %V timed out", &s->name);
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, err,
                      "dispatch: fetch() could not connect to %V", &s->name);
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "connect() to %V failed (%d: %s)", &s->name, err,
                         strerror(err));
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

#if (NGX_SSL)
    if (s->tls) {
        ngx_http_dispatch_stream_ssl_start(s);
        return;
    }
#endif

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_dispatch_stream_connected(s);
}


static void
ngx_http_dispatch_stream_connected(dispatch_stream_t *s)
{
    ngx_connection_t  *c;

    c = s->peer.connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream connected %V", &s->name);

    s->connected = 1;

    c->read->handler = ngx_http_dispatch_stream_event_handler;
    c->write->handler = ngx_http_dispatch_stream_event_handler;

    /*
     * OpenSSL may hold bytes the socket will not announce again: the
     * engine is told it may read (it reads until AGAIN)
     */

    if (c->ssl && c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    ngx_http_dispatch_stream_deliver(s, DISPATCH_STREAM_CONNECTED);
}


#if (NGX_SSL)

static void
ngx_http_dispatch_stream_ssl_start(dispatch_stream_t *s)
{
    u_char            *p;
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = s->peer.connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream TLS handshake %V", &s->name);

    if (ngx_http_dispatch_fetch.ssl == NULL || s->sni_len == 0) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "TLS to %V: %s", &s->name,
                         s->sni_len ? "no TLS context in this worker"
                                    : "no host name to verify");
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    /* ngx_ssl_create_connection() allocates from the connection's pool */

    c->pool = ngx_create_pool(512, ngx_cycle->log);
    if (c->pool == NULL) {
        goto failed;
    }

    if (ngx_ssl_create_connection(ngx_http_dispatch_fetch.ssl, c,
                                  NGX_SSL_CLIENT)
        != NGX_OK)
    {
        goto failed;
    }

    c->sendfile = 0;

    if (ngx_http_dispatch_stream_ssl_name(s) != NGX_OK) {
        goto failed;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        /* the connect timer on c->write goes on */
        c->ssl->handler = ngx_http_dispatch_stream_ssl_handshaked;
        return;
    }

    ngx_http_dispatch_stream_ssl_handshaked(c);
    return;

failed:

    p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                     "TLS to %V could not be set up", &s->name);
    *p = '\0';
    ngx_http_dispatch_stream_fail(s);
}


/*
 * SNI and the name the certificate must carry; an IP literal is not sent
 * as SNI (RFC 6066) and is matched against the certificate's IP addresses.
 */

static ngx_int_t
ngx_http_dispatch_stream_ssl_name(dispatch_stream_t *s)
{
    SSL                 *ssl;
    u_char              *name, *last;
    X509_VERIFY_PARAM   *param;
    u_char               host[NGX_HTTP_DISPATCH_NAME_MAX + 1];

    ssl = s->peer.connection->ssl->connection;
    param = SSL_get0_param(ssl);

    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);

    /* "[::1]" as a URL has it: the address inside */

    name = s->sni;
    last = s->sni + s->sni_len;

    if (s->sni_len > 2 && *name == '[' && last[-1] == ']') {
        name++;
        last--;
    }

    last = ngx_cpymem(host, name, last - name);
    *last = '\0';
    name = host;

    if (ngx_strlchr(name, last, ':') != NULL
        || ngx_inet_addr(name, last - name) != INADDR_NONE)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "dispatch stream TLS verifies the address \"%s\"",
                       name);

        if (X509_VERIFY_PARAM_set1_ip_asc(param, (char *) name) != 1) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream TLS server name \"%s\"", name);

    if (X509_VERIFY_PARAM_set1_host(param, (char *) name, last - name) != 1) {
        return NGX_ERROR;
    }

    if (SSL_set_tlsext_host_name(ssl, (char *) name) == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_dispatch_stream_ssl_handshaked(ngx_connection_t *c)
{
    long                rc;
    u_char             *p;
    X509               *cert;
    dispatch_stream_t  *s;

    s = c->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream TLS handshake %V done: %d",
                   &s->name, (int) c->ssl->handshaked);

    if (c->write->timedout) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "TLS handshake with %V timed out", &s->name);
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    /*
     * OpenSSL keeps the verification's outcome (X509_V_OK before it got
     * that far); nothing has been sent over the connection yet
     */

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "the TLS certificate of %*s (%V) was refused: %s",
                         s->sni_len, s->sni, &s->name,
                         X509_verify_cert_error_string(rc));
        *p = '\0';
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0, "dispatch: fetch(): %s",
                      s->error);
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    if (!c->ssl->handshaked) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "the TLS handshake with %*s (%V) failed",
                         s->sni_len, s->sni, &s->name);
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "%*s (%V) sent no TLS certificate",
                         s->sni_len, s->sni, &s->name);
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    X509_free(cert);

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_dispatch_stream_connected(s);
}

#endif


/* either direction, once connected (nginx's TLS may hand one the other) */

static void
ngx_http_dispatch_stream_event_handler(ngx_event_t *ev)
{
    ngx_connection_t   *c;
    dispatch_stream_t  *s;

    c = ev->data;
    s = c->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream %V %s", &s->name,
                   ev->write ? "writable" : "readable");

    ngx_http_dispatch_stream_deliver(s, ev->write ? DISPATCH_STREAM_WRITABLE
                                                  : DISPATCH_STREAM_READABLE);
}


/* a failure found inside stream_open(), told from the event loop */

static void
ngx_http_dispatch_stream_notify(ngx_event_t *ev)
{
    dispatch_stream_t  *s;

    s = ev->data;

    ngx_http_dispatch_stream_deliver(s, DISPATCH_STREAM_FAILED);
}


/* the engine may close the stream from its handler: s is freed after it */

static void
ngx_http_dispatch_stream_deliver(dispatch_stream_t *s, int events)
{
    s->in_handler = 1;
    s->handler(s->arg, events);
    s->in_handler = 0;

    if (s->closed) {
        ngx_free(s);
    }
}


/* s->error says why; the connection goes at once, s with stream_close() */

static void
ngx_http_dispatch_stream_fail(dispatch_stream_t *s)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream %V failed: %s", &s->name, s->error);

    s->failed = 1;

    ngx_http_dispatch_stream_close_connection(s);
    ngx_http_dispatch_stream_deliver(s, DISPATCH_STREAM_FAILED);
}


static long
ngx_http_dispatch_stream_read(dispatch_stream_t *s, char *buf, size_t size)
{
    ssize_t            n;
    ngx_err_t          err;
    ngx_connection_t  *c;

    if (!s->connected || s->failed || s->closed) {
        return ngx_http_dispatch_stream_io_failed(s, 0, "reading from");
    }

    c = s->peer.connection;

    n = c->recv(c, (u_char *) buf, size);
    err = ngx_socket_errno;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream read %V: %z of %uz", &s->name, n, size);

    if (n >= 0) {
        return (long) n;
    }

    if (n == NGX_AGAIN) {
        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            return ngx_http_dispatch_stream_io_failed(s, 0, "reading from");
        }

        return DISPATCH_STREAM_AGAIN;
    }

    return ngx_http_dispatch_stream_io_failed(s, c->ssl ? 0 : err,
                                              "reading from");
}


static long
ngx_http_dispatch_stream_write(dispatch_stream_t *s, const char *buf,
    size_t size)
{
    ssize_t            n;
    ngx_err_t          err;
    ngx_connection_t  *c;

    if (!s->connected || s->failed || s->closed) {
        return ngx_http_dispatch_stream_io_failed(s, 0, "writing to");
    }

    if (size == 0) {
        return 0;
    }

    c = s->peer.connection;

    n = c->send(c, (u_char *) buf, size);
    err = ngx_socket_errno;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream write %V: %z of %uz", &s->name, n, size);

    if (n > 0) {
        return (long) n;
    }

    if (n == NGX_AGAIN || n == 0) {
        if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
            return ngx_http_dispatch_stream_io_failed(s, 0, "writing to");
        }

        return DISPATCH_STREAM_AGAIN;
    }

    return ngx_http_dispatch_stream_io_failed(s, c->ssl ? 0 : err,
                                              "writing to");
}


/* "reading from 192.0.2.1:80 failed (104: Connection reset by peer)" */

static long
ngx_http_dispatch_stream_io_failed(dispatch_stream_t *s, ngx_err_t err,
    const char *what)
{
    u_char  *p;

    if (s->error[0] && (s->failed || s->closed)) {
        return DISPATCH_STREAM_ERROR;   /* why it failed is said already */
    }

    if (err) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "%s %V failed (%d: %s)", what, &s->name, err,
                         strerror(err));

    } else {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1, "%s %V failed",
                         what, &s->name);
    }

    *p = '\0';

    return DISPATCH_STREAM_ERROR;
}


static const char *
ngx_http_dispatch_stream_error(dispatch_stream_t *s)
{
    return s->error[0] ? (const char *) s->error : "connection failed";
}


/* from anywhere, the stream's own handler included: no callback after it */

static void
ngx_http_dispatch_stream_close(dispatch_stream_t *s)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream close %V: %p", &s->name, s);

    if (s->closed) {
        return;
    }

    s->closed = 1;

    if (s->notify.posted) {
        ngx_delete_posted_event(&s->notify);
    }

    ngx_http_dispatch_stream_close_connection(s);

    if (!s->in_handler) {
        ngx_free(s);
    }
}


/* a socket's writable side closed: the peer reads its end, we read on */

static int
ngx_http_dispatch_stream_shutdown(dispatch_stream_t *s)
{
    ngx_connection_t  *c;

    if (!s->connected || s->failed || s->closed) {
        (void) ngx_http_dispatch_stream_io_failed(s, 0, "shutting down");
        return -1;
    }

    c = s->peer.connection;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream shutdown %V", &s->name);

#if (NGX_SSL)
    if (c->ssl) {
        /* close_notify; SSL_read goes on until the peer's own */

        ERR_clear_error();

        if (SSL_shutdown(c->ssl->connection) < 0) {
            /* not sent yet: no FIN after it, the final close sends it */
            ERR_clear_error();
            return 0;
        }
    }
#endif

    if (ngx_shutdown_socket(c->fd, NGX_WRITE_SHUTDOWN) == -1) {
        (void) ngx_http_dispatch_stream_io_failed(s, ngx_socket_errno,
                                                  "shutting down");
        return -1;
    }

    return 0;
}


/*
 * STARTTLS: the plain stream becomes TLS, from the event loop (the handler
 * is never called from inside a stream_* call); the handshake's own timer
 * is the connect timer, as for a stream opened with TLS.
 */

static int
ngx_http_dispatch_stream_starttls(dispatch_stream_t *s, const char *sni,
    size_t sni_len, uint64_t timeout_ms)
{
#if (NGX_SSL)
    ngx_connection_t  *c;

    if (!s->connected || s->failed || s->closed || s->tls || sni_len == 0
        || sni_len > NGX_HTTP_DISPATCH_NAME_MAX)
    {
        return -1;
    }

    c = s->peer.connection;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch stream starttls %V sni:\"%*s\"",
                   &s->name, sni_len, sni);

    ngx_memcpy(s->sni, sni, sni_len);
    s->sni_len = sni_len;
    s->tls = 1;
    s->connected = 0;

    c->read->handler = ngx_http_dispatch_stream_starttls_handler;
    c->write->handler = ngx_http_dispatch_stream_starttls_handler;

    ngx_add_timer(c->write, timeout_ms ? (ngx_msec_t) timeout_ms : 10000);
    ngx_post_event(c->write, &ngx_posted_events);

    return 0;
#else
    return -1;
#endif
}


#if (NGX_SSL)

static void
ngx_http_dispatch_stream_starttls_handler(ngx_event_t *ev)
{
    u_char             *p;
    ngx_connection_t   *c;
    dispatch_stream_t  *s;

    c = ev->data;
    s = c->data;

    if (c->ssl) {
        return;    /* started: OpenSSL's handlers go on */
    }

    if (ev->timedout) {
        p = ngx_snprintf(s->error, sizeof(s->error) - 1,
                         "TLS handshake with %V timed out", &s->name);
        *p = '\0';
        ngx_http_dispatch_stream_fail(s);
        return;
    }

    ngx_http_dispatch_stream_ssl_start(s);
}

#endif


/*
 * The connection leaves the stream at once. TLS says close_notify without
 * waiting for the peer's; should even that have to wait for the socket,
 * nginx finishes it and closes the connection on its own.
 */

static void
ngx_http_dispatch_stream_close_connection(dispatch_stream_t *s)
{
    ngx_connection_t  *c;

    c = s->peer.connection;

    if (c == NULL) {
        return;
    }

    s->peer.connection = NULL;
    c->data = NULL;

#if (NGX_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;

        if (!s->connected) {
            c->ssl->no_send_shutdown = 1;
        }

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "dispatch stream %V: TLS shutdown goes on",
                           &s->name);
            c->ssl->handler = ngx_http_dispatch_stream_close_finally;
            return;
        }
    }
#endif

    ngx_http_dispatch_stream_close_finally(c);
}


static void
ngx_http_dispatch_stream_close_finally(ngx_connection_t *c)
{
    ngx_pool_t  *pool;

    pool = c->pool;

    c->destroyed = 1;
    ngx_close_connection(c);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}

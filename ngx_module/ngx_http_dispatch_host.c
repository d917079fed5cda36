
/*
 * The host: nginx-backed implementations of what the engine asks of an
 * event loop (watch an fd, run a timer, wake a request, log a line), and
 * the penalty box and the script generation in the module's shared-memory
 * zone.
 */


#include "ngx_http_dispatch.h"


struct dispatch_io_s {
    ngx_connection_t           *connection;
    dispatch_io_handler_pt      handler;
    void                       *arg;
};


struct dispatch_timer_s {
    ngx_event_t                 event;
    dispatch_timer_handler_pt   handler;
    void                       *arg;
};


static dispatch_io_t *ngx_http_dispatch_io_open(void *data, int fd,
    dispatch_io_handler_pt handler, void *arg);
static int ngx_http_dispatch_io_want(dispatch_io_t *io, int read, int write);
static void ngx_http_dispatch_io_close(dispatch_io_t *io);
static void ngx_http_dispatch_io_read_handler(ngx_event_t *ev);
static void ngx_http_dispatch_io_write_handler(ngx_event_t *ev);
static dispatch_timer_t *ngx_http_dispatch_timer_create(void *data,
    dispatch_timer_handler_pt handler, void *arg, int cancelable);
static void ngx_http_dispatch_timer_start(dispatch_timer_t *t, uint64_t msec);
static void ngx_http_dispatch_timer_stop(dispatch_timer_t *t);
static void ngx_http_dispatch_timer_destroy(dispatch_timer_t *t);
static void ngx_http_dispatch_timer_handler(ngx_event_t *ev);

/* how many of the engine's timer handlers are running (nested: one may
 * start another's work) */
static ngx_uint_t  ngx_http_dispatch_timers_firing;
static void ngx_http_dispatch_wake(void *data, void *request_ctx);
static int ngx_http_dispatch_exiting(void *data);
static void ngx_http_dispatch_log(void *data, void *request_ctx,
    dispatch_log_level_e level, const char *msg, size_t len);
static size_t ngx_http_dispatch_request_id(void *data, void *request_ctx,
    char *buf, size_t size);


/* host->data is the zone, or NULL: the penalty box and the generation */

void
ngx_http_dispatch_host_init(dispatch_host_t *host, ngx_shm_zone_t *zone)
{
    ngx_memzero(host, sizeof(dispatch_host_t));

    host->data = zone;
    host->io_open = ngx_http_dispatch_io_open;
    host->io_want = ngx_http_dispatch_io_want;
    host->io_close = ngx_http_dispatch_io_close;
    host->timer_create = ngx_http_dispatch_timer_create;
    host->timer_start = ngx_http_dispatch_timer_start;
    host->timer_stop = ngx_http_dispatch_timer_stop;
    host->timer_destroy = ngx_http_dispatch_timer_destroy;
    host->wake = ngx_http_dispatch_wake;
    host->log = ngx_http_dispatch_log;
    host->request_id = ngx_http_dispatch_request_id;
    host->quarantine = zone ? ngx_http_dispatch_quarantine : NULL;
    host->quarantined = zone ? ngx_http_dispatch_quarantined : NULL;
    host->quarantine_lift = zone ? ngx_http_dispatch_quarantine_lift : NULL;
    host->generation = zone ? ngx_http_dispatch_generation : NULL;
    host->generation_bump = zone ? ngx_http_dispatch_generation_bump : NULL;
    host->exiting = ngx_http_dispatch_exiting;
}


static dispatch_io_t *
ngx_http_dispatch_io_open(void *data, int fd, dispatch_io_handler_pt handler,
    void *arg)
{
    dispatch_io_t     *io;
    ngx_connection_t  *c;

    io = ngx_calloc(sizeof(dispatch_io_t), ngx_cycle->log);
    if (io == NULL) {
        return NULL;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        ngx_free(io);
        return NULL;
    }

    c->data = io;
    c->read->handler = ngx_http_dispatch_io_read_handler;
    c->write->handler = ngx_http_dispatch_io_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    io->connection = c;
    io->handler = handler;
    io->arg = arg;

    return io;
}


/*
 * Both directions are level-triggered: a reply larger than one read must
 * wake us again without new data arriving.
 */

static int
ngx_http_dispatch_io_want(dispatch_io_t *io, int read, int write)
{
    ngx_connection_t  *c;

    c = io->connection;

    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            return -1;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
            return -1;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    return 0;
}


static void
ngx_http_dispatch_io_close(dispatch_io_t *io)
{
    ngx_close_connection(io->connection);
    ngx_free(io);
}


static void
ngx_http_dispatch_io_read_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    dispatch_io_t     *io;

    c = ev->data;
    io = c->data;

    io->handler(io->arg, 1, 0);
}


static void
ngx_http_dispatch_io_write_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    dispatch_io_t     *io;

    c = ev->data;
    io = c->data;

    io->handler(io->arg, 0, 1);
}


static dispatch_timer_t *
ngx_http_dispatch_timer_create(void *data, dispatch_timer_handler_pt handler,
    void *arg, int cancelable)
{
    dispatch_timer_t  *t;

    t = ngx_calloc(sizeof(dispatch_timer_t), ngx_cycle->log);
    if (t == NULL) {
        return NULL;
    }

    t->event.handler = ngx_http_dispatch_timer_handler;
    t->event.data = t;
    t->event.log = ngx_cycle->log;
    t->event.cancelable = cancelable ? 1 : 0;
    t->handler = handler;
    t->arg = arg;

    return t;
}


static void
ngx_http_dispatch_timer_start(dispatch_timer_t *t, uint64_t msec)
{
    /* ngx_add_timer keeps an armed timer when the new time is close to the
     * old one; deadlines here must be exact */

    ngx_http_dispatch_timer_stop(t);

    /*
     * "At once", asked while one of these timers fires, runs after the next
     * look at the sockets: nginx runs every timer that is due in one pass,
     * and ngx_current_msec does not move within it, so a 0 ms timer added
     * by a handler of the pass ran in the same pass; dispatches that start
     * dispatches (a tree of one client's request, no limit hit) chained
     * that way and kept the worker from serving any connection for
     * seconds. ngx_posted_next_events waits for one epoll_wait(0); the
     * 1 ms timer beside it keeps a worker that is shutting down alive
     * until then, and whichever comes first cancels the other.
     */

    if (msec == 0 && ngx_http_dispatch_timers_firing) {
        ngx_post_event(&t->event, &ngx_posted_next_events);
        msec = 1;
    }

    ngx_add_timer(&t->event, (ngx_msec_t) msec);
}


static void
ngx_http_dispatch_timer_stop(dispatch_timer_t *t)
{
    if (t->event.timer_set) {
        ngx_del_timer(&t->event);
    }

    if (t->event.posted) {
        ngx_delete_posted_event(&t->event);
    }
}


static void
ngx_http_dispatch_timer_destroy(dispatch_timer_t *t)
{
    ngx_http_dispatch_timer_stop(t);
    ngx_free(t);
}


static void
ngx_http_dispatch_timer_handler(ngx_event_t *ev)
{
    dispatch_timer_t  *t;

    t = ev->data;

    /* posted and timed both (see timer_start): the first to come runs */

    ngx_http_dispatch_timer_stop(t);

    ngx_http_dispatch_timers_firing++;
    t->handler(t->arg);  /* may destroy t */
    ngx_http_dispatch_timers_firing--;
}


static void
ngx_http_dispatch_wake(void *data, void *request_ctx)
{
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = request_ctx;

    /* never re-enter the engine from its own stack */

    if (!ctx->wake.posted) {
        ngx_post_event(&ctx->wake, &ngx_posted_events);
    }
}


/*
 * A line about a request the host still holds goes to that request's log,
 * whose handler adds the client, server, request line and host as nginx's
 * own lines have them (with dispatch_log_format json, the engine's JSON
 * object carries them instead); any other line goes to the cycle's log.
 */

static void
ngx_http_dispatch_log(void *data, void *request_ctx,
    dispatch_log_level_e level, const char *msg, size_t len)
{
    static const ngx_uint_t  levels[] = {
        NGX_LOG_ERR, NGX_LOG_WARN, NGX_LOG_NOTICE, NGX_LOG_INFO, NGX_LOG_DEBUG
    };

    ngx_log_t                       *log, bare;
    ngx_uint_t                       l;
    ngx_http_dispatch_ctx_t         *ctx;
    ngx_http_dispatch_main_conf_t   *dmcf;

    ctx = request_ctx;
    log = ctx ? ctx->request->connection->log : ngx_cycle->log;

    dmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_dispatch_module);

    if (ctx && dmcf && dmcf->log_format == NGX_HTTP_DISPATCH_LOG_JSON) {
        /* the line is a JSON object that names the request itself: the
         * request's log, without its handler's ", client: ..." after it */
        bare = *log;
        bare.handler = NULL;
        bare.data = NULL;
        log = &bare;
    }

    l = ((ngx_uint_t) level <= DISPATCH_LOG_DEBUG) ? levels[level]
                                                   : NGX_LOG_ERR;

    if (l == NGX_LOG_DEBUG) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "%*s", len, msg);
        return;
    }

    ngx_log_error(l, log, 0, "%*s", len, msg);
}


/*
 * $request_id of a request a line is about: made by nginx the first time
 * it is asked for (the access log may ask for it too: the same value).
 */

static size_t
ngx_http_dispatch_request_id(void *data, void *request_ctx, char *buf,
    size_t size)
{
    ngx_http_request_t             *r;
    ngx_http_dispatch_ctx_t        *ctx;
    ngx_http_variable_value_t      *v;
    ngx_http_dispatch_main_conf_t  *dmcf;

    ctx = request_ctx;

    if (ctx == NULL || ctx->request == NULL) {
        return 0;
    }

    r = ctx->request;
    dmcf = ngx_http_get_module_main_conf(r, ngx_http_dispatch_module);

    if (dmcf->request_id_index == NGX_ERROR) {
        return 0;
    }

    v = ngx_http_get_indexed_variable(r, dmcf->request_id_index);

    if (v == NULL || v->not_found || v->len > size) {
        return 0;
    }

    ngx_memcpy(buf, v->data, v->len);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch request id: %v", v);

    return v->len;
}


/* a reload or QUIT: the worker finishes what is in flight, then exits */

static int
ngx_http_dispatch_exiting(void *data)
{
    return ngx_exiting || ngx_quit;
}

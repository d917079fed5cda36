
/*
 * Metrics in the module's shared-memory zone (dispatch_status): what every
 * worker process counted, summed.
 *
 * The hot path takes no lock: the engine counts in its own thread, per
 * script, and a cancelable timer here (once a second) and the worker's exit
 * drain those counts and add them into the zone under the slab mutex.
 *
 * Cardinality: at most half the zone holds series. A script gets a series
 * of its own while a seat is free; when none is, the least recently
 * updated script gives up its seat if it was idle for
 * NGX_HTTP_DISPATCH_METRICS_IDLE (its counts fold into its namespace's
 * series, script="*"), else the newcomer's counts fold there. A namespace
 * series that cannot be had either folds into namespace="*", script="*".
 * Nothing is ever lost from the sums.
 *
 * Per worker (by worker number, which a reload and a respawn keep) the
 * counters add up across the processes that held that number; the gauges
 * belong to the newest of them (the one that claimed the record at start).
 */


#include "ngx_http_dispatch.h"



#define NGX_HTTP_DISPATCH_METRICS_FLUSH  1000      /* ms */
#define NGX_HTTP_DISPATCH_METRICS_IDLE   600000    /* ms: a seat is given up */
#define NGX_HTTP_DISPATCH_METRICS_KEY    128       /* "NS/NAME" */


typedef struct {
    ngx_str_node_t                     sn;        /* sn.str: key */
    ngx_queue_t                        queue;     /* scripts: LRU */
    uint64_t                           last;      /* ms of the last update */
    size_t                             ns_len;    /* key: NS "/" NAME */
    ngx_uint_t                         is_ns;     /* a namespace's fold */
    ngx_http_dispatch_series_t         series;
    u_char                             key[NGX_HTTP_DISPATCH_METRICS_KEY];
} ngx_http_dispatch_metrics_node_t;


static ngx_http_dispatch_metrics_sh_t *ngx_http_dispatch_metrics_sh(
    ngx_shm_zone_t *zone);
static void ngx_http_dispatch_metrics_flush_handler(ngx_event_t *ev);
static void ngx_http_dispatch_metrics_add_script(void *ctx,
    const dispatch_script_metrics_t *m);
static ngx_http_dispatch_series_t *ngx_http_dispatch_metrics_series(
    ngx_slab_pool_t *shpool, ngx_http_dispatch_metrics_sh_t *msh,
    const dispatch_str_t *ns, const dispatch_str_t *script, uint64_t now);
static ngx_http_dispatch_metrics_node_t *ngx_http_dispatch_metrics_node(
    ngx_slab_pool_t *shpool, ngx_http_dispatch_metrics_sh_t *msh,
    const u_char *key, size_t len, size_t ns_len, ngx_uint_t is_ns);
static ngx_http_dispatch_series_t *ngx_http_dispatch_metrics_ns_series(
    ngx_slab_pool_t *shpool, ngx_http_dispatch_metrics_sh_t *msh,
    const u_char *ns, size_t len);
static void ngx_http_dispatch_series_add(ngx_http_dispatch_series_t *to,
    const ngx_http_dispatch_series_t *from);


static ngx_event_t     ngx_http_dispatch_metrics_timer;
static ngx_shm_zone_t *ngx_http_dispatch_metrics_zone;


typedef struct {
    ngx_slab_pool_t                   *shpool;
    ngx_http_dispatch_metrics_sh_t    *msh;
    uint64_t                           now;
} ngx_http_dispatch_metrics_flush_t;


/* in the master, when the zone is made: its metrics state */

ngx_http_dispatch_metrics_sh_t *
ngx_http_dispatch_metrics_create(ngx_slab_pool_t *shpool, size_t size)
{
    size_t                           slab;
    ngx_uint_t                       seats;
    ngx_http_dispatch_metrics_sh_t  *msh;

    msh = ngx_slab_alloc(shpool, sizeof(ngx_http_dispatch_metrics_sh_t));
    if (msh == NULL) {
        return NULL;
    }

    ngx_memzero(msh, sizeof(ngx_http_dispatch_metrics_sh_t));

    ngx_rbtree_init(&msh->rbtree, &msh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&msh->lru);

    /* what one node takes from the slab: the next power of two */

    for (slab = 8; slab < sizeof(ngx_http_dispatch_metrics_node_t); slab <<= 1)
    {
        /* void */
    }

    seats = size / 2 / slab;

    if (seats < 2) {
        seats = 2;
    }

    /* an eighth (at least one) is kept for namespaces' folds */

    msh->max_namespaces = seats / 8 ? seats / 8 : 1;
    msh->max_scripts = seats - msh->max_namespaces;

    return msh;
}


static ngx_http_dispatch_metrics_sh_t *
ngx_http_dispatch_metrics_sh(ngx_shm_zone_t *zone)
{
    ngx_http_dispatch_shctx_t  *sh;

    if (zone == NULL || zone->data == NULL) {
        return NULL;
    }

    sh = zone->data;

    return sh->metrics;
}


ngx_http_dispatch_metrics_sh_t *
ngx_http_dispatch_metrics_state(ngx_shm_zone_t *zone,
    ngx_slab_pool_t **shpool)
{
    if (zone == NULL) {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) zone->shm.addr;

    return ngx_http_dispatch_metrics_sh(zone);
}


/* a worker with an engine: claims its record and starts flushing */

void
ngx_http_dispatch_metrics_init_process(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_dispatch_metrics_sh_t  *msh;
    ngx_http_dispatch_worker_rec_t  *w;

    msh = ngx_http_dispatch_metrics_state(zone, &shpool);

    if (msh == NULL) {
        return;
    }

    ngx_http_dispatch_metrics_zone = zone;

    if (ngx_worker < NGX_HTTP_DISPATCH_METRICS_WORKERS) {
        w = &msh->workers[ngx_worker];

        ngx_shmtx_lock(&shpool->mutex);
        w->pid = ngx_pid;
        w->used = 1;
        w->isolates = 0;
        w->isolate_memory = 0;
        w->redis_connected = 0;
        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_dispatch_metrics_timer.handler =
                                      ngx_http_dispatch_metrics_flush_handler;
    ngx_http_dispatch_metrics_timer.log = cycle->log;
    ngx_http_dispatch_metrics_timer.data = zone;

    /* a periodic timer must not hold a worker that is shutting down */
    ngx_http_dispatch_metrics_timer.cancelable = 1;

    ngx_add_timer(&ngx_http_dispatch_metrics_timer,
                  NGX_HTTP_DISPATCH_METRICS_FLUSH);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "dispatch metrics: worker %ui flushes every second",
                   ngx_worker);
}


/* before the engine goes: what it counted last, and no gauges left */

void
ngx_http_dispatch_metrics_exit_process(ngx_cycle_t *cycle)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_dispatch_metrics_sh_t  *msh;
    ngx_http_dispatch_worker_rec_t  *w;

    if (ngx_http_dispatch_metrics_zone == NULL) {
        return;
    }

    if (ngx_http_dispatch_metrics_timer.timer_set) {
        ngx_del_timer(&ngx_http_dispatch_metrics_timer);
    }

    ngx_http_dispatch_metrics_flush(ngx_http_dispatch_metrics_zone);

    msh = ngx_http_dispatch_metrics_state(ngx_http_dispatch_metrics_zone,
                                          &shpool);

    if (msh != NULL && ngx_worker < NGX_HTTP_DISPATCH_METRICS_WORKERS) {
        w = &msh->workers[ngx_worker];

        ngx_shmtx_lock(&shpool->mutex);

        if (w->pid == ngx_pid) {
            w->isolates = 0;
            w->isolate_memory = 0;
            w->redis_connected = 0;
        }

        ngx_shmtx_unlock(&shpool->mutex);
    }

    ngx_http_dispatch_metrics_zone = NULL;
}


static void
ngx_http_dispatch_metrics_flush_handler(ngx_event_t *ev)
{
    ngx_http_dispatch_metrics_flush(ev->data);

    if (!ngx_exiting && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_DISPATCH_METRICS_FLUSH);
    }
}


/* the worker's deltas into the zone, under the lock for the adding only */

void
ngx_http_dispatch_metrics_flush(ngx_shm_zone_t *zone)
{
    dispatch_worker_metrics_t           wm;
    ngx_uint_t                          i;
    ngx_http_dispatch_worker_rec_t     *w;
    ngx_http_dispatch_metrics_flush_t   f;

    if (ngx_http_dispatch_engine == NULL) {
        return;
    }

    f.msh = ngx_http_dispatch_metrics_state(zone, &f.shpool);

    if (f.msh == NULL) {
        return;
    }

    f.now = ngx_http_dispatch_now_ms();

    /* the lock is taken per script, and not while the engine reads its
     * gauges (V8's heap statistics of every isolate) */

    if (dispatch_engine_metrics_drain(ngx_http_dispatch_engine,
                                      ngx_http_dispatch_metrics_add_script,
                                      &f, &wm)
        != 0)
    {
        return;
    }

    ngx_shmtx_lock(&f.shpool->mutex);

    if (ngx_worker < NGX_HTTP_DISPATCH_METRICS_WORKERS) {
        w = &f.msh->workers[ngx_worker];

        w->used = 1;
        w->isolates_created += wm.isolates_created;

        for (i = 0; i < DISPATCH_RETIRE_REASONS; i++) {
            w->retired[i] += wm.retired[i];
        }

        w->cache_hits += wm.cache_hits;
        w->cache_misses += wm.cache_misses;
        w->cache_revalidations += wm.cache_revalidations;
        w->asset_hits += wm.asset_hits;
        w->asset_misses += wm.asset_misses;
        w->redis_reconnects += wm.redis_reconnects;
        w->redis_commands += wm.redis_commands;
        w->redis_command_us += (uint64_t) (wm.redis_command_ms * 1000);
        w->idle_collections += wm.idle_collections;

        if (w->pid == ngx_pid) {
            w->isolates = wm.isolates;
            w->isolate_memory = wm.isolate_memory;
            w->redis_connected = wm.redis_connected;
            w->asset_cache_bytes = wm.asset_cache_bytes;
        }
    }

    ngx_shmtx_unlock(&f.shpool->mutex);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch metrics: flushed");
}


/* one script's deltas, under the lock */

static void
ngx_http_dispatch_metrics_add_script(void *ctx,
    const dispatch_script_metrics_t *m)
{
    ngx_http_dispatch_metrics_flush_t *f = ctx;

    ngx_uint_t                   i;
    ngx_http_dispatch_series_t   d, *s;

    ngx_memzero(&d, sizeof(ngx_http_dispatch_series_t));

    for (i = 0; i < DISPATCH_OUTCOMES; i++) {
        d.requests[i] = m->requests[i];
    }

    for (i = 0; i < DISPATCH_WALL_BUCKETS; i++) {
        d.wall[i] = m->wall[i];
    }

    d.cpu_us = (uint64_t) (m->cpu_ms * 1000);
    d.wall_us = (uint64_t) (m->wall_ms * 1000);
    d.subrequests = m->subrequests;
    d.kv_ops = m->kv_ops;
    d.kv_bytes = m->kv_bytes;
    d.response_bytes = m->response_bytes;
    d.isolates_created = m->isolates_created;
    d.startup_us = (uint64_t) (m->startup_ms * 1000);
    d.log_lines_dropped = m->log_lines_dropped;
    d.log_bytes_dropped = m->log_bytes_dropped;

    ngx_shmtx_lock(&f->shpool->mutex);

    s = ngx_http_dispatch_metrics_series(f->shpool, f->msh, &m->ns, &m->script,
                                         f->now);

    ngx_http_dispatch_series_add(s, &d);

    ngx_shmtx_unlock(&f->shpool->mutex);
}


/* the series a script's counts go to: its own, or a fold (see the top) */

static ngx_http_dispatch_series_t *
ngx_http_dispatch_metrics_series(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_metrics_sh_t *msh, const dispatch_str_t *ns,
    const dispatch_str_t *script, uint64_t now)
{
    u_char                             key[NGX_HTTP_DISPATCH_METRICS_KEY];
    size_t                             len;
    uint32_t                           hash;
    ngx_str_t                          k;
    ngx_queue_t                       *q;
    ngx_str_node_t                    *sn;
    ngx_http_dispatch_series_t        *fold;
    ngx_http_dispatch_metrics_node_t  *node, *old;

    len = ns->len + 1 + script->len;

    if (ns->len == 0 || len > NGX_HTTP_DISPATCH_METRICS_KEY) {
        return &msh->other;
    }

    ngx_memcpy(key, ns->data, ns->len);
    key[ns->len] = '/';
    ngx_memcpy(key + ns->len + 1, script->data, script->len);

    k.data = key;
    k.len = len;
    hash = ngx_crc32_short(key, len);

    sn = ngx_str_rbtree_lookup(&msh->rbtree, &k, hash);

    if (sn != NULL) {
        node = (ngx_http_dispatch_metrics_node_t *) sn;
        node->last = now;
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&msh->lru, &node->queue);
        return &node->series;
    }

    if (msh->scripts < msh->max_scripts) {
        node = ngx_http_dispatch_metrics_node(shpool, msh, key, len, ns->len, 0);

        if (node != NULL) {
            msh->scripts++;
            node->last = now;
            ngx_queue_insert_head(&msh->lru, &node->queue);
            return &node->series;
        }
    }

    /* no seat free: the least recently updated one, if it is idle */

    if (!ngx_queue_empty(&msh->lru)) {
        q = ngx_queue_last(&msh->lru);
        old = ngx_queue_data(q, ngx_http_dispatch_metrics_node_t, queue);

        if (now - old->last >= NGX_HTTP_DISPATCH_METRICS_IDLE) {
            fold = ngx_http_dispatch_metrics_ns_series(shpool, msh, old->key,
                                                       old->ns_len);
            ngx_http_dispatch_series_add(fold, &old->series);

            ngx_queue_remove(&old->queue);
            ngx_rbtree_delete(&msh->rbtree, &old->sn.node);

            ngx_memzero(&old->series, sizeof(ngx_http_dispatch_series_t));
            ngx_memcpy(old->key, key, len);
            old->sn.node.key = hash;
            old->sn.str.len = len;
            old->ns_len = ns->len;
            old->last = now;

            ngx_rbtree_insert(&msh->rbtree, &old->sn.node);
            ngx_queue_insert_head(&msh->lru, &old->queue);
            msh->reclaimed++;

            return &old->series;
        }
    }

    msh->folded++;

    return ngx_http_dispatch_metrics_ns_series(shpool, msh, key, ns->len);
}


/* a namespace's fold (key "NS/"), or the last fold of all */

static ngx_http_dispatch_series_t *
ngx_http_dispatch_metrics_ns_series(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_metrics_sh_t *msh, const u_char *ns, size_t len)
{
    u_char                             key[NGX_HTTP_DISPATCH_METRICS_KEY];
    uint32_t                           hash;
    ngx_str_t                          k;
    ngx_str_node_t                    *sn;
    ngx_http_dispatch_metrics_node_t  *node;

    if (len + 1 > NGX_HTTP_DISPATCH_METRICS_KEY) {
        return &msh->other;
    }

    ngx_memcpy(key, ns, len);
    key[len] = '/';

    k.data = key;
    k.len = len + 1;
    hash = ngx_crc32_short(key, len + 1);

    sn = ngx_str_rbtree_lookup(&msh->rbtree, &k, hash);

    if (sn != NULL) {
        return &((ngx_http_dispatch_metrics_node_t *) sn)->series;
    }

    if (msh->namespaces >= msh->max_namespaces) {
        return &msh->other;
    }

    node = ngx_http_dispatch_metrics_node(shpool, msh, key, len + 1, len, 1);

    if (node == NULL) {
        return &msh->other;
    }

    msh->namespaces++;
    ngx_queue_init(&node->queue);

    return &node->series;
}


static ngx_http_dispatch_metrics_node_t *
ngx_http_dispatch_metrics_node(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_metrics_sh_t *msh, const u_char *key, size_t len,
    size_t ns_len, ngx_uint_t is_ns)
{
    ngx_http_dispatch_metrics_node_t  *node;

    node = ngx_slab_alloc_locked(shpool,
                                 sizeof(ngx_http_dispatch_metrics_node_t));
    if (node == NULL) {
        return NULL;
    }

    ngx_memzero(node, sizeof(ngx_http_dispatch_metrics_node_t));
    ngx_memcpy(node->key, key, len);

    node->sn.node.key = ngx_crc32_short(node->key, len);
    node->sn.str.data = node->key;
    node->sn.str.len = len;
    node->ns_len = ns_len;
    node->is_ns = is_ns;

    ngx_rbtree_insert(&msh->rbtree, &node->sn.node);

    return node;
}


static void
ngx_http_dispatch_series_add(ngx_http_dispatch_series_t *to,
    const ngx_http_dispatch_series_t *from)
{
    ngx_uint_t  i;

    for (i = 0; i < DISPATCH_OUTCOMES; i++) {
        to->requests[i] += from->requests[i];
    }

    for (i = 0; i < DISPATCH_WALL_BUCKETS; i++) {
        to->wall[i] += from->wall[i];
    }

    to->cpu_us += from->cpu_us;
    to->wall_us += from->wall_us;
    to->subrequests += from->subrequests;
    to->kv_ops += from->kv_ops;
    to->kv_bytes += from->kv_bytes;
    to->response_bytes += from->response_bytes;
    to->isolates_created += from->isolates_created;
    to->startup_us += from->startup_us;
    to->log_lines_dropped += from->log_lines_dropped;
    to->log_bytes_dropped += from->log_bytes_dropped;
}


/*
 * A copy of every series, for dispatch_status: taken under the lock,
 * formatted after it. The arrays come from the request's pool, sized for
 * the most the zone may hold, allocated before the lock is taken.
 */

ngx_int_t
ngx_http_dispatch_metrics_snapshot(ngx_pool_t *pool, ngx_shm_zone_t *zone,
    ngx_http_dispatch_metrics_snapshot_t *snap)
{
    ngx_uint_t                          n, max;
    ngx_slab_pool_t                    *shpool;
    ngx_rbtree_node_t                  *node, *root, *sentinel;
    ngx_http_dispatch_metrics_sh_t     *msh;
    ngx_http_dispatch_metrics_node_t   *mn;
    ngx_http_dispatch_metrics_entry_t  *e;

    ngx_memzero(snap, sizeof(ngx_http_dispatch_metrics_snapshot_t));

    msh = ngx_http_dispatch_metrics_state(zone, &shpool);

    if (msh == NULL) {
        return NGX_OK;
    }

    /* the bounds are fixed when the zone is made */
    max = msh->max_scripts + msh->max_namespaces;

    snap->entries = ngx_palloc(pool,
                            max * sizeof(ngx_http_dispatch_metrics_entry_t));
    if (snap->entries == NULL) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    n = 0;
    root = msh->rbtree.root;
    sentinel = msh->rbtree.sentinel;

    if (root != sentinel) {
        for (node = ngx_rbtree_min(root, sentinel);
             node != NULL && n < max;
             node = ngx_rbtree_next(&msh->rbtree, node))
        {
            mn = (ngx_http_dispatch_metrics_node_t *) node;
            e = &snap->entries[n++];

            e->ns_len = mn->ns_len;
            e->key_len = mn->sn.str.len;
            ngx_memcpy(e->key, mn->key, mn->sn.str.len);
            e->is_ns = mn->is_ns;
            e->series = mn->series;
        }
    }

    snap->nentries = n;
    snap->other = msh->other;
    ngx_memcpy(snap->workers, msh->workers, sizeof(snap->workers));
    snap->scripts = msh->scripts;
    snap->namespaces = msh->namespaces;
    snap->max_scripts = msh->max_scripts;
    snap->max_namespaces = msh->max_namespaces;
    snap->folded = msh->folded;
    snap->reclaimed = msh->reclaimed;

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


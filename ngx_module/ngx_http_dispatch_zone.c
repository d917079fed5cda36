
/*
 * The module's shared-memory zone: state of the node that every worker
 * process shares and that outlives any one of them. Today it holds the
 * penalty box (quarantine), the node's script generation and the metrics
 * of dispatch_status (ngx_http_dispatch_metrics.c: at most half the zone).
 *
 * Only the slab pool's own mutex guards the zone: nginx's master force-
 * unlocks it when a worker dies holding it. quarantine() may run on a
 * thread that is not the event loop (the CPU watchdog, while the event loop
 * is stuck): it logs nothing, touches no pool and no nginx time, and gives
 * up rather than wait long for the lock.
 */


#include "ngx_http_dispatch.h"

#include <time.h>


#define NGX_HTTP_DISPATCH_ZONE_DEFAULT_NAME  "dispatch"
#define NGX_HTTP_DISPATCH_ZONE_DEFAULT_SIZE  (1024 * 1024)
#define NGX_HTTP_DISPATCH_ZONE_MIN_PAGES     8

#define NGX_HTTP_DISPATCH_QUARANTINE_PERIOD  10000
#define NGX_HTTP_DISPATCH_QUARANTINE_KEY     127      /* "NS/NAME" */
#define NGX_HTTP_DISPATCH_QUARANTINE_FORGET  3600000  /* strikes reset */
#define NGX_HTTP_DISPATCH_QUARANTINE_MAX_STRIKES  64

#define NGX_HTTP_DISPATCH_LOCK_TRIES         100
#define NGX_HTTP_DISPATCH_LOCK_SLEEP_NS      100000   /* 100 us */

#define NGX_HTTP_DISPATCH_EVICT_SCAN         64
#define NGX_HTTP_DISPATCH_EVICT_EXPIRED      8


/*
 * One script in the penalty box. Every entry has room for the longest key,
 * so all come from one slab size: freeing any one makes room for another.
 * It stays after its period ends: its strikes make the next period longer.
 */

typedef struct {
    ngx_str_node_t               sn;         /* sn.str points at key */
    ngx_queue_t                  queue;      /* LRU, most recently struck first */
    uint64_t                     until;      /* ms, CLOCK_MONOTONIC */
    uint64_t                     last;       /* ms of the last strike */
    ngx_uint_t                   strikes;
    ngx_uint_t                   offence;    /* dispatch_offence_e, the last */
    u_char                       key[NGX_HTTP_DISPATCH_QUARANTINE_KEY];
} ngx_http_dispatch_quarantine_node_t;


/* the generation is shared by processes: a lock inside libatomic is not */

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
               "ngx_dispatch needs lock-free 64-bit atomics");


static ngx_int_t ngx_http_dispatch_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_dispatch_shctx_t *ngx_http_dispatch_quarantine_state(
    void *data, const char *key, size_t len, ngx_slab_pool_t **shpool);
static ngx_int_t ngx_http_dispatch_zone_trylock(ngx_slab_pool_t *shpool);
static ngx_http_dispatch_quarantine_node_t *ngx_http_dispatch_quarantine_lookup(
    ngx_http_dispatch_shctx_t *sh, ngx_str_t *key, uint32_t hash);
static ngx_http_dispatch_quarantine_node_t *ngx_http_dispatch_quarantine_alloc(
    ngx_slab_pool_t *shpool, ngx_http_dispatch_shctx_t *sh, uint64_t now,
    dispatch_offence_e offence);
static ngx_int_t ngx_http_dispatch_quarantine_evict(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_shctx_t *sh, uint64_t now, dispatch_offence_e offence);
static void ngx_http_dispatch_quarantine_free(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_shctx_t *sh, ngx_http_dispatch_quarantine_node_t *qn);


/*
 * The one place the zone is created: by the directive, or by default when
 * some location dispatches and the directive is absent.
 */

ngx_shm_zone_t *
ngx_http_dispatch_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_dispatch_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_dispatch_zone_init;

    return shm_zone;
}


/* dispatch_quarantine_zone NAME:SIZE [period=TIME]; */

char *
ngx_http_dispatch_quarantine_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    u_char      *p;
    ssize_t      size;
    ngx_str_t   *value, name, s;
    ngx_msec_t   period;
    ngx_uint_t   i;

    if (dmcf->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strlchr(value[1].data, value[1].data + value[1].len,
                               ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\": "
                           "expected NAME:SIZE",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (NGX_HTTP_DISPATCH_ZONE_MIN_PAGES * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" of \"%V\" is too small: "
                           "at least %uik",
                           &name, &cmd->name,
                           NGX_HTTP_DISPATCH_ZONE_MIN_PAGES * ngx_pagesize
                           / 1024);
        return NGX_CONF_ERROR;
    }

    period = NGX_CONF_UNSET_MSEC;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "period=", 7) == 0
            && period == NGX_CONF_UNSET_MSEC)
        {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            period = ngx_parse_time(&s, 0);

            if (period == (ngx_msec_t) NGX_ERROR || period < 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid period \"%V\" in \"%V\": "
                                   "a time of at least 1s",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    dmcf->zone = ngx_http_dispatch_zone_add(cf, &name, size);
    if (dmcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (period != NGX_CONF_UNSET_MSEC) {
        dmcf->quarantine_period = period;
    }

    return NGX_CONF_OK;
}


/* called from the main conf's init, once every location was read */

char *
ngx_http_dispatch_zone_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf)
{
    ngx_str_t  name;

    ngx_conf_init_msec_value(dmcf->quarantine_period,
                             NGX_HTTP_DISPATCH_QUARANTINE_PERIOD);

    if (dmcf->zone != NULL || (!dmcf->enabled && !dmcf->status)) {
        return NGX_CONF_OK;
    }

    ngx_str_set(&name, NGX_HTTP_DISPATCH_ZONE_DEFAULT_NAME);

    dmcf->zone = ngx_http_dispatch_zone_add(cf, &name,
                                        NGX_HTTP_DISPATCH_ZONE_DEFAULT_SIZE);
    if (dmcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * In the master, at start and on every reload. A zone of the same name and
 * size is handed over by nginx with the old cycle's data: the penalty box
 * survives the reload as it is.
 */

static ngx_int_t
ngx_http_dispatch_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_dispatch_shctx_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* quarantine() may run where nothing may be logged */
    shpool->log_nomem = 0;

    if (data) {
        shm_zone->data = data;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_dispatch_shctx_t));
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "dispatch: no memory for the state of zone \"%V\"",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);
    sh->active_until = 0;
    sh->generation = 0;

    sh->metrics = ngx_http_dispatch_metrics_create(shpool, shm_zone->shm.size);
    if (sh->metrics == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "dispatch: no memory for the metrics of zone \"%V\"",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* data: the host's, the zone or NULL; NULL for a key that cannot be one */

static ngx_http_dispatch_shctx_t *
ngx_http_dispatch_quarantine_state(void *data, const char *key, size_t len,
    ngx_slab_pool_t **shpool)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = data;

    if (shm_zone == NULL
        || shm_zone->data == NULL
        || key == NULL
        || len == 0
        || len > NGX_HTTP_DISPATCH_QUARANTINE_KEY)
    {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return shm_zone->data;
}


/* the same clock in every process of the node */

uint64_t
ngx_http_dispatch_now_ms(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}


/*
 * Bounded: about 10 ms at most. The holder may be this very process's stuck
 * event loop only if it got stuck under the lock, which nothing here does.
 */

static ngx_int_t
ngx_http_dispatch_zone_trylock(ngx_slab_pool_t *shpool)
{
    ngx_uint_t       i;
    struct timespec  ts;

    for (i = 0; i < NGX_HTTP_DISPATCH_LOCK_TRIES; i++) {

        if (ngx_shmtx_trylock(&shpool->mutex)) {
            return NGX_OK;
        }

        ts.tv_sec = 0;
        ts.tv_nsec = NGX_HTTP_DISPATCH_LOCK_SLEEP_NS;

        (void) nanosleep(&ts, NULL);
    }

    return NGX_BUSY;
}


/* thread-safe; see dispatch_host_t.quarantine */

uint64_t
ngx_http_dispatch_quarantine(void *data, const char *key, size_t len,
    dispatch_offence_e offence, uint64_t base_ms, uint64_t max_ms)
{
    uint32_t                              hash;
    uint64_t                              now, period, until;
    ngx_str_t                             k;
    ngx_uint_t                            shift;
    ngx_slab_pool_t                      *shpool;
    ngx_http_dispatch_shctx_t            *sh;
    ngx_http_dispatch_quarantine_node_t  *qn;

    sh = ngx_http_dispatch_quarantine_state(data, key, len, &shpool);

    if (sh == NULL || base_ms == 0 || max_ms == 0) {
        return 0;
    }

    now = ngx_http_dispatch_now_ms();
    if (now == 0) {
        return 0;
    }

    k.data = (u_char *) key;
    k.len = len;
    hash = ngx_crc32_short(k.data, k.len);

    if (ngx_http_dispatch_zone_trylock(shpool) != NGX_OK) {
        return 0;
    }

    qn = ngx_http_dispatch_quarantine_lookup(sh, &k, hash);

    if (qn == NULL) {
        qn = ngx_http_dispatch_quarantine_alloc(shpool, sh, now, offence);

        if (qn == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return 0;
        }

        ngx_memcpy(qn->key, key, len);

        qn->sn.node.key = hash;
        qn->sn.str.data = qn->key;
        qn->sn.str.len = len;
        qn->until = 0;
        qn->last = now;
        qn->strikes = 0;

        ngx_rbtree_insert(&sh->rbtree, &qn->sn.node);

    } else {
        ngx_queue_remove(&qn->queue);
    }

    ngx_queue_insert_head(&sh->lru, &qn->queue);

    if (offence == DISPATCH_OFFENCE_FLEET) {
        /* the node that judged it counted the strike */
        period = base_ms;
        goto serve;
    }

    if (now - qn->last > NGX_HTTP_DISPATCH_QUARANTINE_FORGET) {
        qn->strikes = 0;
    }

    if (qn->strikes < NGX_HTTP_DISPATCH_QUARANTINE_MAX_STRIKES) {
        qn->strikes++;
    }

    shift = qn->strikes - 1;

    if (shift >= 63 || base_ms > (max_ms >> shift)) {
        period = max_ms;

    } else {
        period = base_ms << shift;
    }

    if (period > max_ms) {
        period = max_ms;
    }

    qn->last = now;

serve:

    qn->offence = offence;

    /* a new strike never shortens a period being served */

    until = (period > (uint64_t) -1 - now) ? (uint64_t) -1 : now + period;

    if (until > qn->until) {
        qn->until = until;
    }

    if (qn->until > sh->active_until) {
        sh->active_until = (ngx_atomic_uint_t) qn->until;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return period;
}


/*
 * The management API lifts a quarantine: the entry goes, so the script is
 * served on every worker and its next offence counts as a first one.
 */

void
ngx_http_dispatch_quarantine_lift(void *data, const char *key, size_t len)
{
    uint32_t                              hash;
    ngx_str_t                             k;
    ngx_slab_pool_t                      *shpool;
    ngx_http_dispatch_shctx_t            *sh;
    ngx_http_dispatch_quarantine_node_t  *qn;

    sh = ngx_http_dispatch_quarantine_state(data, key, len, &shpool);

    if (sh == NULL) {
        return;
    }

    k.data = (u_char *) key;
    k.len = len;
    hash = ngx_crc32_short(k.data, k.len);

    if (ngx_http_dispatch_zone_trylock(shpool) != NGX_OK) {
        return;
    }

    qn = ngx_http_dispatch_quarantine_lookup(sh, &k, hash);

    if (qn != NULL) {
        ngx_http_dispatch_quarantine_free(shpool, sh, qn);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* on the event loop, on every request's path */

uint64_t
ngx_http_dispatch_quarantined(void *data, const char *key, size_t len)
{
    uint32_t                              hash;
    uint64_t                              now, left;
    ngx_str_t                             k;
    ngx_slab_pool_t                      *shpool;
    ngx_http_dispatch_shctx_t            *sh;
    ngx_http_dispatch_quarantine_node_t  *qn;

    sh = ngx_http_dispatch_quarantine_state(data, key, len, &shpool);

    if (sh == NULL) {
        return 0;
    }

    now = ngx_http_dispatch_now_ms();

    if ((uint64_t) sh->active_until <= now) {
        return 0;
    }

    k.data = (u_char *) key;
    k.len = len;
    hash = ngx_crc32_short(k.data, k.len);

    left = 0;

    ngx_shmtx_lock(&shpool->mutex);

    qn = ngx_http_dispatch_quarantine_lookup(sh, &k, hash);

    if (qn && qn->until > now) {
        left = qn->until - now;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return left;
}


static ngx_http_dispatch_quarantine_node_t *
ngx_http_dispatch_quarantine_lookup(ngx_http_dispatch_shctx_t *sh,
    ngx_str_t *key, uint32_t hash)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(&sh->rbtree, key, hash);
    if (sn == NULL) {
        return NULL;
    }

    return (ngx_http_dispatch_quarantine_node_t *) sn;
}


/* under the lock; on no memory, evicts and tries once more */

static ngx_http_dispatch_quarantine_node_t *
ngx_http_dispatch_quarantine_alloc(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_shctx_t *sh, uint64_t now, dispatch_offence_e offence)
{
    ngx_http_dispatch_quarantine_node_t  *qn;

    qn = ngx_slab_alloc_locked(shpool,
                               sizeof(ngx_http_dispatch_quarantine_node_t));
    if (qn) {
        return qn;
    }

    if (ngx_http_dispatch_quarantine_evict(shpool, sh, now, offence)
        != NGX_OK)
    {
        return NULL;
    }

    return ngx_slab_alloc_locked(shpool,
                                 sizeof(ngx_http_dispatch_quarantine_node_t));
}


/*
 * Frees a few of the least recently struck entries whose period is over.
 * If there are none among them, only a script that took a worker down
 * takes the place of one still serving its period (the least recently
 * struck of those that only hit their limits, else of all): were a mere
 * limit-hitter to do so, a namespace of many scripts spinning until boxed
 * would let out every script boxed before them, and forget their strikes.
 * NGX_DECLINED: nothing freed. The scan is bounded: this runs under the
 * lock.
 */

static ngx_int_t
ngx_http_dispatch_quarantine_evict(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_shctx_t *sh, uint64_t now, dispatch_offence_e offence)
{
    ngx_uint_t                            scanned, freed;
    ngx_queue_t                          *q, *prev;
    ngx_http_dispatch_quarantine_node_t  *qn, *limits;

    scanned = 0;
    freed = 0;
    limits = NULL;

    q = ngx_queue_last(&sh->lru);

    while (q != ngx_queue_sentinel(&sh->lru)
           && scanned < NGX_HTTP_DISPATCH_EVICT_SCAN
           && freed < NGX_HTTP_DISPATCH_EVICT_EXPIRED)
    {
        prev = ngx_queue_prev(q);
        qn = ngx_queue_data(q, ngx_http_dispatch_quarantine_node_t, queue);

        if (qn->until <= now) {
            ngx_http_dispatch_quarantine_free(shpool, sh, qn);
            freed++;

        } else if (limits == NULL
                   && qn->offence != DISPATCH_OFFENCE_WORKER_LOST)
        {
            limits = qn;
        }

        scanned++;
        q = prev;
    }

    if (freed) {
        return NGX_OK;
    }

    if (offence != DISPATCH_OFFENCE_WORKER_LOST
        || ngx_queue_empty(&sh->lru))
    {
        return NGX_DECLINED;
    }

    qn = limits;

    if (qn == NULL) {
        q = ngx_queue_last(&sh->lru);
        qn = ngx_queue_data(q, ngx_http_dispatch_quarantine_node_t, queue);
    }

    ngx_http_dispatch_quarantine_free(shpool, sh, qn);

    return NGX_OK;
}


static void
ngx_http_dispatch_quarantine_free(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_shctx_t *sh, ngx_http_dispatch_quarantine_node_t *qn)
{
    ngx_queue_remove(&qn->queue);
    ngx_rbtree_delete(&sh->rbtree, &qn->sn.node);
    ngx_slab_free_locked(shpool, qn);
}


/*
 * The node's script generation (dispatch_host_t.generation): one atomic
 * load, on every request of every worker. It survives a reload with the
 * zone and a worker's respawn: a respawned worker starts with nothing
 * cached anyway.
 */

static uint64_t *
ngx_http_dispatch_generation_counter(void *data)
{
    ngx_shm_zone_t             *shm_zone;
    ngx_http_dispatch_shctx_t  *sh;

    shm_zone = data;

    if (shm_zone == NULL || shm_zone->data == NULL) {
        return NULL;
    }

    sh = shm_zone->data;

    return &sh->generation;
}


uint64_t
ngx_http_dispatch_generation(void *data)
{
    uint64_t  *g;

    g = ngx_http_dispatch_generation_counter(data);

    return g ? __atomic_load_n(g, __ATOMIC_ACQUIRE) : 0;
}


/* after a change is stored, before it is answered: the new generation */

uint64_t
ngx_http_dispatch_generation_bump(void *data)
{
    uint64_t  *g;

    g = ngx_http_dispatch_generation_counter(data);

    return g ? __atomic_add_fetch(g, 1, __ATOMIC_ACQ_REL) : 0;
}

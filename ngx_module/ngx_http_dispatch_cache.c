
/*
 * The Cache API's index: a shared-memory zone of its own (keys_zone of
 * dispatch_cache_path), beside the quarantine zone, made the same way.
 * Every worker process sees it and it survives a reload (a zone of the same
 * name and size is handed over with its data). The bodies are files the
 * engine writes under the path; this file only keeps which exist, how large
 * they are, until when they are fresh, and in which order they were used.
 *
 * Only the slab pool's mutex guards the zone, held for one bounded
 * operation at a time (a tree lookup, an insert, one eviction): nothing is
 * written to disk or logged under it. Files are deleted by the engine after
 * the call that removed their entry returned.
 */


#include "ngx_http_dispatch.h"


#define NGX_HTTP_DISPATCH_CACHE_MIN_PAGES  8

/*
 * What a body file takes on disk at the least: a file system block. An
 * entry is charged no less against max_size and tenant_max_size, or a
 * script's one-byte entries took 4 KiB each, ~20 times what they were
 * charged: far past its share of the disk.
 */
#define NGX_HTTP_DISPATCH_CACHE_BLOCK      4096

#define ngx_http_dispatch_cache_charge(size)                                \
    ngx_max((uint64_t) (size), (uint64_t) NGX_HTTP_DISPATCH_CACHE_BLOCK)


/* the bytes and entries of one tenant script */

typedef struct {
    ngx_rbtree_node_t            node;        /* key: first bytes of tenant */
    ngx_queue_t                  entries;     /* most recently used first */
    uint64_t                     bytes;
    ngx_uint_t                   count;       /* entries */
    u_char                       tenant[DISPATCH_CACHE_KEY_LEN];
} ngx_http_dispatch_cache_tenant_t;


typedef struct {
    ngx_rbtree_node_t            node;        /* key: first bytes of key */
    ngx_queue_t                  lru;         /* the node's, most recent first */
    ngx_queue_t                  tenant_lru;  /* its tenant's */
    ngx_http_dispatch_cache_tenant_t  *tenant;
    dispatch_cache_entry_t       entry;
} ngx_http_dispatch_cache_node_t;


/* the zone's state, at shpool->data */

typedef struct {
    ngx_rbtree_t                 entries;
    ngx_rbtree_node_t            entries_sentinel;
    ngx_rbtree_t                 tenants;
    ngx_rbtree_node_t            tenants_sentinel;
    ngx_queue_t                  lru;
    uint64_t                     bytes;
    ngx_uint_t                   count;       /* entries */
} ngx_http_dispatch_cache_sh_t;


/* what the host's cache_data points at: this cycle's zone and bounds */

typedef struct {
    ngx_shm_zone_t              *zone;
    ngx_str_t                    path;
    uint64_t                     max_size;
    uint64_t                     tenant_max_size;
} ngx_http_dispatch_cache_t;


static ngx_int_t ngx_http_dispatch_cache_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);

static ngx_uint_t  ngx_http_dispatch_cache_tag;
static void ngx_http_dispatch_cache_entry_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_dispatch_cache_tenant_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_rbtree_node_t *ngx_http_dispatch_cache_find(ngx_rbtree_t *tree,
    const u_char *key, size_t offset);
static ngx_http_dispatch_cache_sh_t *ngx_http_dispatch_cache_state(void *data,
    ngx_slab_pool_t **shpool);
static void ngx_http_dispatch_cache_unlink(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_cache_sh_t *sh, ngx_http_dispatch_cache_node_t *cn);
static void ngx_http_dispatch_cache_clear_files(ngx_http_dispatch_cache_t *cache,
    ngx_log_t *log);
static ngx_int_t ngx_http_dispatch_cache_delete_file(ngx_tree_ctx_t *ctx,
    ngx_str_t *path);
static ngx_int_t ngx_http_dispatch_cache_noop(ngx_tree_ctx_t *ctx,
    ngx_str_t *path);


/*
 * Both trees hold a 32-byte digest at a fixed offset of their nodes: the
 * rbtree key is its first bytes, ties are broken by the whole digest.
 */

#define ngx_http_dispatch_cache_digest(node, offset)                        \
    ((u_char *) (node) + (offset))

#define NGX_HTTP_DISPATCH_CACHE_ENTRY_KEY                                   \
    (offsetof(ngx_http_dispatch_cache_node_t, entry)                        \
     + offsetof(dispatch_cache_entry_t, key))

#define NGX_HTTP_DISPATCH_CACHE_TENANT_KEY                                  \
    offsetof(ngx_http_dispatch_cache_tenant_t, tenant)


static ngx_rbtree_key_t
ngx_http_dispatch_cache_rbkey(const u_char *digest)
{
    ngx_rbtree_key_t  k;

    ngx_memcpy(&k, digest, sizeof(k));

    return k;
}


/* dispatch_cache_path PATH keys_zone=NAME:SIZE [max_size=SIZE]
 *                     [tenant_max_size=SIZE]; */

char *
ngx_http_dispatch_cache_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    u_char                     *p;
    off_t                       max;
    ssize_t                     size;
    uint64_t                   *bound;
    ngx_str_t                  *value, name, s;
    ngx_uint_t                  i;
    ngx_path_t                 *path;
    ngx_http_dispatch_cache_t  *cache;

    if (dmcf->cache != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_dispatch_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    cache->max_size = 1024 * 1024 * 1024;
    cache->tenant_max_size = 64 * 1024 * 1024;

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = value[1];

    if (path->name.len > 1 && path->name.data[path->name.len - 1] == '/') {
        path->name.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path->name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    name.len = 0;
    size = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "keys_zone=", 10) == 0) {

            name.data = value[i].data + 10;

            p = (u_char *) ngx_strlchr(name.data,
                                       value[i].data + value[i].len, ':');

            if (p == NULL || p == name.data) {
                goto invalid;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                goto invalid;
            }

            if (size < (ssize_t) (NGX_HTTP_DISPATCH_CACHE_MIN_PAGES
                                  * ngx_pagesize))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "keys_zone \"%V\" of \"%V\" is too small: "
                                   "at least %uik", &name, &cmd->name,
                                   NGX_HTTP_DISPATCH_CACHE_MIN_PAGES
                                   * ngx_pagesize / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            bound = &cache->max_size;
            s.data = value[i].data + 9;

        } else if (ngx_strncmp(value[i].data, "tenant_max_size=", 16) == 0) {
            bound = &cache->tenant_max_size;
            s.data = value[i].data + 16;

        } else {
            goto invalid;
        }

        s.len = value[i].data + value[i].len - s.data;

        max = ngx_parse_offset(&s);
        if (max == NGX_ERROR || max == 0) {
            goto invalid;
        }

        *bound = max;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"keys_zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (cache->tenant_max_size > cache->max_size) {
        cache->tenant_max_size = cache->max_size;
    }

    /* nginx creates it at start, owned by the worker processes' user */

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a tag of its own: nginx refuses a quarantine zone of the same name */
    cache->zone = ngx_shared_memory_add(cf, &name, size,
                                        &ngx_http_dispatch_cache_tag);
    if (cache->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cache->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    cache->zone->init = ngx_http_dispatch_cache_zone_init;
    cache->zone->data = cache;
    cache->path = path->name;

    dmcf->cache = cache;
    dmcf->cache_path = path->name;

    /* the engine gets a C string */

    p = ngx_pnalloc(cf->pool, path->name.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(p, path->name.data, path->name.len + 1);
    dmcf->cache_path.data = p;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* in the worker: the host's cache callbacks, or none without the directive */

void
ngx_http_dispatch_cache_host_init(dispatch_host_t *host,
    dispatch_engine_conf_t *conf, ngx_http_dispatch_main_conf_t *dmcf)
{
    ngx_http_dispatch_cache_t  *cache;

    cache = dmcf->cache;

    if (cache == NULL) {
        return;
    }

    conf->cache_path = (const char *) dmcf->cache_path.data;
    conf->cache_max_size = cache->max_size;
    conf->cache_tenant_max_size = cache->tenant_max_size;

    host->cache_lookup = ngx_http_dispatch_cache_lookup;
    host->cache_insert = ngx_http_dispatch_cache_insert;
    host->cache_remove = ngx_http_dispatch_cache_remove;
    host->cache_evict = ngx_http_dispatch_cache_evict;
    host->cache_data = cache;
}


/*
 * In the master, at start and on every reload. shm_zone->data is this
 * cycle's ngx_http_dispatch_cache_t; the shared state hangs off the pool.
 */

static ngx_int_t
ngx_http_dispatch_cache_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t               *shpool;
    ngx_http_dispatch_cache_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shpool->data != NULL && (data != NULL || shm_zone->shm.exists)) {
        /* kept across the reload, entries and all */
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_dispatch_cache_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    /* a new index knows no body: those of an earlier run are orphans */
    ngx_http_dispatch_cache_clear_files(shm_zone->data, shm_zone->shm.log);

    ngx_rbtree_init(&sh->entries, &sh->entries_sentinel,
                    ngx_http_dispatch_cache_entry_insert);
    ngx_rbtree_init(&sh->tenants, &sh->tenants_sentinel,
                    ngx_http_dispatch_cache_tenant_insert);
    ngx_queue_init(&sh->lru);
    sh->bytes = 0;
    sh->count = 0;

    shpool->data = sh;

    /* a full cache is not an error worth a line per put */
    shpool->log_nomem = 0;

    return NGX_OK;
}


/* the rbtree key is a digest's first bytes; ties go by the whole digest */

static void
ngx_http_dispatch_cache_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel, size_t offset)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t **p;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            rc = ngx_memcmp(ngx_http_dispatch_cache_digest(node, offset),
                            ngx_http_dispatch_cache_digest(temp, offset),
                            DISPATCH_CACHE_KEY_LEN);

            p = (rc < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static void
ngx_http_dispatch_cache_entry_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_dispatch_cache_rbtree_insert(temp, node, sentinel,
                                          NGX_HTTP_DISPATCH_CACHE_ENTRY_KEY);
}


static void
ngx_http_dispatch_cache_tenant_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_dispatch_cache_rbtree_insert(temp, node, sentinel,
                                          NGX_HTTP_DISPATCH_CACHE_TENANT_KEY);
}


static ngx_rbtree_node_t *
ngx_http_dispatch_cache_find(ngx_rbtree_t *tree, const u_char *key,
    size_t offset)
{
    ngx_int_t           rc;
    ngx_rbtree_key_t    k;
    ngx_rbtree_node_t  *node, *sentinel;

    k = ngx_http_dispatch_cache_rbkey(key);

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (k != node->key) {
            node = (k < node->key) ? node->left : node->right;
            continue;
        }

        rc = ngx_memcmp(key, ngx_http_dispatch_cache_digest(node, offset),
                        DISPATCH_CACHE_KEY_LEN);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_dispatch_cache_sh_t *
ngx_http_dispatch_cache_state(void *data, ngx_slab_pool_t **shpool)
{
    ngx_http_dispatch_cache_t     *cache;
    ngx_http_dispatch_cache_sh_t  *sh;

    cache = data;

    if (cache == NULL || cache->zone == NULL) {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) cache->zone->shm.addr;
    sh = (*shpool)->data;

    return sh;
}


/* the wall clock, as the engine writes expiries: shared by every process */

static uint64_t
ngx_http_dispatch_cache_now_ms(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* the entry leaves both queues and its tenant; under the lock */

static void
ngx_http_dispatch_cache_unlink(ngx_slab_pool_t *shpool,
    ngx_http_dispatch_cache_sh_t *sh, ngx_http_dispatch_cache_node_t *cn)
{
    ngx_http_dispatch_cache_tenant_t  *tn;

    tn = cn->tenant;

    ngx_queue_remove(&cn->lru);
    ngx_queue_remove(&cn->tenant_lru);
    ngx_rbtree_delete(&sh->entries, &cn->node);

    sh->bytes -= ngx_http_dispatch_cache_charge(cn->entry.size);
    tn->bytes -= ngx_http_dispatch_cache_charge(cn->entry.size);
    sh->count--;
    tn->count--;

    if (ngx_queue_empty(&tn->entries)) {
        ngx_rbtree_delete(&sh->tenants, &tn->node);
        ngx_slab_free_locked(shpool, tn);
    }

    ngx_slab_free_locked(shpool, cn);
}


/*
 * The entry of key into *out: with remove, taken out of the index (1);
 * else 1 and marked most recently used, or 2 and taken out when it has
 * expired.
 */

static int
ngx_http_dispatch_cache_take(void *data, const unsigned char *key,
    dispatch_cache_entry_t *out, ngx_uint_t remove)
{
    int                              rc;
    ngx_slab_pool_t                 *shpool;
    ngx_rbtree_node_t               *node;
    ngx_http_dispatch_cache_sh_t    *sh;
    ngx_http_dispatch_cache_node_t  *cn;

    sh = ngx_http_dispatch_cache_state(data, &shpool);

    if (sh == NULL || key == NULL) {
        return 0;
    }

    rc = 0;

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_dispatch_cache_find(&sh->entries, key,
                                        NGX_HTTP_DISPATCH_CACHE_ENTRY_KEY);

    if (node != NULL) {
        cn = (ngx_http_dispatch_cache_node_t *) node;
        *out = cn->entry;

        if (remove) {
            ngx_http_dispatch_cache_unlink(shpool, sh, cn);
            rc = 1;

        } else if (cn->entry.expires_ms <= ngx_http_dispatch_cache_now_ms()) {
            ngx_http_dispatch_cache_unlink(shpool, sh, cn);
            rc = 2;

        } else {
            ngx_queue_remove(&cn->lru);
            ngx_queue_insert_head(&sh->lru, &cn->lru);
            ngx_queue_remove(&cn->tenant_lru);
            ngx_queue_insert_head(&cn->tenant->entries, &cn->tenant_lru);
            rc = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch cache: %s %02xd%02xd...",
                   remove ? "remove" : "lookup", key[0], key[1]);

    return rc;
}


int
ngx_http_dispatch_cache_lookup(void *data, const unsigned char *key,
    dispatch_cache_entry_t *out)
{
    return ngx_http_dispatch_cache_take(data, key, out, 0);
}


int
ngx_http_dispatch_cache_remove(void *data, const unsigned char *key,
    dispatch_cache_entry_t *removed)
{
    return ngx_http_dispatch_cache_take(data, key, removed, 1);
}


int
ngx_http_dispatch_cache_insert(void *data, const dispatch_cache_entry_t *entry,
    dispatch_cache_entry_t *replaced)
{
    int                                rc;
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_rbtree_node_t                 *node;
    ngx_http_dispatch_cache_sh_t      *sh;
    ngx_http_dispatch_cache_node_t    *cn;
    ngx_http_dispatch_cache_tenant_t  *tn;

    sh = ngx_http_dispatch_cache_state(data, &shpool);

    if (sh == NULL || entry == NULL) {
        return -1;
    }

    rc = 0;

    ngx_shmtx_lock(&shpool->mutex);

    /* the entry it replaces goes first: its room is reused */

    node = ngx_http_dispatch_cache_find(&sh->entries, entry->key,
                                        NGX_HTTP_DISPATCH_CACHE_ENTRY_KEY);

    if (node != NULL) {
        *replaced = ((ngx_http_dispatch_cache_node_t *) node)->entry;
        ngx_http_dispatch_cache_unlink(shpool, sh,
                                     (ngx_http_dispatch_cache_node_t *) node);
        rc = 1;
    }

    node = ngx_http_dispatch_cache_find(&sh->tenants, entry->tenant,
                                        NGX_HTTP_DISPATCH_CACHE_TENANT_KEY);

    if (node == NULL) {
        tn = ngx_slab_alloc_locked(shpool,
                                   sizeof(ngx_http_dispatch_cache_tenant_t));
        if (tn == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return rc ? -2 : -1;
        }

        ngx_memcpy(tn->tenant, entry->tenant, DISPATCH_CACHE_KEY_LEN);
        tn->node.key = ngx_http_dispatch_cache_rbkey(tn->tenant);
        ngx_queue_init(&tn->entries);
        tn->bytes = 0;
        tn->count = 0;

        ngx_rbtree_insert(&sh->tenants, &tn->node);

    } else {
        tn = (ngx_http_dispatch_cache_tenant_t *) node;
    }

    cn = ngx_slab_alloc_locked(shpool, sizeof(ngx_http_dispatch_cache_node_t));

    /*
     * No room, and the tenant holds a quarter or more of the index's
     * entries: its own least recently used entry makes room, not the
     * node's. Else one script putting thousands of tiny entries (far
     * under tenant_max_size) pushed every other script's entries out.
     * A node of the same size is freed, so the allocation then succeeds.
     */

    if (cn == NULL && rc == 0 && tn->count >= 2
        && tn->count * 4 >= sh->count)
    {
        q = ngx_queue_last(&tn->entries);
        cn = ngx_queue_data(q, ngx_http_dispatch_cache_node_t, tenant_lru);
        *replaced = cn->entry;
        ngx_http_dispatch_cache_unlink(shpool, sh, cn);
        rc = 1;

        cn = ngx_slab_alloc_locked(shpool,
                                   sizeof(ngx_http_dispatch_cache_node_t));
    }

    if (cn == NULL) {
        if (ngx_queue_empty(&tn->entries)) {
            ngx_rbtree_delete(&sh->tenants, &tn->node);
            ngx_slab_free_locked(shpool, tn);
        }

        ngx_shmtx_unlock(&shpool->mutex);
        return rc ? -2 : -1;
    }

    cn->entry = *entry;
    cn->tenant = tn;
    cn->node.key = ngx_http_dispatch_cache_rbkey(cn->entry.key);

    ngx_rbtree_insert(&sh->entries, &cn->node);
    ngx_queue_insert_head(&sh->lru, &cn->lru);
    ngx_queue_insert_head(&tn->entries, &cn->tenant_lru);

    sh->bytes += ngx_http_dispatch_cache_charge(entry->size);
    tn->bytes += ngx_http_dispatch_cache_charge(entry->size);
    sh->count++;
    tn->count++;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "dispatch cache: insert %uL bytes, replaced: %d",
                   entry->size, rc);

    return rc;
}


/*
 * One eviction per call, so that the lock is held for one bounded step:
 * the tenant's least recently used entry while the tenant is over its
 * bound, else the node's while the node is over its bound. tenant NULL:
 * the node's least recently used entry, whatever the bounds (an insert
 * found no room in the zone).
 */

int
ngx_http_dispatch_cache_evict(void *data, const unsigned char *tenant,
    dispatch_cache_entry_t *evicted)
{
    ngx_queue_t                       *q;
    ngx_slab_pool_t                   *shpool;
    ngx_rbtree_node_t                 *node;
    ngx_http_dispatch_cache_t         *cache;
    ngx_http_dispatch_cache_sh_t      *sh;
    ngx_http_dispatch_cache_node_t    *cn;
    ngx_http_dispatch_cache_tenant_t  *tn;

    sh = ngx_http_dispatch_cache_state(data, &shpool);

    if (sh == NULL) {
        return 0;
    }

    cache = data;
    cn = NULL;

    ngx_shmtx_lock(&shpool->mutex);

    if (tenant != NULL) {
        node = ngx_http_dispatch_cache_find(&sh->tenants, tenant,
                                           NGX_HTTP_DISPATCH_CACHE_TENANT_KEY);

        if (node != NULL) {
            tn = (ngx_http_dispatch_cache_tenant_t *) node;

            if (tn->bytes > cache->tenant_max_size
                && !ngx_queue_empty(&tn->entries))
            {
                q = ngx_queue_last(&tn->entries);
                cn = ngx_queue_data(q, ngx_http_dispatch_cache_node_t,
                                    tenant_lru);
            }
        }
    }

    if (cn == NULL
        && (tenant == NULL || sh->bytes > cache->max_size)
        && !ngx_queue_empty(&sh->lru))
    {
        q = ngx_queue_last(&sh->lru);
        cn = ngx_queue_data(q, ngx_http_dispatch_cache_node_t, lru);
    }

    if (cn != NULL) {
        *evicted = cn->entry;
        ngx_http_dispatch_cache_unlink(shpool, sh, cn);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (cn != NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "dispatch cache: evicted %uL bytes", evicted->size);
        return 1;
    }

    return 0;
}


/*
 * In the master, when the index is new (a start, or a reload that changed
 * the zone): the body files an earlier run left under the path are deleted.
 * Only names this module makes are touched (DIGEST-SERIAL in hex, and
 * SERIAL under tmp/), so a path shared by mistake loses nothing else.
 */

static void
ngx_http_dispatch_cache_clear_files(ngx_http_dispatch_cache_t *cache,
    ngx_log_t *log)
{
    ngx_tree_ctx_t  tree;

    if (cache == NULL || cache->path.len == 0) {
        return;
    }

    ngx_memzero(&tree, sizeof(ngx_tree_ctx_t));

    tree.init_handler = NULL;
    tree.file_handler = ngx_http_dispatch_cache_delete_file;
    tree.pre_tree_handler = ngx_http_dispatch_cache_noop;
    tree.post_tree_handler = ngx_http_dispatch_cache_noop;
    tree.spec_handler = ngx_http_dispatch_cache_noop;
    tree.data = NULL;
    tree.alloc = 0;
    tree.log = log;

    /* a path not there yet has nothing to clear */
    (void) ngx_walk_tree(&tree, &cache->path);
}


static ngx_int_t
ngx_http_dispatch_cache_delete_file(ngx_tree_ctx_t *ctx, ngx_str_t *path)
{
    u_char      *name, *last;
    size_t       len, i;
    ngx_uint_t   ok;

    last = path->data + path->len;
    name = last;

    while (name > path->data && name[-1] != '/') {
        name--;
    }

    len = last - name;

    /* DIGEST-SERIAL: 64 + 1 + 16 hex digits; a temporary file: 16 */
    ok = (len == 64 + 1 + 16 || len == 16);

    for (i = 0; ok && i < len; i++) {
        if (len != 16 && i == 64) {
            ok = (name[i] == '-');
            continue;
        }

        ok = ((name[i] >= '0' && name[i] <= '9')
              || (name[i] >= 'a' && name[i] <= 'f'));
    }

    if (!ok) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                   "dispatch cache: delete orphan \"%s\"", path->data);

    if (ngx_delete_file(path->data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ctx->log, ngx_errno,
                      ngx_delete_file_n " \"%s\" failed", path->data);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_dispatch_cache_noop(ngx_tree_ctx_t *ctx, ngx_str_t *path)
{
    return NGX_OK;
}


/*
 * ngx_dispatch: run tenants' Workers-style JavaScript in V8 isolates.
 * Shared declarations of the nginx glue.
 */


#ifndef _NGX_HTTP_DISPATCH_H_INCLUDED_
#define _NGX_HTTP_DISPATCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dispatch_engine.h>


typedef struct {
    ngx_flag_t                 enabled;      /* some location dispatches or
                                                serves dispatch_admin */
    ngx_flag_t                 status;       /* some location serves
                                                dispatch_status */

    ngx_str_t                  redis_host;   /* IP literal, NUL-terminated */
    ngx_int_t                  redis_port;
    ngx_str_t                  redis_unix;   /* NUL-terminated, or empty */
    ngx_int_t                  redis_db;
    ngx_str_t                  redis_password;
    ngx_str_t                  redis_user;   /* NUL-terminated, or empty */
    ngx_msec_t                 redis_timeout;
    ngx_flag_t                 redis_set;
    ngx_uint_t                 redis_mode;   /* DISPATCH_REDIS_* */
    ngx_array_t               *redis_nodes;  /* of char *: "IP:port" */
    ngx_str_t                  redis_master; /* NUL-terminated, or empty */
    ngx_int_t                  redis_wait;   /* wait=N: replicas, or 0 */

    size_t                     script_max_size;
    ngx_msec_t                 cache_ttl;
    ngx_msec_t                 stale_ttl;

    ngx_msec_t                 startup_cpu_limit;
    size_t                     memory_limit;
    size_t                     worker_memory;
    ngx_uint_t                 isolates;
    ngx_flag_t                 startup_snapshot;
    ngx_uint_t                 prepared_isolates;
    size_t                     code_cache;

    size_t                     kv_quota;
    size_t                     asset_cache;
    ngx_uint_t                 log_limit;
    size_t                     log_bytes_limit;
    ngx_uint_t                 log_format;   /* NGX_HTTP_DISPATCH_LOG_* */
    ngx_int_t                  request_id_index;  /* $request_id */
    ngx_msec_t                 hang_timeout;

    ngx_shm_zone_t            *zone;         /* the node's shared state */
    void                      *cache;        /* dispatch_cache_path, or NULL */
    ngx_str_t                  cache_path;   /* NUL-terminated */
    ngx_msec_t                 quarantine_period;

    ngx_array_t               *fetch_allow;  /* of char *: "CIDR[:PORT]" */
    ngx_str_t                  fetch_trusted_certificate;
    ngx_msec_t                 fetch_connect_timeout;
    ngx_msec_t                 fetch_send_timeout;
    ngx_msec_t                 fetch_read_timeout;
    ngx_uint_t                 fetch_connections;

    ngx_flag_t                 seccomp;      /* dispatch_seccomp */
    ngx_flag_t                 landlock;     /* dispatch_landlock */
    ngx_array_t               *landlock_dirs;  /* of ngx_str_t: more
                                                  writable directories */
    ngx_array_t               *secrets_keys; /* of u_char *: 32 bytes each,
                                                the first seals */
    ngx_array_t               *namespaces;   /* of u_char *: NUL-terminated */
    ngx_array_t               *dispatched;   /* of ngx_str_t: the constant
                                                namespaces of dispatch */
#if (NGX_SSL)
    ngx_ssl_t                 *fetch_ssl;    /* the TLS client context */
#endif
} ngx_http_dispatch_main_conf_t;


typedef struct {
    ngx_http_complex_value_t  *ns;
    ngx_http_complex_value_t  *script;

    ngx_msec_t                 cpu_limit;
    ngx_msec_t                 wall_limit;
    ngx_msec_t                 websocket_idle_timeout;
    ngx_uint_t                 script_concurrency;
    ngx_uint_t                 subrequest_limit;
    ngx_array_t               *request_cf;   /* of ngx_http_dispatch_cf_t */

    /* dispatch_admin: not inherited, as a content handler is not */
    ngx_flag_t                 admin;
    ngx_flag_t                 status;       /* dispatch_status */
    ngx_str_t                  admin_token;  /* empty: loopback clients only */
    ngx_http_core_loc_conf_t  *admin_clcf;   /* its location's, for checks
                                                once it is merged */
} ngx_http_dispatch_loc_conf_t;


typedef struct {
    ngx_http_request_t        *request;
    dispatch_request_t        *engine_req;
    ngx_event_t                wake;

    ngx_str_t                  ns;
    ngx_str_t                  script;
    ngx_str_t                  authority;    /* request.url's host[:port],
                                                checked once, by the
                                                handler; empty: none */
    dispatch_outcome_e         outcome;
    double                     cpu_ms;
    ngx_uint_t                 subrequests;
    ngx_str_t                  chain_failure;  /* copied into r->pool */
    ngx_chain_t               *free;         /* response buffers to reuse */
    ngx_chain_t               *busy;         /* ... and those nginx holds */
    unsigned                   outcome_set:1;
    unsigned                   responded:1;  /* its header is out; the
                                                engine holds a whole body
                                                until the request is freed */
    unsigned                   reading_body:1;  /* more of the request body
                                                   is to come from the
                                                   client */
    unsigned                   streaming:1;  /* the response body comes from
                                                the engine in pieces */
    unsigned                   body_done:1;  /* ... all of it went out */
    unsigned                   stream_over:1;  /* ... or the request was
                                                  finalized before */
    unsigned                   stalled:1;    /* waiting for the script to
                                                produce more: send_timeout
                                                bounds the wait */
    unsigned                   websocket:1;  /* a 101: raw bytes both ways,
                                                the engine frames them */
    u_char                    *ws_buf;       /* what is read from the
                                                client, before the engine
                                                copies it */
} ngx_http_dispatch_ctx_t;


#define NGX_HTTP_DISPATCH_LOG_TEXT  0
#define NGX_HTTP_DISPATCH_LOG_JSON  1


/* ---- metrics in the shared zone (ngx_http_dispatch_metrics.c) ---------- */

#define NGX_HTTP_DISPATCH_METRICS_WORKERS  64   /* worker numbers counted */

/* one series: integers only, so that adding is exact */
typedef struct {
    uint64_t                   requests[DISPATCH_OUTCOMES];
    uint64_t                   cpu_us;
    uint64_t                   wall[DISPATCH_WALL_BUCKETS];
    uint64_t                   wall_us;
    uint64_t                   subrequests;
    uint64_t                   kv_ops;
    uint64_t                   kv_bytes;
    uint64_t                   response_bytes;
    uint64_t                   isolates_created;
    uint64_t                   startup_us;
    uint64_t                   log_lines_dropped;
    uint64_t                   log_bytes_dropped;
} ngx_http_dispatch_series_t;

typedef struct {
    ngx_pid_t                  pid;          /* whose gauges these are */
    ngx_uint_t                 used;
    uint64_t                   isolates;     /* gauges */
    uint64_t                   isolate_memory;
    uint64_t                   redis_connected;
    uint64_t                   isolates_created;
    uint64_t                   retired[DISPATCH_RETIRE_REASONS];
    uint64_t                   cache_hits;
    uint64_t                   cache_misses;
    uint64_t                   cache_revalidations;
    uint64_t                   asset_hits;
    uint64_t                   asset_misses;
    uint64_t                   asset_cache_bytes;
    uint64_t                   redis_reconnects;
    uint64_t                   redis_commands;
    uint64_t                   redis_command_us;
    uint64_t                   idle_collections;
} ngx_http_dispatch_worker_rec_t;

typedef struct {
    ngx_rbtree_t               rbtree;       /* scripts' and namespaces' */
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;          /* scripts', most recent first */
    ngx_uint_t                 scripts;
    ngx_uint_t                 max_scripts;
    ngx_uint_t                 namespaces;
    ngx_uint_t                 max_namespaces;
    uint64_t                   folded;       /* flushes folded for want of
                                                a seat */
    uint64_t                   reclaimed;    /* idle seats given away */
    ngx_http_dispatch_series_t other;        /* namespace="*" script="*" */
    ngx_http_dispatch_worker_rec_t  workers[NGX_HTTP_DISPATCH_METRICS_WORKERS];
} ngx_http_dispatch_metrics_sh_t;

/* the zone's state, at shpool->data (ngx_http_dispatch_zone.c) */
typedef struct {
    ngx_rbtree_t               rbtree;       /* the penalty box */
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;

    /* the largest until of any entry: read without the lock, so that a
     * request finds out that nothing is quarantined at the cost of a load */
    ngx_atomic_t               active_until;

    /* bumped by the management API once a change is stored, read by every
     * worker on every request: atomics only, never the lock */
    uint64_t                   generation;

    ngx_http_dispatch_metrics_sh_t  *metrics;
} ngx_http_dispatch_shctx_t;

typedef struct {
    u_char                     key[128];     /* NS "/" NAME, or NS "/" */
    size_t                     key_len;
    size_t                     ns_len;
    ngx_uint_t                 is_ns;
    ngx_http_dispatch_series_t series;
} ngx_http_dispatch_metrics_entry_t;

typedef struct {
    ngx_http_dispatch_metrics_entry_t  *entries;
    ngx_uint_t                 nentries;
    ngx_http_dispatch_series_t other;
    ngx_http_dispatch_worker_rec_t  workers[NGX_HTTP_DISPATCH_METRICS_WORKERS];
    ngx_uint_t                 scripts;
    ngx_uint_t                 namespaces;
    ngx_uint_t                 max_scripts;
    ngx_uint_t                 max_namespaces;
    uint64_t                   folded;
    uint64_t                   reclaimed;
} ngx_http_dispatch_metrics_snapshot_t;


ngx_int_t ngx_http_dispatch_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_dispatch_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_dispatch_admin_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_dispatch_send_body(ngx_http_request_t *r, u_char *data,
    size_t len);
ngx_int_t ngx_http_dispatch_add_variables(ngx_conf_t *cf);
void ngx_http_dispatch_host_init(dispatch_host_t *host,
    ngx_shm_zone_t *zone);

char *ngx_http_dispatch_request_cf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_dispatch_cf_values(ngx_http_request_t *r,
    ngx_http_dispatch_loc_conf_t *dlcf, dispatch_header_t **out, size_t *nout);

char *ngx_http_dispatch_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_dispatch_fetch_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_dispatch_fetch_trusted_certificate(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_dispatch_fetch_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf);
void ngx_http_dispatch_fetch_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf, dispatch_engine_conf_t *conf,
    dispatch_host_t *host);

void ngx_http_dispatch_seccomp_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf);
ngx_int_t ngx_http_dispatch_landlock_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf);
char *ngx_http_dispatch_landlock(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

char *ngx_http_dispatch_secrets_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_dispatch_namespaces(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_dispatch_note_namespace(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf, ngx_str_t *ns);
void ngx_http_dispatch_defence_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf);
void ngx_http_dispatch_defence_init_process(
    ngx_http_dispatch_main_conf_t *dmcf, dispatch_engine_conf_t *conf);

ngx_shm_zone_t *ngx_http_dispatch_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);
char *ngx_http_dispatch_quarantine_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_dispatch_zone_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf);
uint64_t ngx_http_dispatch_quarantine(void *data, const char *key, size_t len,
    dispatch_offence_e offence, uint64_t base_ms, uint64_t max_ms);
uint64_t ngx_http_dispatch_quarantined(void *data, const char *key,
    size_t len);
void ngx_http_dispatch_quarantine_lift(void *data, const char *key,
    size_t len);
uint64_t ngx_http_dispatch_generation(void *data);

char *ngx_http_dispatch_cache_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_dispatch_cache_host_init(dispatch_host_t *host,
    dispatch_engine_conf_t *conf, ngx_http_dispatch_main_conf_t *dmcf);
int ngx_http_dispatch_cache_lookup(void *data, const unsigned char *key,
    dispatch_cache_entry_t *out);
int ngx_http_dispatch_cache_insert(void *data,
    const dispatch_cache_entry_t *entry, dispatch_cache_entry_t *replaced);
int ngx_http_dispatch_cache_remove(void *data, const unsigned char *key,
    dispatch_cache_entry_t *removed);
int ngx_http_dispatch_cache_evict(void *data, const unsigned char *tenant,
    dispatch_cache_entry_t *evicted);
uint64_t ngx_http_dispatch_now_ms(void);

ngx_http_dispatch_metrics_sh_t *ngx_http_dispatch_metrics_create(
    ngx_slab_pool_t *shpool, size_t size);
ngx_http_dispatch_metrics_sh_t *ngx_http_dispatch_metrics_state(
    ngx_shm_zone_t *zone, ngx_slab_pool_t **shpool);
void ngx_http_dispatch_metrics_init_process(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone);
void ngx_http_dispatch_metrics_exit_process(ngx_cycle_t *cycle);
void ngx_http_dispatch_metrics_flush(ngx_shm_zone_t *zone);
ngx_int_t ngx_http_dispatch_metrics_snapshot(ngx_pool_t *pool,
    ngx_shm_zone_t *zone, ngx_http_dispatch_metrics_snapshot_t *snap);
uint64_t ngx_http_dispatch_generation_bump(void *data);


extern ngx_module_t        ngx_http_dispatch_module;
extern dispatch_engine_t  *ngx_http_dispatch_engine;


#endif /* _NGX_HTTP_DISPATCH_H_INCLUDED_ */


/*
 * dispatch_status: the metrics of every worker process, summed in the
 * module's shared-memory zone (ngx_http_dispatch_metrics.c), in the
 * Prometheus text exposition format 0.0.4, or as JSON with ?format=json.
 *
 * A copy of the zone's series is taken under the lock and formatted after
 * it, so a slow client never holds the lock. It is an operator's page:
 * restrict it with allow/deny (README, conf-examples/status.conf).
 */


#include "ngx_http_dispatch.h"


#define NGX_HTTP_DISPATCH_STATUS_BUF  (64 * 1024)


typedef struct {
    ngx_pool_t                 *pool;
    ngx_chain_t                *first;
    ngx_chain_t               **last;
    ngx_buf_t                  *buf;
    ngx_uint_t                  failed;
} ngx_http_dispatch_status_out_t;

/* one series' labels, ready to print */
typedef struct {
    ngx_str_t                   ns;
    ngx_str_t                   script;
    ngx_http_dispatch_series_t *series;
} ngx_http_dispatch_status_series_t;


static ngx_int_t ngx_http_dispatch_status_series(ngx_http_request_t *r,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t **all, ngx_uint_t *n);
static void ngx_http_dispatch_status_prometheus(
    ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t *all, ngx_uint_t n);
static void ngx_http_dispatch_status_json(ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t *all, ngx_uint_t n);
static void ngx_http_dispatch_status_printf(ngx_http_dispatch_status_out_t *o,
    const char *fmt, ...);
static void ngx_http_dispatch_status_labels(ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_status_series_t *s);
static void ngx_http_dispatch_status_escaped(ngx_http_dispatch_status_out_t *o,
    ngx_str_t *value);
static void ngx_http_dispatch_status_family(ngx_http_dispatch_status_out_t *o,
    const char *name, const char *type, const char *help);


static const char *ngx_http_dispatch_status_reasons[] = {
    "lru", "memory", "limit", "version"
};

static const uint64_t ngx_http_dispatch_status_buckets[] =
    DISPATCH_WALL_BUCKETS_MS;


/* a series' scalar counters: name, help, offset, and whether in us */

typedef struct {
    const char                 *name;
    const char                 *help;
    size_t                      offset;
    ngx_uint_t                  micro;      /* microseconds, shown in s */
} ngx_http_dispatch_status_counter_t;

static ngx_http_dispatch_status_counter_t  ngx_http_dispatch_status_counters[]
= {
    { "dispatch_cpu_seconds_total",
      "CPU time the script's requests spent in JavaScript.",
      offsetof(ngx_http_dispatch_series_t, cpu_us), 1 },
    { "dispatch_subrequests_total",
      "fetch() calls and dispatches the script's requests made.",
      offsetof(ngx_http_dispatch_series_t, subrequests), 0 },
    { "dispatch_kv_operations_total",
      "KV operations the script's requests made.",
      offsetof(ngx_http_dispatch_series_t, kv_ops), 0 },
    { "dispatch_kv_bytes_total",
      "KV value bytes the script's requests wrote and read.",
      offsetof(ngx_http_dispatch_series_t, kv_bytes), 0 },
    { "dispatch_response_bytes_total",
      "Response body bytes the script's requests produced.",
      offsetof(ngx_http_dispatch_series_t, response_bytes), 0 },
    { "dispatch_isolate_creations_total",
      "Isolates created for the script.",
      offsetof(ngx_http_dispatch_series_t, isolates_created), 0 },
    { "dispatch_isolate_startup_seconds_total",
      "Wall time spent starting isolates for the script, failed starts "
      "included.",
      offsetof(ngx_http_dispatch_series_t, startup_us), 1 },
    { "dispatch_log_lines_dropped_total",
      "Log lines of the script past dispatch_log_limit, not written.",
      offsetof(ngx_http_dispatch_series_t, log_lines_dropped), 0 },
    { "dispatch_log_bytes_dropped_total",
      "Bytes of the log lines of the script not written.",
      offsetof(ngx_http_dispatch_series_t, log_bytes_dropped), 0 },
    { NULL, NULL, 0, 0 }
};


/* dispatch_status; (location) */

char *
ngx_http_dispatch_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_loc_conf_t *dlcf = conf;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_dispatch_main_conf_t  *dmcf;

    if (dlcf->status) {
        return "is duplicate";
    }

    if (dlcf->ns != NULL || dlcf->admin) {
        return "cannot be combined with \"dispatch\" or \"dispatch_admin\" "
               "in one location";
    }

    dlcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_dispatch_status_handler;

    /* the zone is made for it even where nothing dispatches */

    dmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_dispatch_module);
    dmcf->status = 1;

    return NGX_CONF_OK;
}


#define ngx_http_dispatch_status_field(s, off)                               \
    (*(uint64_t *) ((u_char *) (s) + (off)))


ngx_int_t
ngx_http_dispatch_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                               rc;
    ngx_str_t                               format;
    ngx_uint_t                              n, json;
    ngx_http_dispatch_main_conf_t          *dmcf;
    ngx_http_dispatch_status_out_t          o;
    ngx_http_dispatch_status_series_t      *all;
    ngx_http_dispatch_metrics_snapshot_t   *snap;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "dispatch status handler");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    json = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            json = 1;

        } else if (!(format.len == 10
                     && ngx_strncmp(format.data, "prometheus", 10) == 0))
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    dmcf = ngx_http_get_module_main_conf(r, ngx_http_dispatch_module);

    snap = ngx_palloc(r->pool, sizeof(ngx_http_dispatch_metrics_snapshot_t));
    if (snap == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_dispatch_metrics_snapshot(r->pool, dmcf->zone, snap)
        != NGX_OK
        || ngx_http_dispatch_status_series(r, snap, &all, &n) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&o, sizeof(ngx_http_dispatch_status_out_t));
    o.pool = r->pool;
    o.last = &o.first;

    if (json) {
        ngx_http_dispatch_status_json(&o, snap, all, n);
        ngx_str_set(&r->headers_out.content_type, "application/json");

    } else {
        ngx_http_dispatch_status_prometheus(&o, snap, all, n);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
    }

    if (o.failed || o.first == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    for (o.last = &o.first; *o.last; o.last = &(*o.last)->next) {
        r->headers_out.content_length_n += ngx_buf_size((*o.last)->buf);

        if ((*o.last)->next == NULL) {
            (*o.last)->buf->last_buf = (r == r->main) ? 1 : 0;
            (*o.last)->buf->last_in_chain = 1;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, o.first);
}


/* every series with its labels: the zone's, then the last fold if used */

static ngx_int_t
ngx_http_dispatch_status_series(ngx_http_request_t *r,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t **all, ngx_uint_t *n)
{
    ngx_uint_t                           i, k;
    ngx_http_dispatch_series_t           zero;
    ngx_http_dispatch_status_series_t   *s;
    ngx_http_dispatch_metrics_entry_t   *e;

    s = ngx_palloc(r->pool, (snap->nentries + 1)
                            * sizeof(ngx_http_dispatch_status_series_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (i = 0; i < snap->nentries; i++) {
        e = &snap->entries[i];

        s[k].ns.data = e->key;
        s[k].ns.len = e->ns_len;

        if (e->is_ns) {
            ngx_str_set(&s[k].script, "*");

        } else {
            s[k].script.data = e->key + e->ns_len + 1;
            s[k].script.len = e->key_len - e->ns_len - 1;
        }

        s[k].series = &e->series;
        k++;
    }

    ngx_memzero(&zero, sizeof(ngx_http_dispatch_series_t));

    if (ngx_memcmp(&snap->other, &zero, sizeof(zero)) != 0) {
        ngx_str_set(&s[k].ns, "*");
        ngx_str_set(&s[k].script, "*");
        s[k].series = &snap->other;
        k++;
    }

    *all = s;
    *n = k;

    return NGX_OK;
}


static void
ngx_http_dispatch_status_prometheus(ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t *all, ngx_uint_t n)
{
    uint64_t                             v, cum;
    ngx_uint_t                           i, k, outcome;
    ngx_http_dispatch_series_t          *s;
    ngx_http_dispatch_worker_rec_t      *w;
    ngx_http_dispatch_status_counter_t  *c;

    ngx_http_dispatch_status_family(o, "dispatch_requests_total", "counter",
        "Requests of a script that ended, by outcome ($dispatch_outcome).");

    for (i = 0; i < n; i++) {
        for (outcome = 0; outcome < DISPATCH_OUTCOMES; outcome++) {
            v = all[i].series->requests[outcome];

            if (v == 0 && outcome != DISPATCH_OUTCOME_OK) {
                continue;
            }

            ngx_http_dispatch_status_printf(o, "dispatch_requests_total");
            ngx_http_dispatch_status_labels(o, &all[i]);
            ngx_http_dispatch_status_printf(o, ",outcome=\"%s\"} %uL\n",
                dispatch_outcome_name((dispatch_outcome_e) outcome), v);
        }
    }

    ngx_http_dispatch_status_family(o, "dispatch_request_duration_seconds",
        "histogram",
        "Wall time of a script's requests until their Response.");

    for (i = 0; i < n; i++) {
        s = all[i].series;
        cum = 0;

        for (k = 0; k < DISPATCH_WALL_BUCKETS; k++) {
            cum += s->wall[k];

            ngx_http_dispatch_status_printf(o,
                                   "dispatch_request_duration_seconds_bucket");
            ngx_http_dispatch_status_labels(o, &all[i]);

            if (k + 1 == DISPATCH_WALL_BUCKETS) {
                ngx_http_dispatch_status_printf(o, ",le=\"+Inf\"} %uL\n",
                                                cum);

            } else {
                ngx_http_dispatch_status_printf(o, ",le=\"%uL.%03uL\"} %uL\n",
                    ngx_http_dispatch_status_buckets[k] / 1000,
                    ngx_http_dispatch_status_buckets[k] % 1000, cum);
            }
        }

        ngx_http_dispatch_status_printf(o,
                                      "dispatch_request_duration_seconds_sum");
        ngx_http_dispatch_status_labels(o, &all[i]);
        ngx_http_dispatch_status_printf(o, "} %uL.%06uL\n",
                                        s->wall_us / 1000000,
                                        s->wall_us % 1000000);

        ngx_http_dispatch_status_printf(o,
                                    "dispatch_request_duration_seconds_count");
        ngx_http_dispatch_status_labels(o, &all[i]);
        ngx_http_dispatch_status_printf(o, "} %uL\n", cum);
    }

    for (c = ngx_http_dispatch_status_counters; c->name; c++) {
        ngx_http_dispatch_status_family(o, c->name, "counter", c->help);

        for (i = 0; i < n; i++) {
            v = ngx_http_dispatch_status_field(all[i].series, c->offset);

            ngx_http_dispatch_status_printf(o, "%s", c->name);
            ngx_http_dispatch_status_labels(o, &all[i]);

            if (c->micro) {
                ngx_http_dispatch_status_printf(o, "} %uL.%06uL\n",
                                                v / 1000000, v % 1000000);

            } else {
                ngx_http_dispatch_status_printf(o, "} %uL\n", v);
            }
        }
    }

    /* per worker process, by worker number */

#define ngx_http_dispatch_status_workers(name, type, help, fmt, ...)         \
    ngx_http_dispatch_status_family(o, name, type, help);                    \
    for (i = 0; i < NGX_HTTP_DISPATCH_METRICS_WORKERS; i++) {                \
        w = &snap->workers[i];                                               \
        if (!w->used) {                                                      \
            continue;                                                        \
        }                                                                    \
        ngx_http_dispatch_status_printf(o, name "{worker=\"%ui\"" fmt,       \
                                        i, __VA_ARGS__);                     \
    }

    ngx_http_dispatch_status_workers("dispatch_worker_isolates", "gauge",
        "Live isolates of the worker process.",
        "} %uL\n", w->isolates)
    ngx_http_dispatch_status_workers("dispatch_worker_isolate_memory_bytes",
        "gauge", "Heap and ArrayBuffer memory of the worker's isolates.",
        "} %uL\n", w->isolate_memory)
    ngx_http_dispatch_status_workers("dispatch_worker_isolate_creations_total",
        "counter", "Isolates the worker process created.",
        "} %uL\n", w->isolates_created)
    ngx_http_dispatch_status_workers(
        "dispatch_worker_idle_collections_total", "counter",
        "Idle isolates whose spare heap memory the worker gave back.",
        "} %uL\n", w->idle_collections)

    ngx_http_dispatch_status_family(o,
        "dispatch_worker_isolate_retirements_total", "counter",
        "Isolates the worker process retired, by reason.");

    for (i = 0; i < NGX_HTTP_DISPATCH_METRICS_WORKERS; i++) {
        w = &snap->workers[i];

        if (!w->used) {
            continue;
        }

        for (k = 0; k < DISPATCH_RETIRE_REASONS; k++) {
            ngx_http_dispatch_status_printf(o,
                "dispatch_worker_isolate_retirements_total"
                "{worker=\"%ui\",reason=\"%s\"} %uL\n",
                i, ngx_http_dispatch_status_reasons[k], w->retired[k]);
        }
    }

    ngx_http_dispatch_status_workers("dispatch_worker_script_cache_total",
        "counter",
        "Requests served from the script cache (hit) or that waited for "
        "Redis (miss); loads of a cached script (revalidation).",
        ",result=\"hit\"} %uL\n"
        "dispatch_worker_script_cache_total{worker=\"%ui\",result=\"miss\"}"
        " %uL\n"
        "dispatch_worker_script_cache_total{worker=\"%ui\","
        "result=\"revalidation\"} %uL\n",
        w->cache_hits, i, w->cache_misses, i, w->cache_revalidations)
    ngx_http_dispatch_status_workers("dispatch_worker_asset_cache_total",
        "counter",
        "Static assets' contents served from the worker's asset cache (hit) "
        "or read from Redis (miss).",
        ",result=\"hit\"} %uL\n"
        "dispatch_worker_asset_cache_total{worker=\"%ui\",result=\"miss\"}"
        " %uL\n",
        w->asset_hits, i, w->asset_misses)
    ngx_http_dispatch_status_workers("dispatch_worker_asset_cache_bytes",
        "gauge", "Bytes of static assets' contents the worker keeps "
        "(dispatch_asset_cache bounds them).",
        "} %uL\n", w->asset_cache_bytes)
    ngx_http_dispatch_status_workers("dispatch_worker_redis_connected",
        "gauge", "1 while the worker's Redis connection is up.",
        "} %uL\n", w->redis_connected)
    ngx_http_dispatch_status_workers("dispatch_worker_redis_reconnects_total",
        "counter", "Connections to Redis the worker made after its first.",
        "} %uL\n", w->redis_reconnects)
    ngx_http_dispatch_status_workers("dispatch_worker_redis_commands_total",
        "counter", "Redis commands the worker had answered.",
        "} %uL\n", w->redis_commands)
    ngx_http_dispatch_status_workers(
        "dispatch_worker_redis_command_seconds_total", "counter",
        "Time from sending Redis commands to their answers, summed.",
        "} %uL.%06uL\n", w->redis_command_us / 1000000,
        w->redis_command_us % 1000000)

#undef ngx_http_dispatch_status_workers

    /* the cardinality bound (README "Operations: metrics and logs") */

    ngx_http_dispatch_status_family(o, "dispatch_status_script_series",
        "gauge", "Scripts with series of their own.");
    ngx_http_dispatch_status_printf(o, "dispatch_status_script_series %ui\n",
                                    snap->scripts);
    ngx_http_dispatch_status_family(o, "dispatch_status_script_series_max",
        "gauge", "The most scripts with series of their own this zone holds.");
    ngx_http_dispatch_status_printf(o,
                                    "dispatch_status_script_series_max %ui\n",
                                    snap->max_scripts);
    ngx_http_dispatch_status_family(o, "dispatch_status_folds_total",
        "counter", "Script counts folded into their namespace's series.");
    ngx_http_dispatch_status_printf(o, "dispatch_status_folds_total %uL\n",
                                    snap->folded);
}


static void
ngx_http_dispatch_status_json(ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_metrics_snapshot_t *snap,
    ngx_http_dispatch_status_series_t *all, ngx_uint_t n)
{
    uint64_t                             v;
    ngx_uint_t                           i, k, first;
    ngx_http_dispatch_series_t          *s;
    ngx_http_dispatch_worker_rec_t      *w;
    ngx_http_dispatch_status_counter_t  *c;

    ngx_http_dispatch_status_printf(o, "{\"scripts\":[");

    for (i = 0; i < n; i++) {
        s = all[i].series;

        ngx_http_dispatch_status_printf(o, "%s{\"namespace\":\"",
                                        i ? "," : "");
        ngx_http_dispatch_status_escaped(o, &all[i].ns);
        ngx_http_dispatch_status_printf(o, "\",\"script\":\"");
        ngx_http_dispatch_status_escaped(o, &all[i].script);
        ngx_http_dispatch_status_printf(o, "\",\"requests\":{");

        for (k = 0; k < DISPATCH_OUTCOMES; k++) {
            ngx_http_dispatch_status_printf(o, "%s\"%s\":%uL", k ? "," : "",
                dispatch_outcome_name((dispatch_outcome_e) k),
                s->requests[k]);
        }

        ngx_http_dispatch_status_printf(o, "},\"duration_seconds\":"
                                        "{\"buckets\":[");

        for (k = 0; k < DISPATCH_WALL_BUCKETS; k++) {
            if (k + 1 == DISPATCH_WALL_BUCKETS) {
                ngx_http_dispatch_status_printf(o, ",[\"+Inf\",%uL]",
                                                s->wall[k]);

            } else {
                ngx_http_dispatch_status_printf(o, "%s[%uL.%03uL,%uL]",
                    k ? "," : "",
                    ngx_http_dispatch_status_buckets[k] / 1000,
                    ngx_http_dispatch_status_buckets[k] % 1000, s->wall[k]);
            }
        }

        ngx_http_dispatch_status_printf(o, "],\"sum\":%uL.%06uL}",
                                        s->wall_us / 1000000,
                                        s->wall_us % 1000000);

        for (c = ngx_http_dispatch_status_counters; c->name; c++) {
            v = ngx_http_dispatch_status_field(s, c->offset);

            /* "dispatch_" and "_total" off: "cpu_seconds", "kv_bytes" */
            ngx_http_dispatch_status_printf(o, ",\"%*s\":", 
                ngx_strlen(c->name) - 9 - 6, c->name + 9);

            if (c->micro) {
                ngx_http_dispatch_status_printf(o, "%uL.%06uL",
                                                v / 1000000, v % 1000000);

            } else {
                ngx_http_dispatch_status_printf(o, "%uL", v);
            }
        }

        ngx_http_dispatch_status_printf(o, "}");
    }

    ngx_http_dispatch_status_printf(o, "],\"workers\":[");

    first = 1;

    for (i = 0; i < NGX_HTTP_DISPATCH_METRICS_WORKERS; i++) {
        w = &snap->workers[i];

        if (!w->used) {
            continue;
        }

        ngx_http_dispatch_status_printf(o,
            "%s{\"worker\":%ui,\"isolates\":%uL,\"isolate_memory_bytes\":%uL,"
            "\"isolate_creations\":%uL,\"idle_collections\":%uL,"
            "\"isolate_retirements\":"
            "{\"lru\":%uL,\"memory\":%uL,\"limit\":%uL,\"version\":%uL},"
            "\"script_cache\":{\"hit\":%uL,\"miss\":%uL,\"revalidation\":%uL},"
            "\"asset_cache\":{\"hit\":%uL,\"miss\":%uL,\"bytes\":%uL},"
            "\"redis_connected\":%uL,\"redis_reconnects\":%uL,"
            "\"redis_commands\":%uL,\"redis_command_seconds\":%uL.%06uL}",
            first ? "" : ",", i, w->isolates, w->isolate_memory,
            w->isolates_created, w->idle_collections,
            w->retired[DISPATCH_RETIRE_LRU],
            w->retired[DISPATCH_RETIRE_MEMORY],
            w->retired[DISPATCH_RETIRE_LIMIT],
            w->retired[DISPATCH_RETIRE_VERSION],
            w->cache_hits, w->cache_misses, w->cache_revalidations,
            w->asset_hits, w->asset_misses, w->asset_cache_bytes,
            w->redis_connected, w->redis_reconnects, w->redis_commands,
            w->redis_command_us / 1000000, w->redis_command_us % 1000000);

        first = 0;
    }

    ngx_http_dispatch_status_printf(o,
        "],\"series\":{\"scripts\":%ui,\"scripts_max\":%ui,"
        "\"namespaces\":%ui,\"namespaces_max\":%ui,\"folds\":%uL}}\n",
        snap->scripts, snap->max_scripts, snap->namespaces,
        snap->max_namespaces, snap->folded);
}


static void
ngx_http_dispatch_status_family(ngx_http_dispatch_status_out_t *o,
    const char *name, const char *type, const char *help)
{
    ngx_http_dispatch_status_printf(o, "# HELP %s %s\n# TYPE %s %s\n",
                                    name, help, name, type);
}


/* {namespace="…",script="…" — the caller closes the braces */

static void
ngx_http_dispatch_status_labels(ngx_http_dispatch_status_out_t *o,
    ngx_http_dispatch_status_series_t *s)
{
    ngx_http_dispatch_status_printf(o, "{namespace=\"");
    ngx_http_dispatch_status_escaped(o, &s->ns);
    ngx_http_dispatch_status_printf(o, "\",script=\"");
    ngx_http_dispatch_status_escaped(o, &s->script);
    ngx_http_dispatch_status_printf(o, "\"");
}


/*
 * A label value (Prometheus) or a JSON string's body: names are 1-63 of
 * a-z 0-9 - _ already, but what is escaped here cannot break out anyway.
 */

static void
ngx_http_dispatch_status_escaped(ngx_http_dispatch_status_out_t *o,
    ngx_str_t *value)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < value->len; i++) {
        c = value->data[i];

        if (c == '\\' || c == '"') {
            ngx_http_dispatch_status_printf(o, "\\%c", c);

        } else if (c == '\n') {
            ngx_http_dispatch_status_printf(o, "\\n");

        } else if (c < 0x20 || c >= 0x7f) {
            ngx_http_dispatch_status_printf(o, "_");

        } else {
            ngx_http_dispatch_status_printf(o, "%c", c);
        }
    }
}


/* appends to the output; a line is far shorter than a buffer */

static void
ngx_http_dispatch_status_printf(ngx_http_dispatch_status_out_t *o,
    const char *fmt, ...)
{
    u_char       *p;
    va_list       args;
    ngx_chain_t  *cl;

    if (o->failed) {
        return;
    }

    if (o->buf == NULL || o->buf->end - o->buf->last < 1024) {
        o->buf = ngx_create_temp_buf(o->pool, NGX_HTTP_DISPATCH_STATUS_BUF);
        cl = ngx_alloc_chain_link(o->pool);

        if (o->buf == NULL || cl == NULL) {
            o->failed = 1;
            return;
        }

        cl->buf = o->buf;
        cl->next = NULL;
        *o->last = cl;
        o->last = &cl->next;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(o->buf->last, o->buf->end, fmt, args);
    va_end(args);

    o->buf->last = p;
}

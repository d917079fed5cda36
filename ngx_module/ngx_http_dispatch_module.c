
/*
 * ngx_dispatch: the module, its directives and the per-worker engine.
 */


#include "ngx_http_dispatch.h"


static void *ngx_http_dispatch_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_dispatch_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_dispatch_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_dispatch_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_dispatch_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dispatch_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dispatch_set_size_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dispatch_log_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dispatch_not_zero(ngx_conf_t *cf, void *post, void *data);
static ngx_int_t ngx_http_dispatch_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_dispatch_init_process(ngx_cycle_t *cycle);
static void ngx_http_dispatch_exit_process(ngx_cycle_t *cycle);


dispatch_engine_t  *ngx_http_dispatch_engine;


static ngx_conf_enum_t  ngx_http_dispatch_log_formats[] = {
    { ngx_string("text"), NGX_HTTP_DISPATCH_LOG_TEXT },
    { ngx_string("json"), NGX_HTTP_DISPATCH_LOG_JSON },
    { ngx_null_string, 0 }
};


/* a limit of 0 would stop every script: refused, with the directive named */
static ngx_conf_post_t  ngx_http_dispatch_not_zero_post = {
    ngx_http_dispatch_not_zero
};


static ngx_command_t  ngx_http_dispatch_commands[] = {

    { ngx_string("dispatch"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_dispatch,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_dispatch_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_dispatch_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_script_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, script_max_size),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, cache_ttl),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_stale_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, stale_ttl),
      NULL },

    { ngx_string("dispatch_startup_cpu_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, startup_cpu_limit),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_memory_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, memory_limit),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_worker_memory"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, worker_memory),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_isolates"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, isolates),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_startup_snapshot"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, startup_snapshot),
      NULL },

    { ngx_string("dispatch_prepared_isolates"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, prepared_isolates),
      NULL },

    { ngx_string("dispatch_code_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, code_cache),
      NULL },

    { ngx_string("dispatch_kv_quota"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, kv_quota),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_log_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_dispatch_log_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_asset_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, asset_cache),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_log_format"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, log_format),
      &ngx_http_dispatch_log_formats },

    { ngx_string("dispatch_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_dispatch_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_hang_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, hang_timeout),
      NULL },

    { ngx_string("dispatch_quarantine_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_dispatch_quarantine_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_cache_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_dispatch_cache_path,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_fetch_allow"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_dispatch_fetch_allow,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_fetch_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_dispatch_fetch_trusted_certificate,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_fetch_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, fetch_connect_timeout),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_fetch_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, fetch_send_timeout),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_fetch_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, fetch_read_timeout),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_fetch_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, fetch_connections),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_seccomp"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_dispatch_main_conf_t, seccomp),
      NULL },

    { ngx_string("dispatch_landlock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_dispatch_landlock,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_secrets_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_dispatch_secrets_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_namespaces"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_dispatch_namespaces,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dispatch_cpu_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dispatch_loc_conf_t, cpu_limit),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_wall_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dispatch_loc_conf_t, wall_limit),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_websocket_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dispatch_loc_conf_t, websocket_idle_timeout),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_script_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dispatch_loc_conf_t, script_concurrency),
      &ngx_http_dispatch_not_zero_post },

    /* 0 is refused: the engine reads a 0 in the view as "the default" */

    { ngx_string("dispatch_subrequest_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_dispatch_loc_conf_t, subrequest_limit),
      &ngx_http_dispatch_not_zero_post },

    { ngx_string("dispatch_request_cf"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_dispatch_request_cf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_dispatch_module_ctx = {
    ngx_http_dispatch_preconfiguration,    /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_dispatch_create_main_conf,    /* create main configuration */
    ngx_http_dispatch_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_dispatch_create_loc_conf,     /* create location configuration */
    ngx_http_dispatch_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_dispatch_module = {
    NGX_MODULE_V1,
    &ngx_http_dispatch_module_ctx,         /* module context */
    ngx_http_dispatch_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_dispatch_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_dispatch_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_dispatch_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_dispatch_main_conf_t  *dmcf;

    dmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_dispatch_main_conf_t));
    if (dmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     dmcf->enabled = 0;
     *     dmcf->redis_set = 0;
     *     dmcf->redis_db = 0;
     *     dmcf->redis_unix = { 0, NULL };
     *     dmcf->redis_password = { 0, NULL };
     *     dmcf->redis_user = { 0, NULL };
     *     dmcf->zone = NULL;
 *     dmcf->cache = NULL;
     *     dmcf->fetch_allow = NULL;
     *     dmcf->fetch_trusted_certificate = { 0, NULL };
     *     dmcf->fetch_ssl = NULL;
     *     dmcf->secrets_keys = NULL;
     *     dmcf->namespaces = NULL;
     *     dmcf->dispatched = NULL;
     *     dmcf->landlock_dirs = NULL;
     */

    dmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    dmcf->script_max_size = NGX_CONF_UNSET_SIZE;
    dmcf->cache_ttl = NGX_CONF_UNSET_MSEC;
    dmcf->stale_ttl = NGX_CONF_UNSET_MSEC;
    dmcf->startup_cpu_limit = NGX_CONF_UNSET_MSEC;
    dmcf->memory_limit = NGX_CONF_UNSET_SIZE;
    dmcf->worker_memory = NGX_CONF_UNSET_SIZE;
    dmcf->isolates = NGX_CONF_UNSET_UINT;
    dmcf->startup_snapshot = NGX_CONF_UNSET;
    dmcf->prepared_isolates = NGX_CONF_UNSET_UINT;
    dmcf->code_cache = NGX_CONF_UNSET_SIZE;
    dmcf->kv_quota = NGX_CONF_UNSET_SIZE;
    dmcf->asset_cache = NGX_CONF_UNSET_SIZE;
    dmcf->log_limit = NGX_CONF_UNSET_UINT;
    dmcf->log_bytes_limit = NGX_CONF_UNSET_SIZE;
    dmcf->log_format = NGX_CONF_UNSET_UINT;
    dmcf->hang_timeout = NGX_CONF_UNSET_MSEC;
    dmcf->quarantine_period = NGX_CONF_UNSET_MSEC;
    dmcf->fetch_connect_timeout = NGX_CONF_UNSET_MSEC;
    dmcf->fetch_send_timeout = NGX_CONF_UNSET_MSEC;
    dmcf->fetch_read_timeout = NGX_CONF_UNSET_MSEC;
    dmcf->fetch_connections = NGX_CONF_UNSET_UINT;
    dmcf->seccomp = NGX_CONF_UNSET;
    dmcf->landlock = NGX_CONF_UNSET;

    return dmcf;
}


static char *
ngx_http_dispatch_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_dispatch_main_conf_t  *dmcf = conf;

    if (!dmcf->redis_set) {
        ngx_str_set(&dmcf->redis_host, "127.0.0.1");
        dmcf->redis_port = 6379;
    }

    ngx_conf_init_msec_value(dmcf->redis_timeout, 1000);
    ngx_conf_init_size_value(dmcf->script_max_size, 10 * 1024 * 1024);
    ngx_conf_init_msec_value(dmcf->cache_ttl, 10000);
    ngx_conf_init_msec_value(dmcf->stale_ttl, 3600000);
    ngx_conf_init_msec_value(dmcf->startup_cpu_limit, 1000);
    ngx_conf_init_size_value(dmcf->memory_limit, 128 * 1024 * 1024);
    ngx_conf_init_size_value(dmcf->worker_memory,
                             (size_t) 2 * 1024 * 1024 * 1024);
    ngx_conf_init_uint_value(dmcf->isolates, 256);
    ngx_conf_init_value(dmcf->startup_snapshot, 1);
    ngx_conf_init_uint_value(dmcf->prepared_isolates,
                             ngx_min(2, dmcf->isolates));
    ngx_conf_init_size_value(dmcf->code_cache, 64 * 1024 * 1024);
    ngx_conf_init_size_value(dmcf->kv_quota, (size_t) 1024 * 1024 * 1024);
    ngx_conf_init_size_value(dmcf->asset_cache, (size_t) 32 * 1024 * 1024);
    ngx_conf_init_uint_value(dmcf->log_limit, 100);
    ngx_conf_init_size_value(dmcf->log_bytes_limit, 64 * 1024);
    ngx_conf_init_uint_value(dmcf->log_format, NGX_HTTP_DISPATCH_LOG_TEXT);
    ngx_conf_init_msec_value(dmcf->hang_timeout, 1000);
    ngx_conf_init_value(dmcf->seccomp, 1);
    ngx_conf_init_value(dmcf->landlock, 0);

    /* shorter would end workers whose JavaScript is merely slow to unwind */

    if (dmcf->hang_timeout < 250) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dispatch_hang_timeout\" must be at least 250ms");
        return NGX_CONF_ERROR;
    }

    /* V8 needs some room for an isolate, its context and the built-ins */

    if (dmcf->memory_limit < 8 * 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dispatch_memory_limit\" must be at least 8m");
        return NGX_CONF_ERROR;
    }

    if (dmcf->worker_memory < dmcf->memory_limit) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dispatch_worker_memory\" must be at least "
                           "\"dispatch_memory_limit\"");
        return NGX_CONF_ERROR;
    }

    /* prepared isolates wait in the pool: more than it holds is a mistake */

    if (dmcf->prepared_isolates > dmcf->isolates) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dispatch_prepared_isolates\" (%ui) must be at "
                           "most \"dispatch_isolates\" (%ui)",
                           dmcf->prepared_isolates, dmcf->isolates);
        return NGX_CONF_ERROR;
    }

    /* secrets at rest: a warning without keys */

    ngx_http_dispatch_defence_init_conf(cf, dmcf);

    /* fetch(): its timeouts and the TLS client context */

    if (ngx_http_dispatch_fetch_init_conf(cf, dmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* the penalty box: a default zone when some location dispatches */

    return ngx_http_dispatch_zone_init_conf(cf, dmcf);
}


static void *
ngx_http_dispatch_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_dispatch_loc_conf_t  *dlcf;

    dlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_dispatch_loc_conf_t));
    if (dlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     dlcf->ns = NULL;
     *     dlcf->script = NULL;
     *     dlcf->admin = 0;
     *     dlcf->admin_token = { 0, NULL };
     *     dlcf->admin_clcf = NULL;
     */

    dlcf->cpu_limit = NGX_CONF_UNSET_MSEC;
    dlcf->wall_limit = NGX_CONF_UNSET_MSEC;
    dlcf->websocket_idle_timeout = NGX_CONF_UNSET_MSEC;
    dlcf->script_concurrency = NGX_CONF_UNSET_UINT;
    dlcf->subrequest_limit = NGX_CONF_UNSET_UINT;
    dlcf->request_cf = NGX_CONF_UNSET_PTR;

    return dlcf;
}


static char *
ngx_http_dispatch_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_dispatch_loc_conf_t *prev = parent;
    ngx_http_dispatch_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->cpu_limit, prev->cpu_limit, 50);
    ngx_conf_merge_msec_value(conf->wall_limit, prev->wall_limit, 30000);
    ngx_conf_merge_msec_value(conf->websocket_idle_timeout,
                              prev->websocket_idle_timeout, 100000);
    ngx_conf_merge_uint_value(conf->script_concurrency,
                              prev->script_concurrency, 64);
    ngx_conf_merge_uint_value(conf->subrequest_limit,
                              prev->subrequest_limit, 50);
    ngx_conf_merge_ptr_value(conf->request_cf, prev->request_cf, NULL);

    /*
     * The core module's settings of this location are merged by now: an
     * admin body is kept in memory, so its size must have a bound.
     */

    if (conf->admin && conf->admin_clcf->client_max_body_size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dispatch_admin\" in location \"%V\" needs "
                           "a \"client_max_body_size\" other than 0: "
                           "its request bodies are read into memory",
                           &conf->admin_clcf->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* as ngx_conf_set_size_slot, with a "g" suffix too: "dispatch_worker_memory 2g" */

static char *
ngx_http_dispatch_set_size_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    off_t             size;
    size_t           *sp;
    ngx_str_t        *value;
    ngx_conf_post_t  *post;

    sp = (size_t *) (p + cmd->offset);
    if (*sp != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_offset(&value[1]);
    if (size == NGX_ERROR) {
        return "invalid value";
    }

    *sp = (size_t) size;

    if (cmd->post) {
        post = cmd->post;
        return post->post_handler(cf, post, sp);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_dispatch_not_zero(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;   /* msec, size and num slots alike */

    if (*np == 0) {
        return "must not be zero";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_dispatch_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_dispatch_add_variables(cf);
}


/* dispatch NAMESPACE SCRIPT; */

static char *
ngx_http_dispatch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_loc_conf_t *dlcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_complex_value_t         **cv[2];
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_dispatch_main_conf_t     *dmcf;
    ngx_http_compile_complex_value_t   ccv;

    if (dlcf->ns != NULL) {
        return "is duplicate";
    }

    if (dlcf->admin) {
        return "cannot be combined with \"dispatch_admin\" in one location";
    }

    if (dlcf->status) {
        return "cannot be combined with \"dispatch_status\" in one location";
    }

    value = cf->args->elts;
    cv[0] = &dlcf->ns;
    cv[1] = &dlcf->script;

    for (i = 0; i < 2; i++) {
        if (value[i + 1].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty %s in \"%V\"",
                               i == 0 ? "namespace" : "script", &cmd->name);
            return NGX_CONF_ERROR;
        }

        *cv[i] = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (*cv[i] == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i + 1];
        ccv.complex_value = *cv[i];

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* a constant name is checked now rather than on every request */

        if ((*cv[i])->lengths == NULL
            && !dispatch_name_valid((const char *) value[i + 1].data,
                                    value[i + 1].len))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid %s name \"%V\" in \"%V\": "
                               "1-63 characters of a-z 0-9 - _",
                               i == 0 ? "namespace" : "script",
                               &value[i + 1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_dispatch_handler;

    dmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_dispatch_module);
    dmcf->enabled = 1;

    /* checked against dispatch_namespaces once the http block is read */
    if (dlcf->ns->lengths == NULL) {
        return ngx_http_dispatch_note_namespace(cf, dmcf, &value[1]);
    }

    return NGX_CONF_OK;
}


/*
 * dispatch_admin [token=TOKEN];
 *
 * The management API under this location's prefix, which is stripped from
 * the path the engine sees: a prefix location only.
 */

static char *
ngx_http_dispatch_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_loc_conf_t *dlcf = conf;

    u_char                         *p, *last;
    ngx_str_t                      *value;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_dispatch_main_conf_t  *dmcf;

    if (dlcf->admin) {
        return "is duplicate";
    }

    if (dlcf->ns != NULL) {
        return "cannot be combined with \"dispatch\" in one location";
    }

    if (dlcf->status) {
        return "cannot be combined with \"dispatch_status\" in one location";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
       )
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a prefix location "
                           "(its prefix is taken off the API's paths), "
                           "not \"%V\"", &cmd->name, &clcf->name);
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {

        if (value[1].len <= 6 || ngx_strncmp(value[1].data, "token=", 6) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\": "
                               "expected token=TOKEN",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        /* it travels in "Authorization: Bearer TOKEN" */

        last = value[1].data + value[1].len;

        for (p = value[1].data + 6; p < last; p++) {
            if (*p <= 0x20 || *p >= 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid token in \"%V\": "
                                   "visible ASCII characters only",
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        dlcf->admin_token.data = value[1].data + 6;
        dlcf->admin_token.len = value[1].len - 6;

        if (dlcf->admin_token.len < 16) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "a token of fewer than 16 characters in "
                               "\"%V\" is easy to guess", &cmd->name);
        }
    }

    dlcf->admin = 1;
    dlcf->admin_clcf = clcf;

    clcf->handler = ngx_http_dispatch_admin_handler;

    /* the engine (V8 and Redis) starts in workers with an admin location */

    dmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_dispatch_module);
    dmcf->enabled = 1;

    return NGX_CONF_OK;
}


/*
 * Resolves one "host[:port]" of dispatch_redis, once, into an address the
 * engine connects to without a blocking resolver call.
 */

static char *
ngx_http_dispatch_redis_address(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *text, ngx_url_t *u)
{
    ngx_memzero(u, sizeof(ngx_url_t));

    u->url = *text;
    u->default_port = 6379;

    if (ngx_parse_url(cf->pool, u) != NGX_OK) {
        if (u->err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\" of \"%V\"",
                               u->err, &u->url, &cmd->name);
        }

        return NGX_CONF_ERROR;
    }

    if (u->naddrs == 0 || u->uri.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in \"%V\"",
                           &u->url, &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * cluster=ADDR[,ADDR…] or sentinel=ADDR[,ADDR…]: the seed nodes or the
 * sentinels, each kept as "IP:port" ("[IPv6]:port").
 */

static char *
ngx_http_dispatch_redis_nodes(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_dispatch_main_conf_t *dmcf, u_char *start, u_char *end)
{
    char       *rv, **node;
    u_char     *comma;
    ngx_str_t   one;
    ngx_url_t   u;

    dmcf->redis_nodes = ngx_array_create(cf->pool, 4, sizeof(char *));
    if (dmcf->redis_nodes == NULL) {
        return NGX_CONF_ERROR;
    }

    while (start < end) {
        comma = ngx_strlchr(start, end, ',');
        if (comma == NULL) {
            comma = end;
        }

        one.data = start;
        one.len = comma - start;
        start = comma + 1;

        if (one.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "an empty address in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        rv = ngx_http_dispatch_redis_address(cf, cmd, &one, &u);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        node = ngx_array_push(dmcf->redis_nodes);
        if (node == NULL) {
            return NGX_CONF_ERROR;
        }

        *node = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (*node == NULL) {
            return NGX_CONF_ERROR;
        }

        (*node)[ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                              (u_char *) *node, NGX_SOCKADDR_STRLEN, 1)] = '\0';
    }

    if (dmcf->redis_nodes->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address in \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * dispatch_log_limit N [bytes=SIZE]; lines a request may write, and their
 * bytes (default 64k): a line is written while both have room.
 */

static char *
ngx_http_dispatch_log_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    ssize_t     size;
    ngx_int_t   n;
    ngx_str_t  *value, s;

    if (dmcf->log_limit != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR) {
        return "invalid number";
    }

    if (n == 0) {
        return "must not be zero";
    }

    dmcf->log_limit = n;

    if (cf->args->nelts == 3) {

        if (value[2].len <= 6 || ngx_strncmp(value[2].data, "bytes=", 6) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\": "
                               "expected bytes=SIZE",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        size = ngx_parse_size(&s);

        if (size == NGX_ERROR) {
            return "invalid value of bytes=";
        }

        if (size == 0) {
            return "must not be zero";
        }

        dmcf->log_bytes_limit = size;
    }

    return NGX_CONF_OK;
}


/*
 * dispatch_redis ADDRESS [db=N] [user=U password=P] [timeout=TIME] [wait=N];
 * dispatch_redis cluster=ADDR[,ADDR…] [user=U password=P] [timeout=TIME]
 *     [wait=N];
 * dispatch_redis sentinel=ADDR[,ADDR…] master=NAME [user=U password=P]
 *     [db=N] [timeout=TIME] [wait=N];
 */

static char *
ngx_http_dispatch_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    u_char      *p;
    ngx_str_t   *value, s;
    ngx_int_t    n;
    ngx_url_t    u;
    ngx_uint_t   i;
    ngx_msec_t   ms;

    if (dmcf->redis_set) {
        return "is duplicate";
    }

    dmcf->redis_set = 1;
    value = cf->args->elts;

    if (value[1].len > 8 && ngx_strncmp(value[1].data, "cluster=", 8) == 0) {
        dmcf->redis_mode = DISPATCH_REDIS_CLUSTER;
        if (ngx_http_dispatch_redis_nodes(cf, cmd, dmcf, value[1].data + 8,
                                          value[1].data + value[1].len)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else if (value[1].len > 9
               && ngx_strncmp(value[1].data, "sentinel=", 9) == 0)
    {
        dmcf->redis_mode = DISPATCH_REDIS_SENTINEL;
        if (ngx_http_dispatch_redis_nodes(cf, cmd, dmcf, value[1].data + 9,
                                          value[1].data + value[1].len)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else if (value[1].len > 5
               && ngx_strncmp(value[1].data, "unix:", 5) == 0)
    {
        dmcf->redis_unix.len = value[1].len - 5;
        dmcf->redis_unix.data = ngx_pnalloc(cf->pool, dmcf->redis_unix.len + 1);
        if (dmcf->redis_unix.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(dmcf->redis_unix.data, value[1].data + 5,
                       dmcf->redis_unix.len);
        *p = '\0';

    } else {
        /* a host name is resolved here, once: hiredis would resolve it
         * with a blocking call in the worker */

        if (ngx_http_dispatch_redis_address(cf, cmd, &value[1], &u)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        dmcf->redis_host.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (dmcf->redis_host.data == NULL) {
            return NGX_CONF_ERROR;
        }

        dmcf->redis_host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                             u.addrs[0].socklen,
                                             dmcf->redis_host.data,
                                             NGX_SOCKADDR_STRLEN, 0);
        dmcf->redis_host.data[dmcf->redis_host.len] = '\0';
        dmcf->redis_port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            dmcf->redis_db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "wait=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);
            if (n == NGX_ERROR || n > 16) {
                goto invalid;
            }

            dmcf->redis_wait = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "master=", 7) == 0
            && dmcf->redis_mode == DISPATCH_REDIS_SENTINEL)
        {
            if (value[i].len == 7) {
                goto invalid;
            }

            dmcf->redis_master.len = value[i].len - 7;
            dmcf->redis_master.data = ngx_pnalloc(cf->pool,
                                                  dmcf->redis_master.len + 1);
            if (dmcf->redis_master.data == NULL) {
                return NGX_CONF_ERROR;
            }

            p = ngx_cpymem(dmcf->redis_master.data, value[i].data + 7,
                           dmcf->redis_master.len);
            *p = '\0';
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            if (value[i].len == 9) {
                goto invalid;
            }

            dmcf->redis_password.len = value[i].len - 9;
            dmcf->redis_password.data = ngx_pnalloc(cf->pool,
                                                 dmcf->redis_password.len + 1);
            if (dmcf->redis_password.data == NULL) {
                return NGX_CONF_ERROR;
            }

            p = ngx_cpymem(dmcf->redis_password.data, value[i].data + 9,
                           dmcf->redis_password.len);
            *p = '\0';
            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            if (value[i].len == 5) {
                goto invalid;
            }

            /* the arguments are NUL-terminated by the parser */
            dmcf->redis_user.len = value[i].len - 5;
            dmcf->redis_user.data = value[i].data + 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            ms = ngx_parse_time(&s, 0);
            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            dmcf->redis_timeout = ms;
            continue;
        }

        goto invalid;
    }

    if (dmcf->redis_mode == DISPATCH_REDIS_CLUSTER && dmcf->redis_db != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"db=\" cannot be used with \"cluster=\" in "
                           "\"%V\": Redis Cluster has database 0 only",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (dmcf->redis_mode == DISPATCH_REDIS_SENTINEL
        && dmcf->redis_master.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sentinel=\" needs \"master=NAME\" in \"%V\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (dmcf->redis_user.len && dmcf->redis_password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"user=\" in \"%V\" needs \"password=\"",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * V8 starts here, in each worker, never in the master (a process forked
 * while an isolate lives crashes in the child), in "nginx -t" or in the
 * cache manager and loader.
 */

static ngx_int_t
ngx_http_dispatch_init_process(ngx_cycle_t *cycle)
{
    char                            err[256];
    dispatch_host_t                 host;
    dispatch_engine_conf_t          conf;
    ngx_http_dispatch_main_conf_t  *dmcf;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        return NGX_OK;
    }

    dmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_dispatch_module);

    if (dmcf == NULL || !dmcf->enabled) {
        return NGX_OK;
    }

    /* before V8 starts its threads: Landlock binds those made after it */
    if (ngx_http_dispatch_landlock_init_process(cycle, dmcf) != NGX_OK) {
        return NGX_OK;
    }

    ngx_memzero(&conf, sizeof(dispatch_engine_conf_t));

    if (dmcf->redis_unix.len) {
        conf.redis_unix = (const char *) dmcf->redis_unix.data;

    } else {
        conf.redis_host = (const char *) dmcf->redis_host.data;
        conf.redis_port = (int) dmcf->redis_port;
    }

    conf.redis_db = (int) dmcf->redis_db;
    conf.redis_password = dmcf->redis_password.len
                          ? (const char *) dmcf->redis_password.data : NULL;
    conf.redis_timeout_ms = dmcf->redis_timeout;
    conf.redis_mode = (int) dmcf->redis_mode;
    conf.redis_wait = (int) dmcf->redis_wait;

    if (dmcf->redis_nodes) {
        conf.redis_nodes = dmcf->redis_nodes->elts;
        conf.nredis_nodes = dmcf->redis_nodes->nelts;
    }

    conf.redis_master_name = dmcf->redis_master.len
                             ? (const char *) dmcf->redis_master.data : NULL;
    conf.script_max_size = dmcf->script_max_size;
    conf.cache_ttl_ms = dmcf->cache_ttl;
    conf.stale_ttl_ms = dmcf->stale_ttl;
    conf.startup_cpu_limit_ms = dmcf->startup_cpu_limit;
    conf.memory_limit = dmcf->memory_limit;
    conf.worker_memory = dmcf->worker_memory;
    conf.max_isolates = dmcf->isolates;
    conf.no_startup_snapshot = !dmcf->startup_snapshot;
    conf.prepared_isolates = dmcf->prepared_isolates;
    conf.code_cache_size = dmcf->code_cache;
    conf.kv_quota = dmcf->kv_quota;
    conf.asset_cache_size = dmcf->asset_cache;
    conf.log_limit = (uint32_t) dmcf->log_limit;
    conf.log_bytes_limit = dmcf->log_bytes_limit;
    conf.log_json = (dmcf->log_format == NGX_HTTP_DISPATCH_LOG_JSON);
    conf.hang_timeout_ms = dmcf->hang_timeout;
    conf.quarantine_ms = dmcf->quarantine_period;

    ngx_http_dispatch_host_init(&host, dmcf->zone);
    ngx_http_dispatch_fetch_init_process(cycle, dmcf, &conf, &host);
    ngx_http_dispatch_defence_init_process(dmcf, &conf);
    ngx_http_dispatch_cache_host_init(&host, &conf, dmcf);

    ngx_http_dispatch_engine = dispatch_engine_create(&conf, &host, err,
                                                      sizeof(err));

    if (ngx_http_dispatch_engine == NULL) {
        /* the worker keeps serving; dispatch locations answer 503 */
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "dispatch: cannot start the engine: %s", err);
        return NGX_OK;
    }

    ngx_http_dispatch_metrics_init_process(cycle, dmcf->zone);
    ngx_http_dispatch_seccomp_init_process(cycle, dmcf);

    return NGX_OK;
}


static void
ngx_http_dispatch_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_dispatch_engine) {
        /* what it counted since the last flush is not lost */
        ngx_http_dispatch_metrics_exit_process(cycle);

        dispatch_engine_destroy(ngx_http_dispatch_engine);
        ngx_http_dispatch_engine = NULL;
    }
}

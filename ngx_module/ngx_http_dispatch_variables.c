
/*
 * Variables for log_format: $dispatch_namespace, $dispatch_script,
 * $dispatch_outcome, $dispatch_cpu_ms, $dispatch_subrequests and
 * $dispatch_chain_failure. Empty ("not found") for a request that no
 * dispatch location handled.
 */


#include "ngx_http_dispatch.h"


static ngx_int_t ngx_http_dispatch_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_dispatch_variable_refresh(ngx_http_dispatch_ctx_t *ctx);


enum {
    NGX_HTTP_DISPATCH_VAR_NAMESPACE = 0,
    NGX_HTTP_DISPATCH_VAR_SCRIPT,
    NGX_HTTP_DISPATCH_VAR_OUTCOME,
    NGX_HTTP_DISPATCH_VAR_CPU_MS,
    NGX_HTTP_DISPATCH_VAR_SUBREQUESTS,
    NGX_HTTP_DISPATCH_VAR_CHAIN_FAILURE
};


static ngx_http_variable_t  ngx_http_dispatch_vars[] = {

    { ngx_string("dispatch_namespace"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_NAMESPACE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("dispatch_script"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_SCRIPT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("dispatch_outcome"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_OUTCOME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("dispatch_cpu_ms"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_CPU_MS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("dispatch_subrequests"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_SUBREQUESTS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("dispatch_chain_failure"), NULL, ngx_http_dispatch_variable,
      NGX_HTTP_DISPATCH_VAR_CHAIN_FAILURE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_dispatch_add_variables(ngx_conf_t *cf)
{
    ngx_str_t                       name;
    ngx_http_variable_t            *var, *v;
    ngx_http_dispatch_main_conf_t  *dmcf;

    /* nginx's own $request_id, for the lines a script causes */

    dmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_dispatch_module);

    ngx_str_set(&name, "request_id");
    dmcf->request_id_index = ngx_http_get_variable_index(cf, &name);

    for (v = ngx_http_dispatch_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_dispatch_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                   *p;
    const char               *name;
    ngx_http_dispatch_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_dispatch_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_DISPATCH_VAR_NAMESPACE:
        v->data = ctx->ns.data;
        v->len = ctx->ns.len;
        break;

    case NGX_HTTP_DISPATCH_VAR_SCRIPT:
        v->data = ctx->script.data;
        v->len = ctx->script.len;
        break;

    case NGX_HTTP_DISPATCH_VAR_OUTCOME:
        ngx_http_dispatch_variable_refresh(ctx);

        if (!ctx->outcome_set) {
            v->not_found = 1;
            return NGX_OK;
        }

        name = dispatch_outcome_name(ctx->outcome);
        v->data = (u_char *) name;
        v->len = ngx_strlen(name);
        break;

    case NGX_HTTP_DISPATCH_VAR_CHAIN_FAILURE:
        if (ctx->chain_failure.len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = ctx->chain_failure.data;
        v->len = ctx->chain_failure.len;
        break;

    case NGX_HTTP_DISPATCH_VAR_SUBREQUESTS:
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui", ctx->subrequests) - p;
        break;

    default: /* NGX_HTTP_DISPATCH_VAR_CPU_MS */
        ngx_http_dispatch_variable_refresh(ctx);

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + sizeof(".000") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%.3f", ctx->cpu_ms) - p;
        break;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * A streamed body goes on after the header was read: the CPU its pieces
 * took, and the limit that cut it, are the engine's to tell until the
 * request is released (from the pool's cleanup, after the log phase).
 */

static void
ngx_http_dispatch_variable_refresh(ngx_http_dispatch_ctx_t *ctx)
{
    dispatch_response_t  resp;

    if (ctx->engine_req == NULL || !ctx->responded || !ctx->streaming) {
        return;
    }

    ngx_memzero(&resp, sizeof(dispatch_response_t));

    if (dispatch_request_response(ctx->engine_req, &resp)) {
        ctx->outcome = resp.outcome;
        ctx->cpu_ms = resp.cpu_ms;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "dispatch variables refreshed: outcome \"%s\", "
                       "cpu %.3f ms", dispatch_outcome_name(resp.outcome),
                       resp.cpu_ms);
    }
}

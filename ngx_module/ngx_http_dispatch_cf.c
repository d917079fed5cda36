
/*
 * ngx_dispatch: dispatch_request_cf, the properties of request.cf that the
 * platform maps from nginx variables.
 */


#include "ngx_http_dispatch.h"


typedef struct {
    ngx_str_t                  name;
    ngx_http_complex_value_t   value;
} ngx_http_dispatch_cf_t;


/*
 * dispatch_request_cf NAME VALUE; a level that has any replaces the list of
 * the level around it, as add_header does.
 */

char *
ngx_http_dispatch_request_cf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_loc_conf_t *dlcf = conf;

    u_char                            *p;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_dispatch_cf_t            *entry;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > DISPATCH_CF_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": a property name is 1-%d characters",
                           &cmd->name, DISPATCH_CF_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": property name \"%V\" is not made of "
                               "letters, digits and \"_\"",
                               &cmd->name, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (dlcf->request_cf == NGX_CONF_UNSET_PTR) {
        dlcf->request_cf = ngx_array_create(cf->pool, 4,
                                            sizeof(ngx_http_dispatch_cf_t));
        if (dlcf->request_cf == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    entry = dlcf->request_cf->elts;

    for (i = 0; i < dlcf->request_cf->nelts; i++) {
        if (entry[i].name.len == value[1].len
            && ngx_strncmp(entry[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": property \"%V\" is given twice",
                               &cmd->name, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (dlcf->request_cf->nelts >= DISPATCH_CF_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": at most %d properties",
                           &cmd->name, DISPATCH_CF_MAX);
        return NGX_CONF_ERROR;
    }

    entry = ngx_array_push(dlcf->request_cf);
    if (entry == NULL) {
        return NGX_CONF_ERROR;
    }

    entry->name = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &entry->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The location's properties for this request, into r->pool. A value that
 * comes out empty (a header the client did not send, a lookup that found
 * nothing) leaves its property out, as Cloudflare leaves out what it does
 * not know; one longer than the engine takes is left out too.
 */

ngx_int_t
ngx_http_dispatch_cf_values(ngx_http_request_t *r,
    ngx_http_dispatch_loc_conf_t *dlcf, dispatch_header_t **out, size_t *nout)
{
    ngx_str_t                value;
    ngx_uint_t               i;
    dispatch_header_t       *cf;
    ngx_http_dispatch_cf_t  *entry;

    *out = NULL;
    *nout = 0;

    if (dlcf->request_cf == NULL || dlcf->request_cf->nelts == 0) {
        return NGX_OK;
    }

    cf = ngx_pnalloc(r->pool,
                     dlcf->request_cf->nelts * sizeof(dispatch_header_t));
    if (cf == NULL) {
        return NGX_ERROR;
    }

    entry = dlcf->request_cf->elts;

    for (i = 0; i < dlcf->request_cf->nelts; i++) {

        if (ngx_http_complex_value(r, &entry[i].value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len == 0 || value.len > DISPATCH_CF_VALUE_MAX) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "dispatch cf: \"%V\" left out, %uz bytes",
                           &entry[i].name, value.len);
            continue;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "dispatch cf: \"%V\": \"%V\"", &entry[i].name, &value);

        cf[*nout].name.data = (const char *) entry[i].name.data;
        cf[*nout].name.len = entry[i].name.len;
        cf[*nout].value.data = (const char *) value.data;
        cf[*nout].value.len = value.len;
        (*nout)++;
    }

    *out = cf;

    return NGX_OK;
}

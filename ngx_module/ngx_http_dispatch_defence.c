/*
 * ngx_dispatch: what limits the harm of a compromised worker, besides its
 * seccomp filter: dispatch_secrets_key, the keys that seal secret_text
 * values at rest (the engine's secret_seal.cc does the sealing),
 * dispatch_namespaces, the cordon of an instance, and the Redis ACL user of
 * its tier (dispatch_redis user=).
 *
 * The files are read while the configuration is read, by the master (as
 * root, typically), so they may be readable by root alone: a worker never
 * opens them, and Redis never sees a key.
 */


#include "ngx_http_dispatch.h"


#define NGX_HTTP_DISPATCH_KEY_SIZE  32


/* 64 hex digits, with white space around them (a trailing newline) */

static ngx_int_t
ngx_http_dispatch_parse_key(u_char *text, size_t len, u_char *key)
{
    u_char     *p, *last;
    ngx_int_t   hi, lo;
    ngx_uint_t  n;

    p = text;
    last = text + len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    while (last > p
           && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\r'
               || last[-1] == '\n'))
    {
        last--;
    }

    if (last - p != 2 * NGX_HTTP_DISPATCH_KEY_SIZE) {
        return NGX_ERROR;
    }

    for (n = 0; n < NGX_HTTP_DISPATCH_KEY_SIZE; n++) {
        hi = ngx_hextoi(p + 2 * n, 1);
        lo = ngx_hextoi(p + 2 * n + 1, 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return NGX_ERROR;
        }

        key[n] = (u_char) (hi << 4 | lo);
    }

    return NGX_OK;
}


/* dispatch_secrets_key FILE [OLD_FILE ...]; */

char *
ngx_http_dispatch_secrets_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    u_char           text[256], **key;
    ssize_t          n;
    ngx_str_t       *value, file;
    ngx_uint_t       i;
    ngx_file_t       f;
    ngx_file_info_t  fi;

    if (dmcf->secrets_keys != NULL) {
        return "is duplicate";
    }

    dmcf->secrets_keys = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(u_char *));
    if (dmcf->secrets_keys == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        file = value[i];

        if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&f, sizeof(ngx_file_t));
        f.name = file;
        f.log = cf->log;

        f.fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
        if (f.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%V\": cannot open \"%V\"", &cmd->name, &file);
            return NGX_CONF_ERROR;
        }

        if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%V\": cannot stat \"%V\"", &cmd->name, &file);
            ngx_close_file(f.fd);
            return NGX_CONF_ERROR;
        }

        /* a key others can read is no secret */

        if (fi.st_mode & (S_IRWXG | S_IRWXO)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"%V\": \"%V\" is readable by others than "
                               "its owner (chmod 600 it)", &cmd->name, &file);
        }

        n = ngx_read_file(&f, text, sizeof(text), 0);
        ngx_close_file(f.fd);

        if (n == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        key = ngx_array_push(dmcf->secrets_keys);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        *key = ngx_pnalloc(cf->pool, NGX_HTTP_DISPATCH_KEY_SIZE);
        if (*key == NULL) {
            return NGX_CONF_ERROR;
        }

        if (n == (ssize_t) sizeof(text)
            || ngx_http_dispatch_parse_key(text, n, *key) != NGX_OK)
        {
            ngx_explicit_memzero(text, sizeof(text));
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": \"%V\" must hold a 256-bit key as 64 "
                               "hex digits (openssl rand -hex 32)",
                               &cmd->name, &file);
            return NGX_CONF_ERROR;
        }

        ngx_explicit_memzero(text, sizeof(text));

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                       "dispatch: secrets key %ui read", i);
    }

    return NGX_CONF_OK;
}


/* a constant namespace of a "dispatch" location, for the check below */

char *
ngx_http_dispatch_note_namespace(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf, ngx_str_t *ns)
{
    ngx_str_t  *s;

    if (dmcf->dispatched == NULL) {
        dmcf->dispatched = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (dmcf->dispatched == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    s = ngx_array_push(dmcf->dispatched);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = *ns;

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_http_dispatch_serves(ngx_http_dispatch_main_conf_t *dmcf, ngx_str_t *ns)
{
    u_char      **name;
    ngx_uint_t    i;

    if (dmcf->namespaces == NULL) {
        return 1;
    }

    name = dmcf->namespaces->elts;

    for (i = 0; i < dmcf->namespaces->nelts; i++) {
        if (ngx_strlen(name[i]) == ns->len
            && ngx_strncmp(name[i], ns->data, ns->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Said by nginx -t too: without keys, secrets go to Redis as given; a
 * location that dispatches to a namespace outside the cordon can only
 * answer 404.
 */

void
ngx_http_dispatch_defence_init_conf(ngx_conf_t *cf,
    ngx_http_dispatch_main_conf_t *dmcf)
{
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (dmcf->enabled && dmcf->secrets_keys == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "no \"dispatch_secrets_key\": secret_text values "
                           "are stored in Redis in plain text");
    }

    if (dmcf->dispatched == NULL) {
        return;
    }

    ns = dmcf->dispatched->elts;

    for (i = 0; i < dmcf->dispatched->nelts; i++) {
        if (!ngx_http_dispatch_serves(dmcf, &ns[i])) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"dispatch %V ...\": the namespace is not in "
                               "\"dispatch_namespaces\", so it answers 404",
                               &ns[i]);
        }
    }
}


void
ngx_http_dispatch_defence_init_process(ngx_http_dispatch_main_conf_t *dmcf,
    dispatch_engine_conf_t *conf)
{
    if (dmcf->secrets_keys != NULL) {
        conf->secrets_keys = (const unsigned char *const *)
                             dmcf->secrets_keys->elts;
        conf->nsecrets_keys = dmcf->secrets_keys->nelts;
    }

    if (dmcf->namespaces != NULL) {
        conf->namespaces = (const char *const *) dmcf->namespaces->elts;
        conf->nnamespaces = dmcf->namespaces->nelts;
    }

    /* a tier's own Redis ACL user (dispatch_redis user=) */
    if (dmcf->redis_user.len) {
        conf->redis_user = (const char *) dmcf->redis_user.data;
    }
}


/*
 * dispatch_namespaces NS ...;
 *
 * A cordon: the namespaces this instance serves. Checked by the engine
 * before anything else of a request, a router's dispatch or a management
 * call, so that a worker of one trust tier never loads another's scripts
 * or secrets.
 */

char *
ngx_http_dispatch_namespaces(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    u_char      **ns;
    ngx_str_t    *value;
    ngx_uint_t    i;

    if (dmcf->namespaces == NULL) {
        dmcf->namespaces = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                            sizeof(u_char *));
        if (dmcf->namespaces == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (!dispatch_name_valid((const char *) value[i].data, value[i].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid namespace name \"%V\" in \"%V\": "
                               "1-63 characters of a-z 0-9 - _",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        ns = ngx_array_push(dmcf->namespaces);
        if (ns == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the arguments are NUL-terminated by the parser */
        *ns = value[i].data;
    }

    return NGX_CONF_OK;
}

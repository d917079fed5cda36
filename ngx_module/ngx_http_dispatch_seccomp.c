/*
 * ngx_dispatch: the sandbox of a worker that runs tenant code: its seccomp
 * filter (dispatch_seccomp; the filter itself is dispatch_seccomp_filter.c)
 * and, when asked for, Landlock (dispatch_landlock; dispatch_landlock.c).
 */


#include "ngx_http_dispatch.h"
#include "dispatch_landlock.h"
#include "dispatch_seccomp_filter.h"


static char *ngx_http_dispatch_cstr(ngx_pool_t *pool, ngx_str_t *s);
static ngx_int_t ngx_http_dispatch_push_dir(ngx_array_t *dirs, ngx_pool_t *pool,
    ngx_str_t *file);


/* a worker that cannot be sandboxed as asked runs no tenant code */

static void
ngx_http_dispatch_sandbox_failed(ngx_cycle_t *cycle, const char *which,
    const char *what, const char *off)
{
    ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                  "dispatch: cannot install %s: %s failed; "
                  "this worker runs no tenant code (\"%s\" runs it without)",
                  which, what, off);

    if (ngx_http_dispatch_engine) {
        dispatch_engine_destroy(ngx_http_dispatch_engine);
        ngx_http_dispatch_engine = NULL;
    }
}


/*
 * Called at the end of the worker's init_process: V8, its threads, the
 * Redis connections and the listening sockets are up, and no request has
 * been read. The master is never filtered, so reloads and binary upgrades
 * (which execve) keep working; a new worker installs its own.
 */

void
ngx_http_dispatch_seccomp_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf)
{
    const char  *what;

    if (!dmcf->seccomp) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "dispatch: seccomp filter off");
        return;
    }

    what = "";

    if (dispatch_seccomp_install(&what) == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "dispatch: seccomp filter installed");
        return;
    }

    ngx_http_dispatch_sandbox_failed(cycle, "the seccomp filter", what,
                                     "dispatch_seccomp off");
}


/*
 * Called before the engine starts (Landlock binds the calling thread and
 * those it makes later, and V8 makes its threads as it starts): from now
 * on the worker creates, writes, renames and removes files only in the
 * directories of its logs (so USR1 can reopen them), its temp paths and the
 * directories dispatch_landlock names, and writes to /dev/null.
 */

ngx_int_t
ngx_http_dispatch_landlock_init_process(ngx_cycle_t *cycle,
    ngx_http_dispatch_main_conf_t *dmcf)
{
    char             **p;
    const char        *what, *files[1];
    ngx_str_t         *extra;
    ngx_uint_t         i;
    ngx_path_t       **paths;
    ngx_array_t       *dirs;
    ngx_list_part_t   *part;
    ngx_open_file_t   *file;

    if (!dmcf->landlock) {
        return NGX_OK;
    }

    what = "allocating its rules";

    dirs = ngx_array_create(cycle->pool, 16, sizeof(char *));
    if (dirs == NULL) {
        goto failed;
    }

    paths = cycle->paths.elts;
    for (i = 0; i < cycle->paths.nelts; i++) {
        p = ngx_array_push(dirs);
        if (p == NULL) {
            goto failed;
        }

        *p = ngx_http_dispatch_cstr(cycle->pool, &paths[i]->name);
        if (*p == NULL) {
            goto failed;
        }
    }

    part = &cycle->open_files.part;
    file = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            file = part->elts;
            i = 0;
        }

        if (ngx_http_dispatch_push_dir(dirs, cycle->pool, &file[i].name)
            != NGX_OK)
        {
            goto failed;
        }
    }

    if (dmcf->landlock_dirs) {
        extra = dmcf->landlock_dirs->elts;
        for (i = 0; i < dmcf->landlock_dirs->nelts; i++) {
            p = ngx_array_push(dirs);
            if (p == NULL) {
                goto failed;
            }
            *p = (char *) extra[i].data;   /* NUL-terminated by the parser */
        }
    }

    p = dirs->elts;
    for (i = 0; i < dirs->nelts; i++) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "dispatch: landlock: writes beneath \"%s\"", p[i]);
    }

    files[0] = "/dev/null";

    if (dispatch_landlock_install((const char *const *) dirs->elts,
                                  dirs->nelts, files, 1, &what)
        == 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "dispatch: landlock installed");
        return NGX_OK;
    }

failed:

    /* the engine has not started: the caller keeps it from starting */
    ngx_http_dispatch_sandbox_failed(cycle, "Landlock", what,
                                     "dispatch_landlock off");
    return NGX_ERROR;
}


static char *
ngx_http_dispatch_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


/* the directory of a log file ("" is stderr: nothing to add) */

static ngx_int_t
ngx_http_dispatch_push_dir(ngx_array_t *dirs, ngx_pool_t *pool,
    ngx_str_t *file)
{
    char       **p;
    ngx_str_t    dir;

    if (file->len == 0 || file->data[0] != '/') {
        return NGX_OK;
    }

    dir = *file;
    while (dir.len > 1 && dir.data[dir.len - 1] != '/') {
        dir.len--;
    }

    p = ngx_array_push(dirs);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p = ngx_http_dispatch_cstr(pool, &dir);

    return *p ? NGX_OK : NGX_ERROR;
}


/* dispatch_landlock off | on [DIR ...]; */

char *
ngx_http_dispatch_landlock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_dispatch_main_conf_t *dmcf = conf;

    ngx_str_t   *value, *dir;
    ngx_uint_t   i;

    if (dmcf->landlock != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no directories with \"off\"";
        }
        dmcf->landlock = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\": on or off",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    dmcf->landlock = 1;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    dmcf->landlock_dirs = ngx_array_create(cf->pool, cf->args->nelts - 2,
                                           sizeof(ngx_str_t));
    if (dmcf->landlock_dirs == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        dir = ngx_array_push(dmcf->landlock_dirs);
        if (dir == NULL) {
            return NGX_CONF_ERROR;
        }

        *dir = value[i];

        /* full and NUL-terminated */
        if (ngx_conf_full_name(cf->cycle, dir, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}

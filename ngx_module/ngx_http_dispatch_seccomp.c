/*
 * ngx_dispatch: the seccomp filter around a worker that runs tenant code
 * (dispatch_seccomp). The filter itself is dispatch_seccomp_filter.c.
 */


#include "ngx_http_dispatch.h"
#include "dispatch_seccomp_filter.h"


/*
 * Called at the end of the worker's init_process: V8, its threads, the
 * Redis connections and the listening sockets are up, and no request has
 * been read. The master is never filtered, so reloads and binary upgrades
 * (which execve) keep working; a new worker installs its own.
 *
 * A worker that was asked for the filter and cannot install it runs no
 * tenant code: its dispatch locations answer 503, as without an engine.
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

    if (dispatch_seccomp_install(&what) == NGX_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "dispatch: seccomp filter installed");
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                  "dispatch: cannot install the seccomp filter: %s failed; "
                  "this worker runs no tenant code "
                  "(\"dispatch_seccomp off\" runs it unfiltered)", what);

    if (ngx_http_dispatch_engine) {
        dispatch_engine_destroy(ngx_http_dispatch_engine);
        ngx_http_dispatch_engine = NULL;
    }
}

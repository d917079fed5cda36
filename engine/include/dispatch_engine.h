/*
 * dispatch_engine.h: the one interface between the nginx glue and the
 * JavaScript engine.
 *
 * Plain C: opaque handles, plain structs and borrowed pointer+length views.
 * No V8 type and no exception crosses it. The engine never includes nginx
 * headers; it sees its host only through dispatch_host_t, so tests can drive
 * it with a small poll() loop and nginx drives it with its event loop.
 *
 * Threading: every function here is called on the host's event-loop thread,
 * and every host callback is called on it too.
 */

#ifndef DISPATCH_ENGINE_H
#define DISPATCH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif


typedef struct {
    const char  *data;
    size_t       len;
} dispatch_str_t;


typedef enum {
    DISPATCH_LOG_ERR = 0,
    DISPATCH_LOG_WARN,
    DISPATCH_LOG_NOTICE,
    DISPATCH_LOG_INFO,
    DISPATCH_LOG_DEBUG
} dispatch_log_level_e;


/* What became of a request; names as in $dispatch_outcome (SPEC 2, 6). */
typedef enum {
    DISPATCH_OUTCOME_OK = 0,
    DISPATCH_OUTCOME_EXCEPTION,
    DISPATCH_OUTCOME_EXCEEDED_CPU,
    DISPATCH_OUTCOME_EXCEEDED_MEMORY,
    DISPATCH_OUTCOME_EXCEEDED_WALL,
    DISPATCH_OUTCOME_OVERLOADED,
    DISPATCH_OUTCOME_NOT_FOUND,
    DISPATCH_OUTCOME_STORE_UNAVAILABLE,
    DISPATCH_OUTCOME_QUARANTINED
} dispatch_outcome_e;


/* Why a script is put in the penalty box. */
typedef enum {
    DISPATCH_OFFENCE_LIMITS = 0,   /* it kept hitting its CPU or memory limit */
    DISPATCH_OFFENCE_WORKER_LOST,  /* it took a worker process down */
    DISPATCH_OFFENCE_FLEET         /* another node of the fleet put it in:
                                      base_ms is the time it has left there;
                                      no strike is counted here */
} dispatch_offence_e;


/* ---- the host: what the engine asks of its event loop -------------------- */

typedef struct dispatch_io_s       dispatch_io_t;       /* host-defined */
typedef struct dispatch_timer_s    dispatch_timer_t;    /* host-defined */
typedef struct dispatch_resolve_s  dispatch_resolve_t;  /* host-defined */
typedef struct dispatch_stream_s   dispatch_stream_t;   /* host-defined */

/* An IP address: AF_INET (4 bytes used) or AF_INET6, in network order. */
typedef struct {
    int            family;
    unsigned char  addr[16];
} dispatch_addr_t;

/*
 * A name's addresses (status 0), or why there are none: status
 * DISPATCH_RESOLVE_NOT_FOUND (no such name, or no address for it) or
 * DISPATCH_RESOLVE_FAILED (the DNS server failed or timed out), with a
 * message for the script.
 */
#define DISPATCH_RESOLVE_NOT_FOUND  1
#define DISPATCH_RESOLVE_FAILED     2

typedef void (*dispatch_resolve_handler_pt)(void *arg, int status,
    const char *error, const dispatch_addr_t *addrs, size_t naddrs);

/* What an outbound stream's handler is told. */
#define DISPATCH_STREAM_CONNECTED  1   /* up (with TLS: verified) */
#define DISPATCH_STREAM_READABLE   2   /* a read may make progress */
#define DISPATCH_STREAM_WRITABLE   4   /* a write may make progress */
#define DISPATCH_STREAM_FAILED     8   /* did not come up: stream_error says
                                          why (refused, timed out, TLS) */

/* stream_read and stream_write, besides a count of bytes (0: EOF on read) */
#define DISPATCH_STREAM_AGAIN  (-1)
#define DISPATCH_STREAM_ERROR  (-2)

typedef void (*dispatch_stream_handler_pt)(void *arg, int events);

/*
 * One entry of the Cache API's index: key is the SHA-256 of the whole cache
 * key (namespace, script, cache name, URL; length-prefixed), tenant the
 * SHA-256 of namespace and script. serial names the body file: a new put of
 * the same key writes a new file, so deleting an old one never hits it.
 */
#define DISPATCH_CACHE_KEY_LEN  32

typedef struct {
    unsigned char  key[DISPATCH_CACHE_KEY_LEN];
    unsigned char  tenant[DISPATCH_CACHE_KEY_LEN];
    uint64_t       serial;
    uint64_t       size;          /* bytes on disk, header included */
    uint64_t       expires_ms;    /* wall clock, ms since the epoch */
} dispatch_cache_entry_t;

typedef void (*dispatch_io_handler_pt)(void *arg, int readable, int writable);
typedef void (*dispatch_timer_handler_pt)(void *arg);

typedef struct {
    void  *data;

    /*
     * Watch a non-blocking fd the engine opened. The handler is called when
     * the fd is readable or writable and that direction is wanted
     * (level-triggered). io_close stops watching and closes the fd; it may be
     * called from inside the handler.
     */
    dispatch_io_t *(*io_open)(void *data, int fd, dispatch_io_handler_pt handler,
                              void *arg);
    int            (*io_want)(dispatch_io_t *io, int read, int write);
    void           (*io_close)(dispatch_io_t *io);

    /*
     * One-shot timers. A cancelable timer does not keep a worker that is
     * shutting down alive (periodic housekeeping); a non-cancelable one does
     * (a request in flight waits on it). timer_start re-arms a running timer.
     */
    dispatch_timer_t *(*timer_create)(void *data, dispatch_timer_handler_pt handler,
                                      void *arg, int cancelable);
    void              (*timer_start)(dispatch_timer_t *timer, uint64_t msec);
    void              (*timer_stop)(dispatch_timer_t *timer);
    void              (*timer_destroy)(dispatch_timer_t *timer);

    /*
     * Something changed for the request whose view carried `request_ctx`:
     * its response is ready, more of a streamed response body is, or the
     * engine wants more of its request body. The host looks at all three
     * (dispatch_request_response, dispatch_response_read,
     * dispatch_request_body_wanted). It must not call back into the engine
     * from inside wake: it schedules the work (nginx posts an event) and
     * returns.
     */
    void  (*wake)(void *data, void *request_ctx);

    /*
     * One line for the error log; the engine tags it with namespace/script.
     * request_ctx is the ctx of the request the line is about while the
     * host still holds that request (the host adds its context: client,
     * request line), or NULL: a line about no request, or about one the
     * host released (the engine then names the client and request line
     * it kept from the view).
     */
    void  (*log)(void *data, void *request_ctx, dispatch_log_level_e level,
                 const char *msg, size_t len);

    /*
     * The penalty box, shared by every worker process of the node and
     * surviving their deaths (nginx keeps it in shared memory). Keyed by
     * "NS/NAME". NULL functions: no penalty box.
     *
     * quarantine() puts the script in for a period that doubles with each
     * time it was put in before (base_ms, at most max_ms) and returns the
     * period, or 0 when it could not be recorded (among those, when the
     * box is full of scripts serving their periods: only an offence
     * DISPATCH_OFFENCE_WORKER_LOST takes the place of one). It is thread-safe and
     * never blocks for long: the CPU watchdog calls it from its own thread,
     * as its last resort, while the event-loop thread is stuck.
     *
     * quarantined() returns the milliseconds left, or 0. It is on every
     * request's path: cheap when nothing is quarantined.
     */
    uint64_t  (*quarantine)(void *data, const char *key, size_t len,
                            dispatch_offence_e offence, uint64_t base_ms,
                            uint64_t max_ms);
    uint64_t  (*quarantined)(void *data, const char *key, size_t len);

    /*
     * 1 once the worker is shutting down (a reload, QUIT): ctx.waitUntil
     * work that lingers after its response is then stopped, so that no
     * tenant keeps an old worker alive. NULL: never.
     */
    int       (*exiting)(void *data);

    /*
     * Outbound connections, for fetch(). NULL functions: fetch() rejects.
     * The engine decides where a connection may go (dispatch_fetch_allow)
     * before it asks for one; the host only carries bytes. Nothing here
     * belongs to a request: a fetch in ctx.waitUntil() outlives its nginx
     * request, so the host uses the worker's own pool and log.
     *
     * resolve() looks a host name up (nginx: its `resolver`); the handler
     * is called once, never from inside resolve() (an answer from a cache
     * is posted), and never after resolve_cancel(). NULL, with the reason
     * in err, when it cannot even start (no `resolver` configured).
     */
    dispatch_resolve_t *(*resolve)(void *data, const char *name, size_t len,
                                   dispatch_resolve_handler_pt handler,
                                   void *arg, char *err, size_t err_len);
    void                (*resolve_cancel)(dispatch_resolve_t *r);

    /*
     * A byte stream to addr:port; with tls 1, TLS with the certificate and
     * the host name sni verified (dispatch_fetch_trusted_certificate, else
     * the system's trust store). The handler gets CONNECTED once it is up,
     * or FAILED. Then stream_read / stream_write move bytes: a count, 0 at
     * EOF (read), DISPATCH_STREAM_AGAIN (the handler gets READABLE or
     * WRITABLE once that direction can make progress: edge-triggered, so
     * the engine reads and writes until AGAIN before it waits), or
     * DISPATCH_STREAM_ERROR (stream_error says why). The handler is never
     * called from inside a stream_* call, and never after stream_close,
     * which may be called from anywhere, the handler included. NULL when
     * the stream cannot be started (out of connections).
     */
    dispatch_stream_t *(*stream_open)(void *data, const dispatch_addr_t *addr,
                                      int port, int tls, const char *sni,
                                      size_t sni_len, uint64_t timeout_ms,
                                      dispatch_stream_handler_pt handler,
                                      void *arg);
    long               (*stream_read)(dispatch_stream_t *s, char *buf,
                                      size_t size);
    long               (*stream_write)(dispatch_stream_t *s, const char *buf,
                                       size_t size);
    const char        *(*stream_error)(dispatch_stream_t *s);
    void               (*stream_close)(dispatch_stream_t *s);

    /*
     * What a socket (cloudflare:sockets connect()) needs besides. Both are
     * called on a connected stream only, with nothing left to write.
     * stream_shutdown ends the write direction (TLS: close_notify, then
     * TCP's FIN); reading goes on: 0, or -1 (stream_error says why).
     * stream_starttls turns a plain stream into TLS, sni verified as
     * stream_open verifies it, within timeout_ms: the handler gets
     * CONNECTED again once it is up, or FAILED; nothing is read or written
     * meanwhile. 0, or -1 when it cannot start. NULL: sockets have neither.
     */
    int                (*stream_shutdown)(dispatch_stream_t *s);
    int                (*stream_starttls)(dispatch_stream_t *s, const char *sni,
                                          size_t sni_len, uint64_t timeout_ms);

    /*
     * The node's script generation, in shared memory (every worker process
     * of the node sees it): the management API bumps it once a change is
     * stored and before it answers; every worker reads it on each request
     * and, when it moved, revalidates its cached scripts (and forgets what
     * it knew was missing) before serving. Cheap: one atomic load. NULL:
     * changes reach other workers through PUBLISH only.
     */
    uint64_t           (*generation)(void *data);
    uint64_t           (*generation_bump)(void *data);

    /*
     * Lifts the quarantine of "NS/NAME" (the management API's DELETE
     * .../scripts/NAME/quarantine): the script is served again at once by
     * every worker, and its next offence counts as a first one. NULL: the
     * API answers that the quarantine cannot be lifted here.
     */
    void               (*quarantine_lift)(void *data, const char *key,
                                          size_t len);

    /*
     * The Cache API's index (dispatch_cache_path's keys_zone), shared by
     * every worker process of the node and kept across a reload; the
     * bodies are files the engine writes under conf->cache_path. Called
     * with cache_data. The host holds the lock only inside each call, and
     * bounds what it does there. NULL functions: no cache (match misses,
     * put stores nothing).
     *
     * cache_lookup: 1 with *out filled when key is indexed (and marks it
     * most recently used), else 0. An entry past its expiry is removed
     * and returned with 2: the engine deletes its file.
     * cache_insert: indexes entry (replacing one with the same key, which
     * is returned in *replaced with 1: the engine deletes its file; so is
     * the tenant's own least recently used entry when the index is full
     * and the tenant holds a quarter or more of its entries); 0 on
     * success; -1 when the index has no room (-2: and *replaced was
     * removed all the same). The engine then calls cache_evict with tenant
     * NULL, which removes the node's least recently used entry whatever
     * the bounds, and tries again.
     * cache_remove: 1 with *removed filled when key was indexed.
     * cache_evict: while the tenant of entry->tenant is over its bound, or
     * the node over the total, removes the least recently used entry (the
     * tenant's, else the node's) and returns 1 with it: the engine deletes
     * its file and calls again until 0.
     */
    int                (*cache_lookup)(void *cache_data,
                                       const unsigned char *key,
                                       dispatch_cache_entry_t *out);
    int                (*cache_insert)(void *cache_data,
                                       const dispatch_cache_entry_t *entry,
                                       dispatch_cache_entry_t *replaced);
    int                (*cache_remove)(void *cache_data,
                                       const unsigned char *key,
                                       dispatch_cache_entry_t *removed);
    int                (*cache_evict)(void *cache_data,
                                      const unsigned char *tenant,
                                      dispatch_cache_entry_t *evicted);
    void               *cache_data;

    /*
     * The host's id of the request whose view carried request_ctx (nginx:
     * its $request_id), copied into buf; its length (at most size), or 0
     * for none. Asked only when a line about the request is written, or
     * when it gets its response with ctx.waitUntil() work still to run
     * (whose lines carry it too): a request that logs nothing never makes
     * one. Never asked from inside dispatch_request_release. NULL: lines
     * carry no request id.
     */
    size_t             (*request_id)(void *data, void *request_ctx,
                                     char *buf, size_t size);
} dispatch_host_t;


/* ---- the engine: one per worker process ---------------------------------- */

typedef struct dispatch_engine_s   dispatch_engine_t;
typedef struct dispatch_request_s  dispatch_request_t;

#define DISPATCH_REDIS_SINGLE    0
#define DISPATCH_REDIS_CLUSTER   1
#define DISPATCH_REDIS_SENTINEL  2

typedef struct {
    /* the store: redis_unix, or else redis_host (an IP literal) and port */
    const char  *redis_host;
    int          redis_port;
    const char  *redis_unix;
    int          redis_db;
    const char  *redis_password;       /* NULL: no AUTH */
    const char  *redis_user;           /* an ACL user for AUTH; NULL: the
                                          password alone (the default user) */
    uint64_t     redis_timeout_ms;     /* connect and every command */

    /*
     * dispatch_redis cluster=… or sentinel=… master=NAME: the seed nodes
     * of a Redis Cluster, or the sentinels that know the master NAME, as
     * "IP:port" (IP literals); redis_host and redis_unix are then unused.
     */
    int          redis_mode;           /* DISPATCH_REDIS_* */
    const char *const *redis_nodes;
    size_t       nredis_nodes;
    const char  *redis_master_name;    /* sentinel: the master's name */
    int          redis_wait;           /* wait=N: KV writes and uploads are
                                          confirmed by N replicas (WAIT)
                                          before they resolve; 0: not */

    /* the script cache; 0 takes the default, except for stale_ttl_ms */
    size_t       script_max_size;      /* all modules of a script together */
    uint64_t     cache_ttl_ms;         /* revalidate against Redis after */
    uint64_t     stale_ttl_ms;         /* serve past the TTL while Redis is
                                          away; 0: never serve stale */

    /* isolates; 0 takes the default */
    uint64_t     startup_cpu_limit_ms; /* top-level evaluation of a script */
    size_t       memory_limit;         /* heap + ArrayBuffers of one isolate */
    size_t       worker_memory;        /* all isolates of this process */
    size_t       max_isolates;         /* live isolates of this process */
    size_t       prepared_isolates;    /* dispatch_prepared_isolates: made
                                          ahead of demand, counted among
                                          max_isolates; 0: none */
    size_t       code_cache_size;      /* dispatch_code_cache: bytes of V8
                                          code caches of tenants' modules
                                          this process keeps; 0: none */
    int          no_startup_snapshot;  /* dispatch_startup_snapshot off:
                                          every isolate runs the built-ins
                                          instead of starting from the
                                          process's startup snapshot */

    uint64_t     kv_quota;             /* stored bytes of one KV namespace */
    size_t       asset_cache_size;     /* dispatch_asset_cache: bytes of
                                          static assets' contents this
                                          process keeps; 0: the default */
    uint32_t     log_limit;            /* console lines per request */
    size_t       log_bytes_limit;      /* ... and their bytes (0: 64k) */
    int          log_json;             /* dispatch_log_format json: a
                                          script's lines are one JSON
                                          object each (namespace, script,
                                          level, message, request_id,
                                          client, request); the host writes
                                          them without its own context */
    uint64_t     hang_timeout_ms;      /* CPU time JavaScript may run on after
                                          a limit stopped it; then the worker
                                          exits (at least 250) */
    uint64_t     quarantine_ms;        /* the first period in the penalty box;
                                          it doubles with each repeat */

    /* fetch(); 0 takes the default */
    const char *const *fetch_allow;    /* dispatch_fetch_allow: "CIDR[:PORT]" */
    size_t       nfetch_allow;
    uint64_t     fetch_connect_timeout_ms;  /* connect, and TLS handshake */
    uint64_t     fetch_send_timeout_ms;     /* between two writes that progress */
    uint64_t     fetch_read_timeout_ms;     /* between two reads that progress */
    size_t       fetch_max_connections;     /* open outbound, this process */

    /*
     * dispatch_secrets_key: AES-256 keys of 32 bytes each. The first seals
     * the secret_text values the management API stores; every one opens
     * them (rotation). None: secrets are stored as given.
     */
    const unsigned char *const *secrets_keys;
    size_t       nsecrets_keys;

    /*
     * dispatch_namespaces: the only namespaces served (requests, dispatches
     * of router scripts, the management API); others are not found, without
     * a word to Redis. None: every namespace.
     */
    const char *const *namespaces;
    size_t       nnamespaces;

    /* the Cache API (dispatch_cache_path); NULL: caches store nothing */
    const char  *cache_path;           /* bodies live under it */
    uint64_t     cache_max_size;       /* all entries of the node */
    uint64_t     cache_tenant_max_size;  /* all entries of one script */
} dispatch_engine_conf_t;

/*
 * Starts V8 (once per process) and connects to Redis. Must run in a worker
 * process, never in a process that forks afterwards. On failure returns NULL
 * and writes a message into err.
 */
dispatch_engine_t *dispatch_engine_create(const dispatch_engine_conf_t *conf,
    const dispatch_host_t *host, char *err, size_t err_len);

/* Abandons every request in flight, disposes every isolate, closes Redis. */
void dispatch_engine_destroy(dispatch_engine_t *engine);


/* ---- requests ------------------------------------------------------------- */

typedef struct {
    dispatch_str_t  name;
    dispatch_str_t  value;
} dispatch_header_t;

/* Borrowed for the duration of dispatch_request_start only. */
typedef struct {
    dispatch_str_t             ns;
    dispatch_str_t             script;
    dispatch_str_t             method;
    dispatch_str_t             url;          /* scheme://host[:port]/path?query */
    const dispatch_header_t   *headers;
    size_t                     nheaders;
    /*
     * The request body: all of it, or (body_more = 1) what has arrived so
     * far, the rest following through dispatch_request_body_write. A GET
     * has none: body empty and body_more 0.
     */
    dispatch_str_t             body;
    int                        body_more;
    int64_t                    body_length;  /* Content-Length, or -1 */
    void                      *ctx;          /* handed back to host->wake */

    /* for log lines about the request once the host has released it */
    dispatch_str_t             client;       /* the client's address */
    dispatch_str_t             request_line; /* "GET /path HTTP/1.1" */

    /* the location's limits; 0 takes the default */
    uint64_t                   cpu_limit_ms;   /* JavaScript CPU, all turns */
    uint64_t                   wall_limit_ms;  /* until the Response */
    uint32_t                   script_concurrency; /* in flight per script */
    uint32_t                   subrequest_limit;   /* fetch() calls */

    /*
     * request.cf: the properties dispatch_request_cf gives, in order (a
     * name given twice: the last wins). At most DISPATCH_CF_MAX of them,
     * names of 1-DISPATCH_CF_NAME_MAX bytes, values (UTF-8) of at most
     * DISPATCH_CF_VALUE_MAX bytes; the engine leaves out what is not.
     */
    const dispatch_header_t   *cf;
    size_t                     ncf;
} dispatch_request_view_t;

#define DISPATCH_CF_MAX         64
#define DISPATCH_CF_NAME_MAX    64
#define DISPATCH_CF_VALUE_MAX   4096

/*
 * Valid until dispatch_request_release. The engine checks what the script
 * produced, and the host checks it again before anything reaches the wire:
 * status is 200-599; header names are HTTP tokens, values hold no CR, LF or
 * NUL, and hop-by-hop headers are left out.
 */
typedef struct {
    dispatch_outcome_e         outcome;
    int                        status;       /* the script's when outcome is OK,
                                                else the platform's (413 for a
                                                body over the memory budget) */
    dispatch_str_t             status_text;
    const dispatch_header_t   *headers;
    size_t                     nheaders;
    /*
     * The whole body (the host may send it from this buffer), or, when
     * body_streamed is 1, nothing here: the script produces it as a
     * stream, read with dispatch_response_read; body_length is its length
     * when the script fixed it (FixedLengthStream, a request body passed
     * through), else -1 (chunked).
     */
    dispatch_str_t             body;
    int                        body_streamed;
    int64_t                    body_length;
    double                     cpu_ms;       /* CPU time spent in JavaScript */
    uint32_t                   subrequests;  /* fetch() calls so far */
    /*
     * The first script of its dispatch chain (router scripts) that failed,
     * as "NS/NAME outcome" ("customers/acme exceeded_cpu"), or empty.
     */
    dispatch_str_t             chain_failure;
} dispatch_response_t;

/*
 * Starts a request. The engine copies what it needs from the view. Later,
 * possibly before this returns, it calls host->wake(view->ctx) once; the
 * host then reads the response. Returns NULL only when out of memory.
 */
dispatch_request_t *dispatch_request_start(dispatch_engine_t *engine,
    const dispatch_request_view_t *view);

/* 1 with *out filled once the request is done; 0 while it is not. */
int dispatch_request_response(dispatch_request_t *req, dispatch_response_t *out);

/*
 * The host is done with the request: once the response is sent (the host
 * may send the body straight from the engine's buffer until then; it stays
 * counted against the script while it waits), or because the client went
 * away. A request still running is abandoned: the engine drops every
 * callback that points at it and never wakes the host for it. Work the
 * script left for ctx.waitUntil() goes on from here, on the engine's side.
 */
void dispatch_request_release(dispatch_request_t *req);


/* ---- bodies in pieces, with backpressure both ways ------------------------ */

/*
 * The next piece of a streamed request body (body_more was 1), copied.
 * last is 1 with the final piece (len may then be 0). Returns 1 while the
 * engine wants more now, 0 when the host should stop reading from the
 * client until the engine wakes it and dispatch_request_body_wanted says so.
 */
int dispatch_request_body_write(dispatch_request_t *req, const char *data,
    size_t len, int last);

/*
 * The rest of a streamed request body will not come: status 413 (over
 * client_max_body_size), 400 (malformed), 408 (client_body_timeout), 0
 * (the client went away) or DISPATCH_BODY_AFTER_RESPONSE (the response went
 * out first: the host drops the rest). request.body errors in the script.
 */
void dispatch_request_body_fail(dispatch_request_t *req, int status);

#define DISPATCH_BODY_AFTER_RESPONSE  1

/* 1 while the engine wants more of a streamed request body now. */
int dispatch_request_body_wanted(dispatch_request_t *req);

#define DISPATCH_BODY_AGAIN   (-1)
#define DISPATCH_BODY_ERROR   (-2)

/*
 * Copies up to size bytes of a streamed response body into buf. Returns
 * how many (more than 0); 0 at its end; DISPATCH_BODY_AGAIN when none are
 * ready now (the engine asks the script for more, and wakes the host when
 * there are); DISPATCH_BODY_ERROR when the body cannot be completed (the
 * script's stream failed, or a limit stopped it; the engine has logged
 * why): the host cuts the response short. The engine pulls from the
 * script only when the host reads, so a slow client slows the script.
 */
long dispatch_response_read(dispatch_request_t *req, char *buf, size_t size);


/* ---- WebSockets ----------------------------------------------------------- */

/*
 * A response with status 101 (outcome OK, body_streamed 1) is a WebSocket
 * the script accepted: after its head the connection carries raw bytes
 * both ways. What the client sends goes in here, copied (eof 1 once the
 * client closed its side or the connection failed); what the engine
 * produces comes out of dispatch_response_read, and its 0 means the
 * engine is done: the host closes the connection. Returns 1 while the
 * engine wants more now, 0 when the host should stop reading from the
 * client until a wake finds dispatch_websocket_wanted true (the script is
 * behind, or the client does not take what it is sent).
 */
int dispatch_websocket_input(dispatch_request_t *req, const char *data,
    size_t len, int eof);

int dispatch_websocket_wanted(dispatch_request_t *req);


/* ---- the management API (dispatch_admin) ---------------------------------- */

typedef struct dispatch_admin_s  dispatch_admin_t;

/*
 * One call of the management API (SPEC 4), after nginx checked who may make
 * it (dispatch_admin's token, or a loopback client). Borrowed for the
 * duration of dispatch_admin_start only.
 */
typedef struct {
    dispatch_str_t   method;
    dispatch_str_t   path;          /* after the location's prefix:
                                       "/accounts/A/workers/dispatch/..." */
    dispatch_str_t   query;         /* without the '?'; may be empty */
    dispatch_str_t   content_type;  /* the request's, or empty */
    dispatch_str_t   body;          /* the whole request body */
    void            *ctx;           /* handed back to host->wake */
    dispatch_str_t   bearer;        /* the Authorization bearer token, or
                                       empty */
    int              upload_only;   /* the bearer is not the admin token:
                                       nginx let the call through as an
                                       asset bucket upload only, which
                                       the engine serves only when the
                                       bearer is a live upload session's */
    int              verify_only;   /* with upload_only, before nginx reads
                                       the body: the engine answers 200
                                       when the bearer is a live upload
                                       session's, else the refusal */
} dispatch_admin_view_t;

/* Valid until dispatch_admin_release. */
typedef struct {
    int              status;
    dispatch_str_t   content_type;  /* "application/json" */
    dispatch_str_t   body;          /* Cloudflare's envelope */
} dispatch_admin_response_t;

/*
 * Starts a call; the engine copies what it needs. Later (possibly before
 * this returns) it calls host->wake(view->ctx) once; the host then reads
 * the answer. NULL only when out of memory.
 */
dispatch_admin_t *dispatch_admin_start(dispatch_engine_t *engine,
    const dispatch_admin_view_t *view);

/* 1 with *out filled once the call is done; 0 while it is not. */
int dispatch_admin_response(dispatch_admin_t *call,
    dispatch_admin_response_t *out);

/* The host is done with the call (answered, or the client went away). */
void dispatch_admin_release(dispatch_admin_t *call);


/* ---- metrics (dispatch_status) -------------------------------------------- */

#define DISPATCH_OUTCOMES         9   /* dispatch_outcome_e values */

/* upper bounds (ms) of the wall-time histogram's buckets; the last is +Inf */
#define DISPATCH_WALL_BUCKETS     12
#define DISPATCH_WALL_BUCKETS_MS  { 5, 10, 25, 50, 100, 250, 500, 1000, \
                                    2500, 5000, 10000, 0 /* +Inf */ }

typedef enum {
    DISPATCH_RETIRE_LRU = 0,      /* dispatch_isolates: least recently used */
    DISPATCH_RETIRE_MEMORY,       /* dispatch_worker_memory */
    DISPATCH_RETIRE_LIMIT,        /* a limit stopped it (CPU, memory, hang) */
    DISPATCH_RETIRE_VERSION,      /* a new version of its script replaced it */
    DISPATCH_RETIRE_REASONS
} dispatch_retire_reason_e;

/*
 * What one script's requests added since the last drain (all counters are
 * deltas). Requests are counted when they end; a request a script
 * dispatched to counts as a request of its target.
 */
typedef struct {
    dispatch_str_t   ns;
    dispatch_str_t   script;
    uint64_t         requests[DISPATCH_OUTCOMES];   /* by outcome */
    double           cpu_ms;
    uint64_t         wall[DISPATCH_WALL_BUCKETS];   /* per bucket, not
                                                       cumulative */
    double           wall_ms;                       /* their sum */
    uint64_t         subrequests;
    uint64_t         kv_ops;
    uint64_t         kv_bytes;                      /* values written, read */
    uint64_t         response_bytes;                /* body bytes handed out */
    uint64_t         isolates_created;
    double           startup_ms;                    /* wall time starting
                                                       isolates, failed
                                                       starts included */
    uint64_t         log_lines_dropped;             /* past dispatch_log_limit */
    uint64_t         log_bytes_dropped;
} dispatch_script_metrics_t;

/* The worker's own: counters are deltas since the last drain, gauges now. */
typedef struct {
    uint64_t         isolates;                      /* gauge: live */
    uint64_t         isolate_memory;                /* gauge: bytes */
    uint64_t         isolates_created;
    uint64_t         retired[DISPATCH_RETIRE_REASONS];
    uint64_t         cache_hits;                    /* served from the cache */
    uint64_t         cache_misses;                  /* loaded from Redis */
    uint64_t         cache_revalidations;           /* checked against Redis */
    uint64_t         asset_hits;                    /* static assets served
                                                       from the asset cache */
    uint64_t         asset_misses;                  /* ... read from Redis */
    uint64_t         asset_cache_bytes;             /* gauge: what it holds */
    int              redis_connected;               /* gauge: 1 or 0 */
    uint64_t         redis_reconnects;
    uint64_t         redis_commands;
    double           redis_command_ms;              /* their latency, summed */
    uint64_t         idle_collections;              /* idle isolates whose
                                                       spare memory was
                                                       given back */
} dispatch_worker_metrics_t;

typedef void (*dispatch_metrics_handler_pt)(void *ctx,
    const dispatch_script_metrics_t *m);

/*
 * Hands the host what was counted since the last call, and forgets it: the
 * handler once per script that did anything (its views valid during the
 * call only), then *worker. Cheap when nothing happened. 0, or -1 when it
 * failed (nothing was forgotten then).
 */
int dispatch_engine_metrics_drain(dispatch_engine_t *engine,
    dispatch_metrics_handler_pt handler, void *ctx,
    dispatch_worker_metrics_t *worker);


/* ---- shared helpers ------------------------------------------------------- */

/*
 * 1 when s is a valid dispatch_fetch_allow entry ("10.1.2.0/24",
 * "127.0.0.1/32:8443", "fd00::/8"); else 0 with the reason in err.
 */
int dispatch_fetch_allow_valid(const char *s, size_t len, char *err,
    size_t err_len);

/* 1 when s is a valid namespace or script name: 1-63 of a-z 0-9 - _ */
int dispatch_name_valid(const char *s, size_t len);

/* "ok", "exception", ... as in $dispatch_outcome */
const char *dispatch_outcome_name(dispatch_outcome_e outcome);

/* The HTTP status the platform answers with for a failed outcome. */
int dispatch_outcome_status(dispatch_outcome_e outcome);


#ifdef __cplusplus
}
#endif

#endif /* DISPATCH_ENGINE_H */

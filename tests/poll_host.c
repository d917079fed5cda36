#define _GNU_SOURCE
#include "poll_host.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_IO     64
#define MAX_TIMERS 64
#define MAX_WAKES  1024

struct dispatch_io_s {
    int                     fd;
    int                     want_read;
    int                     want_write;
    dispatch_io_handler_pt  handler;
    void                   *arg;
    int                     used;
};

struct dispatch_timer_s {
    uint64_t                   due;
    int                        armed;
    dispatch_timer_handler_pt  handler;
    void                      *arg;
    int                        used;
};

static struct dispatch_io_s     ios[MAX_IO];
static struct dispatch_timer_s  timers[MAX_TIMERS];
static void                    *wakes[MAX_WAKES];
static int                      nwakes;
static char                    *log_buf;
static size_t                   log_len;

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static dispatch_io_t *
io_open(void *data, int fd, dispatch_io_handler_pt handler, void *arg)
{
    for (int i = 0; i < MAX_IO; i++) {
        if (!ios[i].used) {
            ios[i] = (struct dispatch_io_s) { fd, 0, 0, handler, arg, 1 };
            return &ios[i];
        }
    }
    return NULL;
}

static int
io_want(dispatch_io_t *io, int read, int write)
{
    io->want_read = read;
    io->want_write = write;
    return 0;
}

static void
io_close(dispatch_io_t *io)
{
    close(io->fd);
    io->used = 0;
}

static dispatch_timer_t *
timer_create_(void *data, dispatch_timer_handler_pt handler, void *arg,
    int cancelable)
{
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (!timers[i].used) {
            timers[i] = (struct dispatch_timer_s) { 0, 0, handler, arg, 1 };
            return &timers[i];
        }
    }
    return NULL;
}

static void
timer_start(dispatch_timer_t *t, uint64_t msec)
{
    t->due = now_ms() + msec;
    t->armed = 1;
}

static void
timer_stop(dispatch_timer_t *t)
{
    t->armed = 0;
}

static void
timer_destroy(dispatch_timer_t *t)
{
    t->armed = 0;
    t->used = 0;
}

static void
wake(void *data, void *request_ctx)
{
    if (nwakes < MAX_WAKES) {
        wakes[nwakes++] = request_ctx;
    }
    /* the tests' request contexts are flags */
    *(int *) request_ctx = 1;
}

static void
log_line(void *data, void *request_ctx, dispatch_log_level_e level,
    const char *msg, size_t len)
{
    log_buf = realloc(log_buf, log_len + len + 2);
    memcpy(log_buf + log_len, msg, len);
    log_len += len;
    log_buf[log_len++] = '\n';
    log_buf[log_len] = '\0';
    if (getenv("POLL_HOST_VERBOSE")) {
        fprintf(stderr, "log[%d]: %.*s\n", (int) level, (int) len, msg);
    }
}

/* ---- outbound connections: getaddrinfo (blocking is fine in tests) and
 * plain TCP; no TLS here (t/ tests it through nginx) ------------------- */

struct dispatch_resolve_s {
    dispatch_timer_t             *timer;
    dispatch_resolve_handler_pt   handler;
    void                         *arg;
    int                           status;
    char                          error[128];
    dispatch_addr_t               addrs[16];
    size_t                        naddrs;
};

static void
resolve_done(void *arg)
{
    struct dispatch_resolve_s *r = arg;

    timer_destroy(r->timer);
    r->handler(r->arg, r->status, r->error, r->addrs, r->naddrs);
    free(r);
}

static dispatch_resolve_t *
resolve(void *data, const char *name, size_t len,
    dispatch_resolve_handler_pt handler, void *arg, char *err, size_t err_len)
{
    struct addrinfo            hints, *res, *ai;
    struct dispatch_resolve_s *r;
    char                       host[256];
    int                        rc;

    if (len >= sizeof(host)) {
        snprintf(err, err_len, "name too long");
        return NULL;
    }
    memcpy(host, name, len);
    host[len] = '\0';
    r = calloc(1, sizeof(*r));
    r->handler = handler;
    r->arg = arg;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        r->status = DISPATCH_RESOLVE_NOT_FOUND;
        snprintf(r->error, sizeof(r->error), "%s", gai_strerror(rc));
    } else {
        for (ai = res; ai && r->naddrs < 16; ai = ai->ai_next) {
            dispatch_addr_t *a = &r->addrs[r->naddrs++];
            memset(a, 0, sizeof(*a));
            if (ai->ai_family == AF_INET) {
                a->family = AF_INET;
                memcpy(a->addr, &((struct sockaddr_in *) ai->ai_addr)->sin_addr, 4);
            } else {
                a->family = AF_INET6;
                memcpy(a->addr, &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr, 16);
            }
        }
        freeaddrinfo(res);
    }
    /* never from inside resolve(): posted */
    r->timer = timer_create_(NULL, resolve_done, r, 1);
    timer_start(r->timer, 0);
    return r;
}

static void
resolve_cancel(dispatch_resolve_t *r)
{
    timer_destroy(r->timer);
    free(r);
}

struct dispatch_stream_s {
    dispatch_io_t               *io;
    dispatch_timer_t            *timer;       /* connect timeout, or failure */
    dispatch_stream_handler_pt   handler;
    void                        *arg;
    int                          connected;
    char                         error[128];
};

static void
stream_fail(struct dispatch_stream_s *s, const char *why)
{
    snprintf(s->error, sizeof(s->error), "%s", why);
    if (s->io) {
        io_want(s->io, 0, 0);
    }
    s->handler(s->arg, DISPATCH_STREAM_FAILED);
}

static void
stream_timeout(void *arg)
{
    struct dispatch_stream_s *s = arg;

    if (s->error[0]) {
        s->handler(s->arg, DISPATCH_STREAM_FAILED);   /* the reason is set */
        return;
    }
    stream_fail(s, "connect timed out");
}

static void
stream_io(void *arg, int readable, int writable)
{
    struct dispatch_stream_s *s = arg;
    int                       err = 0;
    socklen_t                 len = sizeof(err);

    if (!s->connected) {
        getsockopt(s->io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        timer_stop(s->timer);
        if (err) {
            stream_fail(s, strerror(err));
            return;
        }
        s->connected = 1;
        io_want(s->io, 0, 0);
        s->handler(s->arg, DISPATCH_STREAM_CONNECTED);
        return;
    }
    /* edge-triggered, as nginx: told once, until the next AGAIN */
    io_want(s->io, readable ? 0 : s->io->want_read, writable ? 0 : s->io->want_write);
    s->handler(s->arg, (readable ? DISPATCH_STREAM_READABLE : 0)
                       | (writable ? DISPATCH_STREAM_WRITABLE : 0));
}

static dispatch_stream_t *
stream_open(void *data, const dispatch_addr_t *addr, int port, int tls,
    const char *sni, size_t sni_len, uint64_t timeout_ms,
    dispatch_stream_handler_pt handler, void *arg)
{
    struct dispatch_stream_s *s = calloc(1, sizeof(*s));
    struct sockaddr_in6       sa6;
    struct sockaddr_in        sa4;
    int                       fd;

    s->handler = handler;
    s->arg = arg;
    s->timer = timer_create_(NULL, stream_timeout, s, 1);
    if (tls) {
        snprintf(s->error, sizeof(s->error), "no TLS in the poll host");
        timer_start(s->timer, 0);   /* FAILED, posted */
        return s;
    }
    fd = socket(addr->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (addr->family == AF_INET) {
        memset(&sa4, 0, sizeof(sa4));
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t) port);
        memcpy(&sa4.sin_addr, addr->addr, 4);
        connect(fd, (struct sockaddr *) &sa4, sizeof(sa4));
    } else {
        memset(&sa6, 0, sizeof(sa6));
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t) port);
        memcpy(&sa6.sin6_addr, addr->addr, 16);
        connect(fd, (struct sockaddr *) &sa6, sizeof(sa6));
    }
    s->io = io_open(NULL, fd, stream_io, s);
    if (s->io == NULL) {
        close(fd);
        timer_destroy(s->timer);
        free(s);
        return NULL;
    }
    io_want(s->io, 0, 1);
    timer_start(s->timer, timeout_ms ? timeout_ms : 10000);
    return s;
}

static long
stream_read(dispatch_stream_t *s, char *buf, size_t size)
{
    ssize_t n = recv(s->io->fd, buf, size, 0);

    if (n >= 0) {
        return (long) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io_want(s->io, 1, s->io->want_write);
        return DISPATCH_STREAM_AGAIN;
    }
    snprintf(s->error, sizeof(s->error), "%s", strerror(errno));
    return DISPATCH_STREAM_ERROR;
}

static long
stream_write(dispatch_stream_t *s, const char *buf, size_t size)
{
    ssize_t n = send(s->io->fd, buf, size, MSG_NOSIGNAL);

    if (n >= 0) {
        return (long) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        io_want(s->io, s->io->want_read, 1);
        return DISPATCH_STREAM_AGAIN;
    }
    snprintf(s->error, sizeof(s->error), "%s", strerror(errno));
    return DISPATCH_STREAM_ERROR;
}

static const char *
stream_error(dispatch_stream_t *s)
{
    return s->error;
}

static void
stream_close(dispatch_stream_t *s)
{
    if (s->io) {
        io_close(s->io);
    }
    timer_destroy(s->timer);
    free(s);
}

/* the node's script generation: one process here, a plain counter */
static uint64_t  generation_now;

static uint64_t
generation(void *data)
{
    return generation_now;
}

static uint64_t
generation_bump(void *data)
{
    return ++generation_now;
}

uint64_t
poll_host_generation(void)
{
    return generation_now;
}

void
poll_host_init(dispatch_host_t *host)
{
    memset(host, 0, sizeof(*host));   /* no penalty box here */
    host->data = NULL;
    host->io_open = io_open;
    host->io_want = io_want;
    host->io_close = io_close;
    host->timer_create = timer_create_;
    host->timer_start = timer_start;
    host->timer_stop = timer_stop;
    host->timer_destroy = timer_destroy;
    host->wake = wake;
    host->log = log_line;
    host->resolve = resolve;
    host->resolve_cancel = resolve_cancel;
    host->stream_open = stream_open;
    host->stream_read = stream_read;
    host->stream_write = stream_write;
    host->stream_error = stream_error;
    host->stream_close = stream_close;
    host->generation = generation;
    host->generation_bump = generation_bump;
}

void
poll_host_reset(void)
{
    nwakes = 0;
    free(log_buf);
    log_buf = NULL;
    log_len = 0;
}

static void
run_once(int max_wait_ms)
{
    struct pollfd          pfd[MAX_IO];
    struct dispatch_io_s  *owner[MAX_IO];
    int                    n = 0;
    uint64_t               now = now_ms();
    int                    wait = max_wait_ms;

    for (int i = 0; i < MAX_TIMERS; i++) {
        if (timers[i].used && timers[i].armed) {
            int left = timers[i].due > now ? (int) (timers[i].due - now) : 0;
            if (left < wait) {
                wait = left;
            }
        }
    }

    for (int i = 0; i < MAX_IO; i++) {
        if (ios[i].used && (ios[i].want_read || ios[i].want_write)) {
            pfd[n].fd = ios[i].fd;
            pfd[n].events = (ios[i].want_read ? POLLIN : 0)
                            | (ios[i].want_write ? POLLOUT : 0);
            pfd[n].revents = 0;
            owner[n++] = &ios[i];
        }
    }

    poll(pfd, n, wait);

    /* an fd closed by an earlier handler in this round is skipped */
    for (int i = 0; i < n; i++) {
        struct dispatch_io_s *io = owner[i];
        if (io->used && io->fd == pfd[i].fd && io->want_read
            && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
        {
            io->handler(io->arg, 1, 0);
        }
        if (io->used && io->fd == pfd[i].fd && io->want_write
            && (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
        {
            io->handler(io->arg, 0, 1);
        }
    }

    now = now_ms();
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (timers[i].used && timers[i].armed && timers[i].due <= now) {
            timers[i].armed = 0;
            timers[i].handler(timers[i].arg);
        }
    }
}

int
poll_host_run_until(const int *flag, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t) timeout_ms;

    while (!*flag && now_ms() < end) {
        run_once(10);
    }
    return *flag != 0;
}

void
poll_host_run_for(int ms)
{
    uint64_t end = now_ms() + (uint64_t) ms;

    while (now_ms() < end) {
        run_once(10);
    }
}

const char *
poll_host_log(void)
{
    return log_buf ? log_buf : "";
}

int
poll_host_wakes(void *request_ctx)
{
    int count = 0;
    for (int i = 0; i < nwakes; i++) {
        if (wakes[i] == request_ctx) {
            count++;
        }
    }
    return count;
}

int
poll_host_open_fds(void)
{
    int count = 0;
    for (int i = 0; i < MAX_IO; i++) {
        count += ios[i].used;
    }
    return count;
}

#define _GNU_SOURCE
#include "poll_host.h"

#include <poll.h>
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

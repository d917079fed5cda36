#define _GNU_SOURCE
#include "redis_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t         redis_pid = -1;
static int           redis_port = -1;
static redisContext *redis_ctx;

static int
free_port(void)
{
    struct sockaddr_in sin;
    socklen_t          len = sizeof(sin);
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sin.sin_port);
}

int
redis_fixture_start(void)
{
    char port[16];

    /* a restart keeps the port: the engine under test reconnects to it */
    if (redis_port < 0) {
        redis_port = free_port();
    }
    if (redis_port < 0) {
        return -1;
    }
    snprintf(port, sizeof(port), "%d", redis_port);

    redis_pid = fork();
    if (redis_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        execlp("redis-server", "redis-server", "--bind", "127.0.0.1",
               "--port", port, "--save", "", "--appendonly", "no",
               "--loglevel", "warning", (char *) NULL);
        _exit(127);
    }

    for (int i = 0; i < 200; i++) {
        redis_ctx = redisConnect("127.0.0.1", redis_port);
        if (redis_ctx && !redis_ctx->err) {
            redisReply *r = redisCommand(redis_ctx, "PING");
            if (r && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                return redis_port;
            }
            if (r) {
                freeReplyObject(r);
            }
        }
        if (redis_ctx) {
            redisFree(redis_ctx);
            redis_ctx = NULL;
        }
        usleep(50 * 1000);
    }
    redis_fixture_stop();
    return -1;
}

void
redis_fixture_stop(void)
{
    if (redis_ctx) {
        redisFree(redis_ctx);
        redis_ctx = NULL;
    }
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

int
redis_fixture_running(void)
{
    return redis_pid > 0;
}

int
redis_fixture_port(void)
{
    return redis_port;
}

int
redis_fixture_cmd(const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;
    int          ok;

    va_start(ap, fmt);
    r = redisvCommand(redis_ctx, fmt, ap);
    va_end(ap);
    ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) {
        freeReplyObject(r);
    }
    return ok ? 0 : -1;
}

int
redis_fixture_get(char *out, size_t len, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = redisvCommand(redis_ctx, fmt, ap);
    va_end(ap);
    out[0] = '\0';
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR) {
        snprintf(out, len, "%.*s", (int) r->len, r->str);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        snprintf(out, len, "%lld", r->integer);
    } else if (r->type == REDIS_REPLY_NIL) {
        snprintf(out, len, "(nil)");
    }
    freeReplyObject(r);
    return 0;
}

int
redis_fixture_put_script(const char *ns, const char *name, const char *code,
    const char *etag)
{
    char key[256];

    snprintf(key, sizeof(key), "dispatch:{%s}:script:%s", ns, name);
    if (etag) {
        return redis_fixture_cmd("HSET %s code %s etag %s", key, code, etag);
    }
    return redis_fixture_cmd("HSET %s code %s", key, code);
}

long
redis_fixture_calls(const char *command)
{
    char         needle[64];
    const char  *p;
    long         calls = 0;
    redisReply  *r = redisCommand(redis_ctx, "INFO commandstats");

    if (r == NULL) {
        return -1;
    }
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", command);
    if (r->type == REDIS_REPLY_STRING && (p = strstr(r->str, needle)) != NULL) {
        calls = strtol(p + strlen(needle), NULL, 10);
    }
    freeReplyObject(r);
    return calls;
}

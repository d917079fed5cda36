#define _GNU_SOURCE
#include "http_fixture.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int             listen_fd = -1;
static pthread_t       thread;
static atomic_int      running;
static atomic_int      connections;

/* One connection: requests until the client closes it. */
static void
serve(int fd)
{
    char    buf[65536];
    size_t  have = 0;

    for ( ;; ) {
        char   *end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
        if (end == NULL) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (!running || poll(&p, 1, 100) < 0) return;
            if (!(p.revents & POLLIN)) continue;
            ssize_t n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
            if (n <= 0) return;
            have += (size_t) n;
            continue;
        }
        size_t head = (size_t) (end - buf) + 4;
        buf[head - 4] = '\0';
        char method[16] = "", path[1024] = "";
        sscanf(buf, "%15s %1023s", method, path);
        size_t body_len = 0;
        int chunked = 0;
        for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
            if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
                body_len = strtoul(line + 17, NULL, 10);
            }
            if (strncasecmp(line + 2, "Transfer-Encoding: chunked", 26) == 0) {
                chunked = 1;
            }
        }
        /* the body: by length, or de-chunked */
        char   body[16384];
        size_t got = 0;
        size_t pos = head;
        for ( ;; ) {
            if (!chunked && have - pos >= body_len) {
                size_t n = body_len < sizeof(body) ? body_len : sizeof(body) - 1;
                memcpy(body, buf + pos, n);
                got = n;
                pos += body_len;
                break;
            }
            if (chunked) {
                char *eol = memmem(buf + pos, have - pos, "\r\n", 2);
                if (eol) {
                    size_t size = strtoul(buf + pos, NULL, 16);
                    size_t line = (size_t) (eol - (buf + pos)) + 2;
                    if (have - pos >= line + size + 2) {
                        if (size == 0) {
                            pos += line + 2;
                            break;
                        }
                        if (got + size < sizeof(body)) {
                            memcpy(body + got, buf + pos + line, size);
                            got += size;
                        }
                        pos += line + size + 2;
                        continue;
                    }
                }
            }
            ssize_t n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);
            if (n <= 0) return;
            have += (size_t) n;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;

        char text[20000];
        int  len = snprintf(text, sizeof(text), "%s %s|%.*s", method, path, (int) got, body);
        char out[24000];
        int  n;
        if (strcmp(path, "/chunked") == 0) {
            int third = len / 3;
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "%x\r\n%.*s\r\n%x\r\n%.*s\r\n%x\r\n%.*s\r\n0\r\n\r\n",
                         third, third, text, third, third, text + third,
                         len - 2 * third, len - 2 * third, text + 2 * third);
        } else if (strcmp(path, "/redirect") == 0) {
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 302 Found\r\nLocation: /landed\r\nContent-Length: 0\r\n\r\n");
        } else {
            n = snprintf(out, sizeof(out),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Upstream: yes\r\n"
                         "Content-Length: %d\r\n\r\n%s", len, text);
        }
        if (send(fd, out, (size_t) n, MSG_NOSIGNAL) != n) return;
    }
}

static void *
run(void *arg)
{
    (void) arg;
    while (running) {
        struct pollfd p = { listen_fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0) continue;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) continue;
        connections++;
        serve(fd);   /* one at a time is all the tests need */
        close(fd);
    }
    return NULL;
}

int
http_fixture_start(void)
{
    struct sockaddr_in  sa;
    socklen_t           len = sizeof(sa);
    int                 one = 1;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0
        || listen(listen_fd, 16) < 0
        || getsockname(listen_fd, (struct sockaddr *) &sa, &len) < 0)
    {
        close(listen_fd);
        return -1;
    }
    connections = 0;
    running = 1;
    pthread_create(&thread, NULL, run, NULL);
    return ntohs(sa.sin_port);
}

void
http_fixture_stop(void)
{
    if (listen_fd < 0) return;
    running = 0;
    pthread_join(thread, NULL);
    close(listen_fd);
    listen_fd = -1;
}

int
http_fixture_connections(void)
{
    return connections;
}

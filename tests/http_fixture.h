/*
 * http_fixture.h: a small HTTP/1.1 upstream on a free loopback port, on a
 * thread of its own, for the engine's fetch() tests: it answers every
 * request with "METHOD PATH|BODY" (Content-Length, keep-alive), or, for
 * /chunked, that text in three chunks, and counts the connections it took.
 */

#ifndef HTTP_FIXTURE_H
#define HTTP_FIXTURE_H

int http_fixture_start(void);   /* the port, or -1 */
void http_fixture_stop(void);
int http_fixture_connections(void);

#endif

/*
 * redis_fixture.h: a private redis-server on a free loopback port for the
 * engine's tests, started and stopped by its PID.
 */

#ifndef REDIS_FIXTURE_H
#define REDIS_FIXTURE_H

#include <stddef.h>

int redis_fixture_start(void);          /* returns the port, or -1 */
void redis_fixture_stop(void);
int redis_fixture_port(void);
int redis_fixture_running(void);

/* Runs one command (printf-style, as hiredis's redisCommand); 0 on success. */
int redis_fixture_cmd(const char *fmt, ...);

/* How many times Redis has run COMMAND (lower case), from INFO commandstats. */
long redis_fixture_calls(const char *command);

/* Runs one command; its string or integer reply (or "(nil)") into out. */
int redis_fixture_get(char *out, size_t len, const char *fmt, ...);

/* HSET dispatch:{ns}:script:name code CODE [etag ETAG] */
int redis_fixture_put_script(const char *ns, const char *name, const char *code,
                             const char *etag);

#endif

/*
 * poll_host.h: a dispatch_host_t on a plain poll() loop, so the engine can
 * be tested through its C header with no nginx at all.
 */

#ifndef POLL_HOST_H
#define POLL_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "dispatch_engine.h"

void poll_host_init(dispatch_host_t *host);
void poll_host_reset(void);

/* Runs the loop until *flag becomes non-zero or timeout_ms passes.
 * Returns 1 when the flag was set. */
int poll_host_run_until(const int *flag, int timeout_ms);

/* Runs the loop for about ms milliseconds. */
void poll_host_run_for(int ms);

/* Every line logged so far, joined by '\n'. */
const char *poll_host_log(void);

/* How many times the engine woke request_ctx. */
int poll_host_wakes(void *request_ctx);

/* The number of fds and timers the engine holds now. */
int poll_host_open_fds(void);

/* The node's script generation, as the management API bumped it. */
uint64_t poll_host_generation(void);

#endif

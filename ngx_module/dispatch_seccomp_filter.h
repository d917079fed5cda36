/*
 * dispatch_seccomp_filter.h: the seccomp filter of a worker that runs
 * tenant code. Plain C without nginx headers, so that tests/test_seccomp.c
 * installs the very same filter in a forked child.
 */

#ifndef DISPATCH_SECCOMP_FILTER_H
#define DISPATCH_SECCOMP_FILTER_H


/*
 * Sets no_new_privs and installs the filter on every thread of the calling
 * process (threads made later inherit it). Returns 0, or -1 with errno set
 * and *what naming the step that failed.
 */
int dispatch_seccomp_install(const char **what);


#endif /* DISPATCH_SECCOMP_FILTER_H */

/*
 * dispatch_landlock.h: Landlock around a worker that runs tenant code
 * (dispatch_landlock). Plain C without nginx headers, so that
 * tests/test_seccomp.c applies the very same rules in a forked child.
 */

#ifndef DISPATCH_LANDLOCK_H
#define DISPATCH_LANDLOCK_H

#include <stddef.h>


/*
 * From now on the calling thread, and the threads and processes it makes,
 * may create, write, remove or rename files only beneath the directories in
 * dirs (and write to the files in files, such as /dev/null); reading stays
 * as it was. Paths that do not exist are skipped. Sets no_new_privs.
 * Returns 0, or -1 with errno set and *what naming the step that failed
 * (ENOSYS or EOPNOTSUPP: the kernel has no Landlock).
 */
int dispatch_landlock_install(const char *const *dirs, size_t ndirs,
    const char *const *files, size_t nfiles, const char **what);


#endif /* DISPATCH_LANDLOCK_H */

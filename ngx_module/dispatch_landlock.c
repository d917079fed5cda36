/*
 * dispatch_landlock.c: a worker that runs tenant code writes only where
 * nginx writes (its logs and temp paths), should a tenant escape V8.
 *
 * Only the rights that change the file system are handled, so reading is
 * untouched (static files, certificates, /proc/self, ICU and zoneinfo
 * data). Landlock applies to the calling thread and what it makes later:
 * it must be installed before the engine starts V8's threads.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "dispatch_landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>


#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER     (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE  (1ULL << 14)
#endif

#define DISPATCH_LL_WRITE  (LANDLOCK_ACCESS_FS_WRITE_FILE                   \
                            | LANDLOCK_ACCESS_FS_REMOVE_DIR                 \
                            | LANDLOCK_ACCESS_FS_REMOVE_FILE                \
                            | LANDLOCK_ACCESS_FS_MAKE_CHAR                  \
                            | LANDLOCK_ACCESS_FS_MAKE_DIR                   \
                            | LANDLOCK_ACCESS_FS_MAKE_REG                   \
                            | LANDLOCK_ACCESS_FS_MAKE_SOCK                  \
                            | LANDLOCK_ACCESS_FS_MAKE_FIFO                  \
                            | LANDLOCK_ACCESS_FS_MAKE_BLOCK                 \
                            | LANDLOCK_ACCESS_FS_MAKE_SYM)

/* what a rule on a file (not a directory) may carry */
#define DISPATCH_LL_FILE   (LANDLOCK_ACCESS_FS_WRITE_FILE                   \
                            | LANDLOCK_ACCESS_FS_TRUNCATE)


static int
dispatch_landlock_allow(int ruleset, const char *path, uint64_t access,
    int want_dir)
{
    int                                fd, rc;
    struct stat                        st;
    struct landlock_path_beneath_attr  rule;

    fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        return 0;   /* nothing there to write to: skipped */
    }

    if (fstat(fd, &st) != 0 || (S_ISDIR(st.st_mode) != 0) != want_dir) {
        close(fd);
        return 0;
    }

    rule.allowed_access = access;
    rule.parent_fd = fd;

    rc = (int) syscall(__NR_landlock_add_rule, ruleset,
                       LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    close(fd);

    return rc;
}


int
dispatch_landlock_install(const char *const *dirs, size_t ndirs,
    const char *const *files, size_t nfiles, const char **what)
{
    int                            abi, ruleset;
    size_t                         i;
    uint64_t                       handled, file_access;
    struct landlock_ruleset_attr   attr;

    abi = (int) syscall(__NR_landlock_create_ruleset, NULL, 0,
                        LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        *what = "landlock_create_ruleset(VERSION)";
        return -1;
    }

    handled = DISPATCH_LL_WRITE;
    file_access = LANDLOCK_ACCESS_FS_WRITE_FILE;

    if (abi >= 2) {
        handled |= LANDLOCK_ACCESS_FS_REFER;      /* rename across dirs */
    }

    if (abi >= 3) {
        handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
        file_access |= LANDLOCK_ACCESS_FS_TRUNCATE;
    }

    attr.handled_access_fs = handled;

    /* only the fs field: the struct grew with later ABIs */
    ruleset = (int) syscall(__NR_landlock_create_ruleset, &attr,
                            sizeof(attr.handled_access_fs), 0);
    if (ruleset < 0) {
        *what = "landlock_create_ruleset";
        return -1;
    }

    for (i = 0; i < ndirs; i++) {
        if (dispatch_landlock_allow(ruleset, dirs[i], handled, 1) != 0) {
            *what = "landlock_add_rule (a directory)";
            goto failed;
        }
    }

    for (i = 0; i < nfiles; i++) {
        if (dispatch_landlock_allow(ruleset, files[i],
                                    file_access & DISPATCH_LL_FILE, 0) != 0)
        {
            *what = "landlock_add_rule (a file)";
            goto failed;
        }
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        *what = "prctl(PR_SET_NO_NEW_PRIVS)";
        goto failed;
    }

    if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) {
        *what = "landlock_restrict_self";
        goto failed;
    }

    close(ruleset);
    return 0;

failed:

    i = (size_t) errno;
    close(ruleset);
    errno = (int) i;
    return -1;
}

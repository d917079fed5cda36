/*
 * test_seccomp: the worker's seccomp filter (ngx_module/dispatch_seccomp_
 * filter.c), installed in a forked child: what it refuses, and that what a
 * worker does (files, sockets, threads) still works under it; and its
 * Landlock rules (dispatch_landlock.c): writes only where allowed. Each test
 * runs its checks in a child of its own and reads its exit status; the
 * child names the first check that failed on stderr.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* CLONE_NEW* */
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/netlink.h>

#include <cmocka.h>

#include "dispatch_landlock.h"
#include "dispatch_seccomp_filter.h"


#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "line %d: %s failed (errno %d: %s)\n",         \
                    __LINE__, #cond, errno, strerror(errno));              \
            return 1;                                                      \
        }                                                                  \
    } while (0)


/* runs fn in a child under the filter; its exit status is fn's result */
static void
run_filtered(int (*fn)(void))
{
    int          status;
    pid_t        pid;
    const char  *what = "";

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        if (dispatch_seccomp_install(&what) != 0) {
            fprintf(stderr, "install: %s: %s\n", what, strerror(errno));
            _exit(250);
        }
        _exit(fn());
    }

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) {
        fail_msg("a check failed in the child (status %d)", WEXITSTATUS(status));
    }
}


static int
status_field(const char *name)
{
    char   line[256];
    int    value = -1;
    size_t len = strlen(name);
    FILE  *f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            value = atoi(line + len + 1);
        }
    }
    fclose(f);
    return value;
}


static int
check_status(void)
{
    CHECK(status_field("Seccomp") == 2);
    CHECK(status_field("NoNewPrivs") == 1);
    return 0;
}

static void test_status_shows_filter_and_no_new_privs(void **state)
{
    (void) state;
    run_filtered(check_status);
}


static int
check_execve(void)
{
    /* /bin/false: should it run, the child's status says so */
    char *const  argv[] = { "/bin/false", NULL };
    char *const  envp[] = { NULL };

    CHECK(execve("/bin/false", argv, envp) == -1 && errno == EPERM);
    CHECK(syscall(__NR_execveat, AT_FDCWD, "/bin/false", argv, envp, 0) == -1
          && errno == EPERM);
    return 0;
}

static void test_execve_refused(void **state)
{
    (void) state;
    run_filtered(check_execve);
}


static int
check_ptrace(void)
{
    CHECK(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM);
    CHECK(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL) == -1 && errno == EPERM);
    return 0;
}

static void test_ptrace_refused(void **state)
{
    (void) state;
    run_filtered(check_ptrace);
}


static int
check_raw_sockets(void)
{
    CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) == -1 && errno == EPERM);
    CHECK(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW) == -1
          && errno == EPERM);
    CHECK(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) == -1 && errno == EPERM);
    CHECK(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) == -1 && errno == EPERM);
    return 0;
}

static void test_raw_packet_and_netlink_sockets_refused(void **state)
{
    (void) state;
    run_filtered(check_raw_sockets);
}


static int
check_namespaces(void)
{
    CHECK(unshare(CLONE_NEWUSER) == -1 && errno == EPERM);
    CHECK(unshare(CLONE_NEWNET) == -1 && errno == EPERM);
    /* fork-like clone with a namespace flag */
    CHECK(syscall(__NR_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0) == -1
          && errno == EPERM);
    CHECK(syscall(__NR_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, NULL,
                  NULL, NULL, 0) == -1 && errno == EPERM);
    return 0;
}

static void test_namespaces_refused(void **state)
{
    (void) state;
    run_filtered(check_namespaces);
}


static int
check_files(void)
{
    char     path[] = "/tmp/dispatch-seccomp-XXXXXX";
    char     buf[6];
    int      fd = mkstemp(path);

    CHECK(fd >= 0);
    CHECK(write(fd, "hello", 5) == 5);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(close(fd) == 0);
    fd = open(path, O_WRONLY | O_APPEND);   /* as a reopened log */
    CHECK(fd >= 0 && write(fd, "!", 1) == 1);
    close(fd);
    CHECK(rename(path, path) == 0 && unlink(path) == 0);
    return 0;
}

static void test_file_io_works(void **state)
{
    (void) state;
    run_filtered(check_files);
}


static int
check_sockets(void)
{
    int                 l, c, a, u, sv[2];
    char                b;
    socklen_t           len = sizeof(struct sockaddr_in);
    struct sockaddr_in  sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    CHECK(bind(l, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    CHECK(listen(l, 1) == 0);
    CHECK(getsockname(l, (struct sockaddr *) &sin, &len) == 0);
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0 && connect(c, (struct sockaddr *) &sin, sizeof(sin)) == 0);
    a = accept(l, NULL, NULL);
    CHECK(a >= 0 && write(c, "x", 1) == 1 && read(a, &b, 1) == 1 && b == 'x');

    u = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);   /* the resolver's */
    CHECK(u >= 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) >= 0);
    return 0;
}

static void test_tcp_udp_and_unix_sockets_work(void **state)
{
    (void) state;
    run_filtered(check_sockets);
}


static void *
thread_main(void *arg)
{
    return arg;
}

static int
check_threads(void)
{
    int        status;
    void      *ret = NULL;
    pid_t      pid;
    pthread_t  t;

    CHECK(pthread_create(&t, NULL, thread_main, (void *) 42) == 0);
    CHECK(pthread_join(t, &ret) == 0 && ret == (void *) 42);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        _exit(7);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7);
    return 0;
}

static void test_threads_and_fork_work(void **state)
{
    (void) state;
    run_filtered(check_threads);
}


/* ---- Landlock ---------------------------------------------------------- */

static char  allowed_dir[] = "/tmp/dispatch-ll-ok-XXXXXX";
static char  other_dir[] = "/tmp/dispatch-ll-no-XXXXXX";
static char  other_file[64];


static int
write_file(const char *path, int flags)
{
    int  fd = open(path, flags, 0600);

    if (fd < 0) {
        return -1;
    }
    if (write(fd, "x", 1) != 1) {
        close(fd);
        return -1;
    }
    return close(fd);
}


static int
check_landlock(void)
{
    char         path[128], buf[2];
    int          fd;
    const char  *dirs[] = { allowed_dir };
    const char  *files[] = { "/dev/null" };
    const char  *what = "";

    if (dispatch_landlock_install(dirs, 1, files, 1, &what) != 0) {
        fprintf(stderr, "landlock: %s: %s\n", what, strerror(errno));
        return 1;
    }

    /* where nginx writes: its logs and temp paths */
    snprintf(path, sizeof(path), "%s/new.log", allowed_dir);
    CHECK(write_file(path, O_WRONLY | O_CREAT | O_APPEND) == 0);
    CHECK(rename(path, path) == 0 && unlink(path) == 0);
    CHECK(write_file("/dev/null", O_WRONLY) == 0);

    /* anywhere else: no new file, no write, no removal */
    snprintf(path, sizeof(path), "%s/planted", other_dir);
    CHECK(write_file(path, O_WRONLY | O_CREAT) == -1 && errno == EACCES);
    CHECK(write_file(other_file, O_WRONLY | O_APPEND) == -1 && errno == EACCES);
    CHECK(unlink(other_file) == -1 && errno == EACCES);
    CHECK(mkdir(path, 0700) == -1 && errno == EACCES);

    /* reading is untouched */
    fd = open(other_file, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, 1) == 1 && buf[0] == 'x');
    close(fd);
    return 0;
}

static void test_landlock_writes_only_beneath_allowed_dirs(void **state)
{
    int    status;
    pid_t  pid;

    (void) state;
    /* a kernel without Landlock: dispatch_landlock on is refused there */
    if (syscall(__NR_landlock_create_ruleset, NULL, 0, 1U) < 1) {
        skip();
    }
    assert_non_null(mkdtemp(allowed_dir));
    assert_non_null(mkdtemp(other_dir));
    snprintf(other_file, sizeof(other_file), "%s/existing", other_dir);
    assert_int_equal(write_file(other_file, O_WRONLY | O_CREAT), 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(check_landlock());
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);

    unlink(other_file);
    rmdir(other_dir);
    rmdir(allowed_dir);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_shows_filter_and_no_new_privs),
        cmocka_unit_test(test_execve_refused),
        cmocka_unit_test(test_ptrace_refused),
        cmocka_unit_test(test_raw_packet_and_netlink_sockets_refused),
        cmocka_unit_test(test_namespaces_refused),
        cmocka_unit_test(test_file_io_works),
        cmocka_unit_test(test_tcp_udp_and_unix_sockets_work),
        cmocka_unit_test(test_threads_and_fork_work),
        cmocka_unit_test(test_landlock_writes_only_beneath_allowed_dirs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

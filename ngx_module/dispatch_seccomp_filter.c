/*
 * dispatch_seccomp_filter.c: what a worker that runs tenant code may no
 * longer ask of the kernel, should a tenant escape V8.
 *
 * A deny-list, not an allow-list: nginx, its modules, OpenSSL, V8 and glibc
 * together use a wide and changing set of system calls, and an allow-list
 * that misses one kills a feature at run time. What is denied is what an
 * nginx worker never needs once it serves: running programs, looking into
 * or changing other processes, the kernel's riskiest interfaces, new
 * namespaces, and sockets other than TCP/UDP/unix ones. Each answers EPERM
 * (the worker never relies on them, so nothing legitimate sees it); a
 * foreign architecture or x32 call kills the process, since the numbers
 * checked here would not mean what they say.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* CLONE_NEW* */
#endif

#include "dispatch_seccomp_filter.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>


#if defined(__x86_64__)
#define DISPATCH_AUDIT_ARCH  AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define DISPATCH_AUDIT_ARCH  AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS  0x80000000U
#endif

#define DISPATCH_DENY  (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

/* clone() flags that make a namespace (CLONE_NEWTIME shares bits with the
 * exit signal in clone(); it only exists for clone3 and unshare) */
#define DISPATCH_CLONE_NS  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS    \
                            | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID   \
                            | CLONE_NEWNET)

/* little-endian only (x86_64, aarch64): the low half of an argument */
#define DISPATCH_ARG_LO(n)  (offsetof(struct seccomp_data, args)            \
                             + (n) * sizeof(uint64_t))


static const int  dispatch_seccomp_denied[] = {
    /* running another program */
    __NR_execve,
#ifdef __NR_execveat
    __NR_execveat,
#endif

    /* reading or changing other processes */
    __NR_ptrace,
    __NR_process_vm_readv,
    __NR_process_vm_writev,
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd,
#endif
#ifdef __NR_kcmp
    __NR_kcmp,
#endif

    /* file systems and namespaces */
    __NR_mount,
    __NR_umount2,
    __NR_pivot_root,
    __NR_chroot,
#ifdef __NR_open_tree
    __NR_open_tree,
    __NR_move_mount,
    __NR_fsopen,
    __NR_fsconfig,
    __NR_fsmount,
    __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
    __NR_unshare,
    __NR_setns,
    __NR_open_by_handle_at,
    __NR_swapon,
    __NR_swapoff,
    __NR_quotactl,
    __NR_acct,

    /* the kernel's riskiest interfaces */
    __NR_bpf,
    __NR_perf_event_open,
    __NR_userfaultfd,
    __NR_keyctl,
    __NR_add_key,
    __NR_request_key,
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup,
    __NR_io_uring_enter,
    __NR_io_uring_register,
#endif
    __NR_personality,
    __NR_syslog,
#ifdef __NR_lookup_dcookie
    __NR_lookup_dcookie,
#endif
#ifdef __NR_modify_ldt
    __NR_modify_ldt,
#endif
#ifdef __NR_iopl
    __NR_iopl,
    __NR_ioperm,
#endif
#ifdef __NR_uselib
    __NR_uselib,
#endif

    /* the machine itself */
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module,
    __NR_finit_module,
    __NR_delete_module,
    __NR_reboot,
    __NR_vhangup,
    __NR_settimeofday,
    __NR_clock_settime,
    __NR_clock_adjtime,
    __NR_adjtimex,
    __NR_sethostname,
    __NR_setdomainname,
};

#define DISPATCH_NDENIED  (sizeof(dispatch_seccomp_denied) / sizeof(int))

/* the program: a fixed head, two instructions per denied call, the checks */
#define DISPATCH_MAX_INSNS  (2 * DISPATCH_NDENIED + 48)


typedef struct {
    struct sock_filter  insn[DISPATCH_MAX_INSNS];
    unsigned short      n;
} dispatch_bpf_t;


static void
dispatch_bpf_emit(dispatch_bpf_t *p, unsigned short code, unsigned char jt,
    unsigned char jf, uint32_t k)
{
    struct sock_filter  insn = BPF_JUMP(code, k, jt, jf);

    if (p->n < DISPATCH_MAX_INSNS) {
        p->insn[p->n] = insn;
    }

    p->n++;   /* counted past the end too: dispatch_seccomp_install refuses */
}


/* if A == k: return ret (two instructions) */
static void
dispatch_bpf_ret_if(dispatch_bpf_t *p, uint32_t k, uint32_t ret)
{
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, k);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, ret);
}


static void
dispatch_seccomp_build(dispatch_bpf_t *p)
{
    size_t  i;

    p->n = 0;

    /* the numbers below are this architecture's */
    dispatch_bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                      offsetof(struct seccomp_data, arch));
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, DISPATCH_AUDIT_ARCH);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);

    dispatch_bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0,
                      offsetof(struct seccomp_data, nr));

#if defined(__x86_64__)
    /* x32 calls are numbered apart */
    dispatch_bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000U);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif

    for (i = 0; i < DISPATCH_NDENIED; i++) {
        dispatch_bpf_ret_if(p, (uint32_t) dispatch_seccomp_denied[i],
                            DISPATCH_DENY);
    }

    /*
     * clone3 passes its flags in memory the filter cannot read: ENOSYS
     * makes glibc fall back to clone(), whose flags it can.
     */
#ifdef __NR_clone3
    dispatch_bpf_ret_if(p, __NR_clone3,
                        SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
#endif

    /* clone: threads and fork, yes; a new namespace, no */
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, __NR_clone);
    dispatch_bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, DISPATCH_ARG_LO(0));
    dispatch_bpf_emit(p, BPF_JMP | BPF_JSET | BPF_K, 0, 1, DISPATCH_CLONE_NS);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, DISPATCH_DENY);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);

    /*
     * socket and socketpair: unix, IPv4 and IPv6, stream or datagram
     * (listening sockets, Redis, upstreams, the resolver, fetch()); no raw,
     * packet or netlink socket.
     */
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, __NR_socket);
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 9, __NR_socketpair);
    dispatch_bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, DISPATCH_ARG_LO(0));
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, AF_UNIX);
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AF_INET);
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, AF_INET6);
    dispatch_bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, DISPATCH_ARG_LO(1));
    /* the type without SOCK_NONBLOCK and SOCK_CLOEXEC */
    dispatch_bpf_emit(p, BPF_ALU | BPF_AND | BPF_K, 0, 0, 0xf);
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, SOCK_STREAM);
    dispatch_bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SOCK_DGRAM);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, DISPATCH_DENY);
    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);

    dispatch_bpf_emit(p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}


int
dispatch_seccomp_install(const char **what)
{
#ifndef DISPATCH_AUDIT_ARCH
    *what = "this architecture (x86_64 and aarch64 only)";
    errno = ENOSYS;
    return -1;
#else
    long                rc;
    dispatch_bpf_t      bpf;
    struct sock_fprog   prog;

    dispatch_seccomp_build(&bpf);

    if (bpf.n > DISPATCH_MAX_INSNS) {
        *what = "building the filter";
        errno = E2BIG;
        return -1;
    }

    /* without it an unprivileged process may not install a filter, and a
     * set-uid program could be fooled by one */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        *what = "prctl(PR_SET_NO_NEW_PRIVS)";
        return -1;
    }

    prog.len = bpf.n;
    prog.filter = bpf.insn;

    /* TSYNC: V8's platform threads and the CPU watchdog run already */
    rc = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                 SECCOMP_FILTER_FLAG_TSYNC, &prog);

    if (rc != 0) {
        *what = "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)";
        if (rc > 0) {
            errno = ESRCH;  /* TSYNC names a thread it could not sync */
        }
        return -1;
    }

    return 0;
#endif
}

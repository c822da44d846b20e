/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.c: cofferd's seccomp allow-list (DESIGN.md §10). The list is confine_rules[] below;
 * confine_apply() loads its run-time rows as the in-process filter once start-up is over, and
 * confine_print_profile() prints every row as the OCI profile (deploy/seccomp/cofferd.json), both
 * through common/seccomp_rows.c, so the two come from one table. Called by server/main.c.
 */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_rows.h"

#if defined(__SANITIZE_ADDRESS__)
#define CONFINE_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONFINE_HAS_ASAN 1
#endif
#endif

#if defined(COFFER_TEST_HOOKS) || defined(CONFINE_HAS_ASAN)
#include <sys/ptrace.h>
#endif
#ifdef COFFER_TEST_HOOKS
#include <sys/mount.h>
#endif

/* clang-format off */
#define NO_EXEC(a) MASKED_EQ(a, PROT_EXEC, 0)

/*
 * The allow-list. Everything else kills the process in the in-process filter. Found by running
 * the integration suite (HTTP and HTTPS, SQLite in WAL mode, audit files staged and direct with
 * SIGHUP reopens and devices enabled through the API, seal, unseal, rotation, watches) against
 * cofferd under strace -f, in the plain, the ASan+UBSan and the ThreadSanitizer builds. Names a
 * given architecture lacks (open, access, readlink on aarch64) are skipped there. Reasons must
 * not hold '"' or '\' (they are printed into the JSON as is). After a change, regenerate
 * deploy/seccomp/cofferd.json (test_server_sandbox.py compares it byte for byte).
 */
static const struct seccomp_row confine_rules[] = {
	/* memory: nothing becomes executable after start-up (no dlopen, no JIT) */
	ALLOW("brk", "malloc"),
	ALLOW_IF("mmap", NO_EXEC(2), "malloc, thread stacks, SQLite -shm, the audit stage; no PROT_EXEC"),
	ALLOW_IF("mprotect", NO_EXEC(2), "malloc arenas, thread stack guard pages; no PROT_EXEC"),
	ALLOW("munmap", "free of large blocks, thread stacks, SQLite's -shm"),
	ALLOW("mremap", "realloc of large blocks"),
	ALLOW("madvise", "free and thread exit return memory; AddressSanitizer's allocator"),
	ALLOW("msync", "the audit stage is flushed to its file"),
	ALLOW("mlock", "libsodium locks each key buffer (sodium_malloc)"),
	ALLOW("munlock", "libsodium unlocks a key buffer it frees (sodium_free)"),
	/* files: the database and its -wal and -shm, audit files (reopened on SIGHUP, created by
	 * sys/audit in audit_dir), the stage file, /etc/localtime */
	ALLOW("openat", "SQLite's connections, audit files, the stage file, thread names"),
	ALLOW("open", "AddressSanitizer reads /proc/self/maps with open on x86_64"),
	ALLOW("read", "files, sockets"),
	ALLOW("pread64", "SQLite reads pages and the WAL"),
	ALLOW("readv", "stdio and SQLite"),
	ALLOW("write", "files, sockets, logs on stderr"),
	ALLOW("pwrite64", "SQLite writes the WAL and pages"),
	ALLOW("writev", "libmicrohttpd sends header and body together"),
	ALLOW("close", "every descriptor"),
	ALLOW("lseek", "stdio and the time zone file"),
	ALLOW("newfstatat", "fstatat and stat: SQLite and audit file checks (glibc's fstat on x86_64)"),
	ALLOW("fstat", "fstat where glibc does not use newfstatat"),
	ALLOW("statx", "stat where glibc uses statx"),
	ALLOW("access", "SQLite checks for a journal or a WAL file"),
	ALLOW("faccessat", "access on aarch64"),
	ALLOW("faccessat2", "access in newer glibc"),
	ALLOW("readlink", "SQLite resolves the database path; sanitizers' symbolizer"),
	ALLOW("readlinkat", "readlink on aarch64"),
	ALLOW("getcwd", "SQLite makes a relative path absolute"),
	ALLOW("fsync", "audit files, the stage file, SQLite's directory sync"),
	ALLOW("fdatasync", "SQLite commits (synchronous=FULL)"),
	ALLOW("ftruncate", "SQLite's WAL reset, an audit file's torn tail"),
	ALLOW("fallocate", "the audit stage and the audit file's reservations (FALLOC_FL_KEEP_SIZE)"),
	ALLOW("fadvise64", "the audit file drops written pages from the cache"),
	ALLOW("sync_file_range", "the audit file starts write-back of full chunks"),
	ALLOW("fchown", "SQLite gives a new -wal or -shm the owner of the database when root"),
	ALLOW("fchmod", "a new file gets mode 0600 through its own descriptor"),
	ALLOW("unlink", "SQLite removes the WAL at the last close; the dev data directory at exit"),
	ALLOW("unlinkat", "unlink on aarch64"),
	ALLOW("rmdir", "the dev mode's temporary data directory at exit"),
	ALLOW("getdents64", "LeakSanitizer lists the threads at exit (aarch64)"),
	ALLOW("getdents", "LeakSanitizer lists the threads at exit (x86_64)"),
	ALLOW_IF("fcntl", EQ(1, F_GETFL), "libmicrohttpd sets O_NONBLOCK"),
	ALLOW_IF("fcntl", EQ(1, F_SETFL), "libmicrohttpd sets O_NONBLOCK"),
	ALLOW_IF("fcntl", EQ(1, F_GETFD), "close-on-exec checks"),
	ALLOW_IF("fcntl", EQ(1, F_SETFD), "close-on-exec"),
	ALLOW_IF("fcntl", EQ(1, F_GETLK), "SQLite's POSIX locks"),
	ALLOW_IF("fcntl", EQ(1, F_SETLK), "SQLite's POSIX locks"),
	ALLOW_IF("fcntl", EQ(1, F_SETLKW), "SQLite's POSIX locks"),
	ALLOW_IF("fcntl", EQ(1, F_OFD_GETLK), "POSIX locks as glibc may issue them"),
	ALLOW_IF("fcntl", EQ(1, F_OFD_SETLK), "POSIX locks as glibc may issue them"),
	ALLOW_IF("fcntl", EQ(1, F_OFD_SETLKW), "POSIX locks as glibc may issue them"),
	ALLOW_IF("ioctl", EQ(1, TCGETS), "isatty() from stdio"),
	/* network: the listener is open; outbound TCP only for what server/net/outbound.c asks of
	 * other servers (a Kubernetes TokenReview, a JWK set) and the name lookups before it */
	ALLOW("accept4", "new connections"),
	ALLOW("accept", "new connections (older libmicrohttpd)"),
	ALLOW("recvfrom", "requests"),
	ALLOW("recvmsg", "requests"),
	ALLOW("sendto", "answers"),
	ALLOW("sendmsg", "answers"),
	ALLOW("shutdown", "libmicrohttpd and the connection reaper close a connection"),
	ALLOW("setsockopt", "libmicrohttpd sets TCP_NODELAY and corking per connection"),
	ALLOW("getsockopt", "socket state"),
	ALLOW("getsockname", "the local address of a connection"),
	ALLOW("getpeername", "the client address of a connection"),
	ALLOW("epoll_create1", "libmicrohttpd's event loop per worker thread"),
	ALLOW("epoll_ctl", "libmicrohttpd's event loop"),
	ALLOW("epoll_wait", "libmicrohttpd's event loop"),
	ALLOW("epoll_pwait", "epoll_wait on aarch64"),
	ALLOW("eventfd2", "libmicrohttpd wakes a worker thread"),
	ALLOW("pipe2", "libmicrohttpd wakes a worker thread (without eventfd)"),
	ALLOW("poll", "libmicrohttpd and GnuTLS wait for a socket"),
	ALLOW("ppoll", "poll on aarch64"),
	ALLOW("select", "libmicrohttpd's fallback wait"),
	ALLOW("pselect6", "select on aarch64"),
	ALLOW_IF("socket", EQ(0, AF_INET), "outbound requests (TokenReview, JWK sets) and DNS over IPv4"),
	ALLOW_IF("socket", EQ(0, AF_INET6), "outbound requests and DNS over IPv6"),
	FAIL_IF("socket", EACCES, EQ(0, AF_UNIX), "glibc probes nscd before a name lookup: refused, it falls back"),
	ALLOW("connect", "outbound requests, and the CLI exec'd into the container connects to cofferd"),
	ALLOW("socketpair", "libcurl's wakeup pair"),
	ALLOW("sendmmsg", "glibc's resolver sends the A and AAAA queries together"),
	ALLOW("timerfd_create", "timers"),
	ALLOW("timerfd_settime", "timers"),
	ALLOW("timerfd_gettime", "timers"),
	/* threads (libmicrohttpd's workers, the store writer, the audit and lease threads); never a
	 * new process */
	ALLOW_IF("clone", MASKED_EQ(0, CLONE_THREAD | SECCOMP_ROWS_CLONE_NEW, CLONE_THREAD),
	         "pthread_create: a thread (fork, vfork, posix_spawn lack CLONE_THREAD), no namespace"),
	FAIL("clone3", ENOSYS, "its flags are out of a filter's reach: ENOSYS makes glibc use clone"),
	ALLOW("futex", "mutexes, condition variables, pthread_join"),
	ALLOW("set_robust_list", "new threads"),
	ALLOW("rseq", "new threads register restartable sequences"),
	ALLOW("sched_yield", "SQLite's and the sanitizers' spin loops"),
	ALLOW("sched_getaffinity", "thread start (sanitizers), the number of processors"),
	ALLOW("gettid", "thread ids in the sanitizers' registries"),
	ALLOW_IF("prctl", EQ(0, PR_SET_NAME), "a thread names itself (pthread_setname_np)"),
	ALLOW_IF("prctl", EQ(0, PR_GET_NAME), "a thread's name (sanitizers)"),
	ALLOW("exit", "a thread ends"),
	ALLOW("exit_group", "cofferd exits"),
	/* signals */
	ALLOW("rt_sigaction", "signal handlers"),
	ALLOW("rt_sigprocmask", "signal masks around thread start"),
	ALLOW("rt_sigtimedwait", "the main thread waits for SIGTERM, SIGINT and SIGHUP (sigwait)"),
	ALLOW("rt_sigreturn", "return from a signal handler"),
	ALLOW("sigaltstack", "the sanitizers' alternate signal stack per thread"),
	ALLOW("restart_syscall", "a sleep interrupted by a signal resumes"),
	ALLOW("tgkill", "raise() and abort()"),
	/* time, identity, limits, randomness */
	ALLOW("clock_gettime", "timestamps where the vDSO falls back to the syscall"),
	ALLOW("clock_getres", "clock resolution"),
	ALLOW("gettimeofday", "time where the vDSO falls back to the syscall"),
	ALLOW("clock_nanosleep", "SQLite's busy wait, the lease and audit threads' sleeps"),
	ALLOW("nanosleep", "sleeps in older glibc"),
	ALLOW("getpid", "raise(), SQLite's fork check, the sanitizers"),
	ALLOW("getuid", "identity checks"),
	ALLOW("geteuid", "SQLite checks for root before it gives a new file its owner"),
	ALLOW("getgid", "identity checks"),
	ALLOW("getegid", "identity checks"),
	ALLOW("getrandom", "libsodium, GnuTLS, SQLite"),
	ALLOW("uname", "GnuTLS and glibc read the system name"),
	ALLOW("sysinfo", "glibc's qsort sizes its buffer from the physical memory"),
	ALLOW_IF("prlimit64", EQ(0, 0), "own process only: getrlimit and setrlimit"),
	ALLOW("getrlimit", "own limits"),
	ALLOW("setrlimit", "own limits"),
	/* start-up only: the runtime's profile covers the exec and what confine_apply() forbids */
	START("execve", "the container runtime starts cofferd"),
	START("arch_prctl", "the loader sets up thread-local storage"),
	START("set_tid_address", "the loader sets up the main thread"),
	START("mlockall", "keep keys out of swap"),
	START_IF("prctl", EQ(0, PR_SET_DUMPABLE), "no core dumps, no ptrace by the same user"),
	START_IF("prctl", EQ(0, PR_SET_NO_NEW_PRIVS), "required for seccomp"),
	START("mmap", "the loader maps shared libraries executable"),
	START("mprotect", "the loader's RELRO"),
	START("chmod", "tighten SQLite's -wal and -shm left by an older, looser file"),
	START("fchmodat", "chmod on aarch64"),
	START("mkdir", "the dev mode's temporary data directory"),
	START("mkdirat", "mkdir on aarch64"),
	START("socket", "the listener"),
	START("bind", "the listener"),
	START("listen", "the listener"),
	START("flock", "one cofferd per store: the exclusive lock of the database file"),
	START("seccomp", "load the in-process filter (libseccomp probes the kernel first)"),
};
/* clang-format on */

#ifdef CONFINE_HAS_ASAN
/*
 * AddressSanitizer builds only, in-process only (never in the profile): LeakSanitizer's check at
 * exit stops the world with a tracer task that shares the memory (clone without CLONE_THREAD,
 * these exact flags) and ptrace()s every thread; without these rows the tracer is killed and
 * cofferd spins at exit. Taken from its stop-the-world code and checked by leaving rows out (dmesg
 * names the killed call); PTRACE_CONT serves only a signal that arrives while it attaches.
 */
#define CONFINE_LSAN_CLONE (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)
/* clang-format off */
static const struct seccomp_row confine_asan_rules[] = {
	ALLOW_IF("clone", EQ(0, CONFINE_LSAN_CLONE), "LeakSanitizer's tracer task"),
	ALLOW_IF("ptrace", EQ(0, PTRACE_ATTACH), "LeakSanitizer suspends each thread"),
	ALLOW_IF("ptrace", EQ(0, PTRACE_GETREGSET), "LeakSanitizer reads each thread's registers"),
	ALLOW_IF("ptrace", EQ(0, PTRACE_DETACH), "LeakSanitizer resumes each thread"),
	ALLOW_IF("ptrace", EQ(0, PTRACE_CONT), "LeakSanitizer passes on a signal met while attaching"),
	ALLOW("wait4", "the tracer waits for each thread, the process for the tracer"),
	ALLOW_IF("prctl", EQ(0, PR_SET_PTRACER), "the process lets its tracer task attach"),
	ALLOW_IF("prctl", EQ(0, PR_SET_PDEATHSIG), "the tracer dies with the process"),
	ALLOW_IF("prctl", EQ(0, PR_SET_DUMPABLE), "LeakSanitizer makes the process traceable"),
	ALLOW_IF("prctl", EQ(0, PR_GET_DUMPABLE), "LeakSanitizer makes the process traceable"),
	ALLOW("getppid", "the tracer checks its parent"),
};
/* clang-format on */
#endif

/* The in-process filter: the table, and LeakSanitizer's rows in an AddressSanitizer build. */
static const struct seccomp_rows confine_tables[] = {
    SECCOMP_ROWS(confine_rules),
#ifdef CONFINE_HAS_ASAN
    SECCOMP_ROWS(confine_asan_rules),
#endif
};

int confine_apply(char *err, size_t err_len)
{
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		if (err != NULL && err_len > 0)
			snprintf(err, err_len, "confine: prctl(PR_SET_NO_NEW_PRIVS): %s",
			         strerror(errno));
		return -1;
	}
	/* Synchronised to every thread started so far: libmicrohttpd's, the store writer, ... */
	return seccomp_rows_load(confine_tables, sizeof(confine_tables) / sizeof(confine_tables[0]),
	                         NULL, NULL, "confine", err, err_len);
}

int confine_print_profile(FILE *f)
{
	static const struct seccomp_rows t = SECCOMP_ROWS(confine_rules);

	return seccomp_rows_print(f, &t);
}

#ifdef COFFER_TEST_HOOKS
int confine_test_forbidden(const char *what)
{
	static char *const argv[] = {"/bin/true", NULL};
	static char *const envp[] = {NULL};

	if (what == NULL)
		return -1;
	if (strcmp(what, "execve") == 0)
		return execve(argv[0], argv, envp);
	if (strcmp(what, "fork") == 0)
		return fork() == 0 ? (_exit(0), 0) : -1;
	if (strcmp(what, "ptrace") == 0) /* not a request LeakSanitizer's rows allow */
		return (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	if (strcmp(what, "mount") == 0)
		return mount("none", "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	if (strcmp(what, "socket") == 0) /* outbound TCP is allowed; a packet socket never */
		return socket(AF_PACKET, SOCK_RAW, 0);
#ifdef CONFINE_HAS_ASAN
	if (strcmp(what, "asan_report") == 0) { /* the report must survive the filter */
		char *volatile buf = malloc(8);
		int v;

		if (buf == NULL)
			return -1;
		v = buf[8]; /* heap-buffer-overflow */
		free(buf);
		return v;
	}
#endif
	if (strcmp(what, "mmap_exec") == 0) {
		void *p =
		    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		return p == MAP_FAILED ? -1 : 0;
	}
	return -1;
}
#endif

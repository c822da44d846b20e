/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c: coffer-agent's confinement (DESIGN.md §7, §10.8): no core dumps, locked memory,
 * no_new_privs, no capabilities it does not need, Landlock (writes only below the destination,
 * reads only of the files it needs) and a seccomp allow-list. The list is sandbox_rules[] below;
 * sandbox_apply() loads its run-time rows as the in-process filter and sandbox_print_profile()
 * prints every row as the OCI profile (deploy/seccomp/coffer-agent.json), both through
 * common/seccomp_rows.c, so the two are generated from one table. Called by agent/main.c.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "seccomp_rows.h"

/* Landlock rights newer than linux-libc-dev 6.1's header (the kernel's ABI version decides). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_HAS_ASAN 1
#endif
#endif
#ifdef SANDBOX_HAS_ASAN
/* LeakSanitizer's exit-time check stops the world with clone() and ptrace(), which the filter
 * kills; running it once before the filter is the check the sanitizer build can still make. */
void __lsan_do_leak_check(void);
#endif

/* Where a run-time condition's value comes from (RUN_EQ): sandbox_opts, see sandbox_cond_value. */
enum sandbox_src { SANDBOX_SIGNAL = 1, SANDBOX_PID, SANDBOX_UID, SANDBOX_GID };

/* clang-format off */
/*
 * The allow-list. Everything else kills the process in the in-process filter. Found by running
 * tests/integration/sandbox_probe.c (the agent's work: HTTP and HTTPS through libcurl, DNS and
 * /etc/hosts resolution, the atomic file write, signals, sleeps, a thread) and coffer-agent's own
 * integration tests under strace -f, in the plain and the ASan+UBSan builds (including an ASan
 * report). Names a given architecture lacks (open, poll, renameat on aarch64) are skipped there.
 * Reasons must not hold '"' or '\' (they are printed into the JSON as is). After a change,
 * regenerate deploy/seccomp/coffer-agent.json (test_sandbox.py compares it byte for byte).
 */
static const struct seccomp_row sandbox_rules[] = {
	/* memory */
	ALLOW("brk", "malloc"),
	ALLOW("mmap", "malloc, thread stacks, libcurl and OpenSSL; NSS modules may be loaded"),
	ALLOW("munmap", "free of large blocks, thread stacks"),
	ALLOW("mprotect", "malloc arenas, thread stack guard pages, the loader's RELRO"),
	ALLOW("mremap", "realloc of large blocks"),
	ALLOW("madvise", "free and thread exit return memory; AddressSanitizer's allocator"),
	ALLOW("mlock", "libsodium locks each secret buffer (sodium_malloc)"),
	ALLOW("munlock", "libsodium unlocks a secret buffer it frees (sodium_free)"),
	/* files: the destination directory (Landlock keeps writes below it), CA and pid files */
	ALLOW("openat", "temp files in the destination, CA bundle, pid file, /etc/hosts, resolv.conf"),
	ALLOW("open", "AddressSanitizer reads /proc/self/maps with open on x86_64"),
	ALLOW("read", "files, sockets"),
	ALLOW("pread64", "the loader reads ELF notes (an NSS module named in nsswitch.conf)"),
	ALLOW("write", "rendered files, sockets, logs on stderr"),
	ALLOW("close", "every descriptor"),
	ALLOW("lseek", "stdio and OpenSSL file reads"),
	ALLOW("newfstatat", "fstatat and stat: file checks (glibc's fstat on x86_64)"),
	ALLOW("statfs", "the destination must be tmpfs"),
	ALLOW("fstatfs", "the destination must be tmpfs"),
	/* A temp file is created with its mode (no chmod of any kind) and given its owner through
	 * its own fd: fchown to the configured uid and gid only; no fchownat, chown or lchown. */
	ALLOW_IF2("fchown", RUN_EQ(1, SANDBOX_UID), RUN_EQ(2, SANDBOX_GID),
	          "owner of the temp file set before content (in-process: destination uid:gid only)"),
	ALLOW("fsync", "temp file and directory flushed before and after the rename"),
	ALLOW("renameat", "atomic replace of a rendered file"),
	ALLOW("renameat2", "atomic replace (glibc's renameat on aarch64)"),
	ALLOW("unlinkat", "stale temp files; removing the files on SIGTERM"),
	ALLOW_IF("fcntl", EQ(1, F_GETFL), "libcurl sets O_NONBLOCK"),
	ALLOW_IF("fcntl", EQ(1, F_SETFL), "libcurl sets O_NONBLOCK"),
	ALLOW_IF("fcntl", EQ(1, F_SETFD), "close-on-exec (AddressSanitizer's symbolizer)"),
	ALLOW("readlink", "AddressSanitizer's symbolizer follows library links in a report"),
	ALLOW("readlinkat", "readlink on aarch64"),
	ALLOW_IF("ioctl", EQ(1, TCGETS), "isatty() from stdio"),
	ALLOW_IF("ioctl", EQ(1, FIONREAD), "glibc's resolver sizes a DNS answer"),
	/* network: libcurl to the server, glibc's resolver */
	ALLOW_IF("socket", EQ(0, AF_INET), "TCP to the server, UDP to the DNS server"),
	ALLOW_IF("socket", EQ(0, AF_INET6), "TCP to the server, UDP to the DNS server"),
	ALLOW_IF("socket", EQ(0, AF_UNIX), "glibc tries the nscd socket when resolving"),
	ALLOW_IF2("socket", EQ(0, AF_NETLINK), EQ(2, NETLINK_ROUTE),
	          "getaddrinfo reads local addresses to sort several answers"),
	ALLOW_IF("socketpair", EQ(0, AF_UNIX), "libcurl's wakeup pair and threaded resolver"),
	ALLOW("connect", "the server, the DNS server, nscd"),
	ALLOW("bind", "getaddrinfo binds its netlink socket"),
	ALLOW("getsockname", "libcurl reads the local address; getaddrinfo source sorting"),
	ALLOW("getpeername", "libcurl reads the peer address"),
	ALLOW("getsockopt", "libcurl reads SO_ERROR after a non-blocking connect"),
	ALLOW("setsockopt", "libcurl sets TCP_NODELAY and keepalive"),
	ALLOW("sendto", "HTTP requests, DNS queries"),
	ALLOW("recvfrom", "HTTP answers, DNS answers"),
	ALLOW("recvmsg", "getaddrinfo's netlink answers"),
	ALLOW("sendmmsg", "glibc's resolver sends the A and AAAA queries together"),
	ALLOW("poll", "libcurl waits for sockets; the resolver waits for answers"),
	ALLOW("ppoll", "poll on aarch64"),
	/* threads (libcurl's threaded resolver); never a new process */
	ALLOW_IF("clone", MASKED_EQ(0, CLONE_THREAD | SECCOMP_ROWS_CLONE_NEW, CLONE_THREAD),
	         "pthread_create: a thread (fork, vfork, posix_spawn lack CLONE_THREAD), no namespace"),
	FAIL("clone3", ENOSYS, "its flags are out of a filter's reach: ENOSYS makes glibc use clone"),
	ALLOW("futex", "mutexes, condition variables, pthread_join"),
	ALLOW("set_robust_list", "new threads"),
	ALLOW("rseq", "new threads register restartable sequences"),
	ALLOW("sched_yield", "AddressSanitizer's spin locks under contention"),
	ALLOW("sched_getaffinity", "AddressSanitizer's thread start"),
	ALLOW("gettid", "AddressSanitizer's thread registry"),
	ALLOW("exit", "a thread ends"),
	ALLOW("exit_group", "the agent exits"),
	/* signals */
	ALLOW("rt_sigaction", "SIGTERM and SIGHUP handlers"),
	ALLOW("rt_sigprocmask", "signal masks around thread start and in libcurl"),
	ALLOW("rt_sigreturn", "return from a signal handler"),
	ALLOW("sigaltstack", "AddressSanitizer's alternate signal stack per thread"),
	ALLOW("restart_syscall", "a sleep interrupted by a signal resumes"),
	/* kill(pid > 0 below 2^31) with notify.signal only (none without notify) */
	ALLOW_IF2("kill", MASKED_EQ(0, 0x80000000, 0), RUN_EQ(1, SANDBOX_SIGNAL),
	          "notify the app (the pid file's process) after a change (in-process: "
	          "notify.signal only)"),
	ALLOW_IF("tgkill", RUN_EQ(0, SANDBOX_PID), "raise() and abort() (in-process: own pid only)"),
	/* time, identity, randomness */
	ALLOW("clock_gettime", "timestamps and timeouts where the vDSO falls back to the syscall"),
	ALLOW("gettimeofday", "OpenSSL's clock where the vDSO falls back to the syscall"),
	ALLOW("clock_nanosleep", "retry back-off and polling interval (glibc's nanosleep)"),
	ALLOW("getpid", "raise() and pthread_kill()"),
	ALLOW("geteuid", "the default owner of rendered files"),
	ALLOW("getegid", "the default group of rendered files"),
	ALLOW("getrandom", "libsodium, OpenSSL, libcurl"),
	ALLOW("uname", "glibc's resolver reads the host name"),
	ALLOW("sysinfo", "glibc's qsort sizes its buffer from the physical memory"),
	/* start-up only: the runtime's profile covers the exec and sandbox_apply() itself */
	START("execve", "the container runtime starts coffer-agent"),
	START("arch_prctl", "the loader sets up thread-local storage"),
	START("set_tid_address", "the loader sets up the main thread"),
	START("access", "the loader looks for /etc/ld.so.preload"),
	START("mlockall", "keep secrets out of swap"),
	START("getcwd", "realpath() of a relative path in the config (Landlock rules)"),
	START("capget", "read the capabilities to drop"),
	START("capset", "drop every capability the agent does not need (never gains one)"),
	START_IF("prctl", EQ(0, PR_CAPBSET_READ), "drop the bounding set"),
	START_IF("prctl", EQ(0, PR_CAPBSET_DROP), "drop the bounding set"),
	START_IF("prctl", EQ(0, PR_CAP_AMBIENT), "clear the ambient set"),
	START_IF("prctl", EQ(0, PR_SET_DUMPABLE), "no core dumps, no ptrace by the same user"),
	START_IF("prctl", EQ(0, PR_SET_NO_NEW_PRIVS), "required for seccomp and Landlock"),
	START_IF("prlimit64", EQ(0, 0),
	         "own process: the loader reads RLIMIT_STACK; RLIMIT_CORE 0; RLIMIT_MEMLOCK raised"),
	START("unlink", "the secret_id file is removed before the sandbox (unlinkat on aarch64)"),
	START("seccomp", "load the in-process filter"),
	START("landlock_create_ruleset", "writes below the destination, reads of what the agent needs"),
	START("landlock_add_rule", "writes below the destination, reads of what the agent needs"),
	START("landlock_restrict_self", "writes below the destination, reads of what the agent needs"),
};
/* clang-format on */

static const struct seccomp_rows sandbox_table = SECCOMP_ROWS(sandbox_rules);

static void sandbox_set_err(char *err, size_t err_len, const char *what, int errnum)
{
	if (err == NULL || err_len == 0)
		return;
	if (errnum != 0)
		snprintf(err, err_len, "sandbox: %s: %s", what, strerror(errnum));
	else
		snprintf(err, err_len, "sandbox: %s", what);
}

/* The kernel side of mlockall() with MCL_FUTURE refuses mappings past RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK, so the limit is raised first where allowed (root: the capability is dropped
 * next, and the limit is what lets it go on locking), and a failure is logged and tolerated.
 * MCL_ONFAULT locks pages as they are touched instead of populating every mapping at once. True
 * when every future mapping is locked while RLIMIT_MEMLOCK is finite: then only CAP_IPC_LOCK, if
 * the process has it, lets those mappings (every malloc past the limit) succeed. */
static bool sandbox_lock_memory(void)
{
	struct rlimit lim = {RLIM_INFINITY, RLIM_INFINITY};

	(void)setrlimit(RLIMIT_MEMLOCK, &lim);
#ifdef SANDBOX_HAS_ASAN
	/* Locking would fault in terabytes of shadow memory. */
	log_info("sandbox: mlockall skipped under AddressSanitizer");
	return false;
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 &&
	    (errno != EINVAL || mlockall(MCL_CURRENT | MCL_FUTURE) != 0)) {
		/* Not fatal: the secrets themselves are in sodium_malloc buffers, each mlock()ed.
		 */
		log_info("sandbox: mlockall failed (%s); only the secret buffers are locked",
		         strerror(errno));
		return false;
	}
	return getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY;
#endif
}

/* The capabilities still needed once the destination is open: CAP_CHOWN to give the files an
 * owner or group other than the agent's own; with another owner, CAP_FOWNER too when the
 * destination is a sticky directory of another user (replacing or removing a file there needs
 * it). None when the files keep the agent's ids, but CAP_IPC_LOCK when is_locked (see
 * sandbox_lock_memory(): root without CAP_SYS_RESOURCE, as in some containers). */
static uint64_t sandbox_caps_needed(const struct sandbox_opts *o, bool is_locked)
{
	uint64_t keep = is_locked ? 1ULL << CAP_IPC_LOCK : 0;
	struct stat st;

	if (o->uid == geteuid() && o->gid == getegid())
		return keep;
	keep |= 1ULL << CAP_CHOWN;
	if (o->uid != geteuid() && o->dest_dir != NULL && stat(o->dest_dir, &st) == 0 &&
	    (st.st_mode & S_ISVTX) != 0 && st.st_uid != geteuid())
		keep |= 1ULL << CAP_FOWNER;
	return keep;
}

/* Drop every capability but sandbox_caps_needed(): permitted, effective and inheritable, the
 * ambient set, and the bounding set where CAP_SETPCAP allows it (it only bounds an exec, which
 * the filter forbids anyway). Nothing to do for an ordinary user. */
static int sandbox_drop_caps(const struct sandbox_opts *o, bool is_locked, char *err,
                             size_t err_len)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	uint64_t eff, perm, keep;
	int cap;

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d) != 0) {
		sandbox_set_err(err, err_len, "capget", errno);
		return -1;
	}
	eff = d[0].effective | (uint64_t)d[1].effective << 32;
	perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	keep = sandbox_caps_needed(o, is_locked) & perm;
	for (cap = 0; (eff & (1ULL << CAP_SETPCAP)) != 0 && cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if ((keep & (1ULL << cap)) == 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			sandbox_set_err(err, err_len, "prctl(PR_CAPBSET_DROP)", errno);
			return -1;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
		sandbox_set_err(err, err_len, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
		return -1;
	}
	if (perm == keep && eff == keep && (d[0].inheritable | d[1].inheritable) == 0)
		return 0;
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, d) != 0) {
		sandbox_set_err(err, err_len, "capset", errno);
		return -1;
	}
	if (keep != 0)
		log_info("sandbox: capabilities kept:%s%s%s (files owned by %u:%u)",
		         (keep & (1ULL << CAP_CHOWN)) != 0 ? " CAP_CHOWN" : "",
		         (keep & (1ULL << CAP_FOWNER)) != 0 ? " CAP_FOWNER" : "",
		         (keep & (1ULL << CAP_IPC_LOCK)) != 0 ? " CAP_IPC_LOCK" : "",
		         (unsigned)o->uid, (unsigned)o->gid);
	return 0;
}

/* Files glibc reads after start-up (name resolution, the loader's cache for an NSS module, the
 * time zone), and directories read below: shared libraries (NSS modules named in
 * nsswitch.conf, OpenSSL's providers, loaded on first use) and the system CA store (libcurl's
 * default CA file and path, whose links point into /usr/share/ca-certificates). */
static const char *const sandbox_sys_reads[] = {
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/urandom", /* OpenSSL's and jansson's fallback without getrandom() */
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/local/lib",
    "/etc/ssl/certs",
    "/usr/share/ca-certificates",
#ifdef SANDBOX_HAS_ASAN
    "/proc/self", /* AddressSanitizer's reports read /proc/self/maps */
#endif
    NULL,
};

/* Components of a resolved path: 0 for "/", 1 for "/etc", 2 for "/run/app". */
static int sandbox_depth(const char *real)
{
	int n = 0;

	for (; *real != '\0'; real++)
		if (*real == '/' && real[1] != '\0')
			n++;
	return n;
}

/* A Landlock rule: access below path (a directory) or to path (a file: file rights only). A
 * path that does not exist (or cannot be reached) grants nothing and is no error unless
 * is_required. */
static int sandbox_ll_add(int ruleset_fd, const char *path, uint64_t access, bool is_required)
{
	struct landlock_path_beneath_attr b = {.allowed_access = access};
	struct stat st;
	int rc;

	b.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (b.parent_fd < 0)
		return !is_required && (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
		           ? 0
		           : -1;
	rc = fstat(b.parent_fd, &st);
	if (rc == 0 && !S_ISDIR(st.st_mode))
		b.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		                    LANDLOCK_ACCESS_FS_TRUNCATE;
	if (rc == 0)
		rc = (int)syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &b,
		                  0);
	close(b.parent_fd);
	return rc;
}

/* path's directory, resolved, when it is deeper than top-level (not /, /etc, /run, /tmp). */
static bool sandbox_deep_dir(const char *path, char dir[PATH_MAX])
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, path, len + 1);
	return realpath(dirname(buf), dir) != NULL && sandbox_depth(dir) >= 2;
}

/* Reads of path: a directory below, a file itself; with is_replaced, also below the file's
 * directory and below the directory it resolves into, each unless top-level, so that a file
 * replaced by rename stays readable (a pid file, a token file, Kubernetes' ..data link swap,
 * systemd-resolved's stub-resolv.conf behind /etc/resolv.conf). */
static int sandbox_ll_read(int ruleset_fd, const char *path, bool is_replaced)
{
	const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE;
	char dir[PATH_MAX], real[PATH_MAX];
	bool is_real = realpath(path, real) != NULL;
	struct stat st;

	if (is_real && stat(real, &st) == 0 && S_ISDIR(st.st_mode))
		return sandbox_ll_add(ruleset_fd, real, rd, false);
	if (is_replaced && sandbox_deep_dir(path, dir) &&
	    sandbox_ll_add(ruleset_fd, dir, rd, false) != 0)
		return -1;
	if (!is_real)
		return 0;
	if (is_replaced && sandbox_deep_dir(real, dir) &&
	    sandbox_ll_add(ruleset_fd, dir, rd, false) != 0)
		return -1;
	return sandbox_ll_add(ruleset_fd, real, rd, false);
}

/* No Landlock in this kernel: a warning, or the end when the config requires it. */
static int sandbox_no_landlock(const struct sandbox_opts *o, int errnum, char *err, size_t err_len)
{
	if (o->require_landlock) {
		snprintf(err, err_len,
		         "sandbox: require_landlock is true but the kernel has no Landlock (%s)",
		         strerror(errnum));
		return -1;
	}
	log_warn("sandbox: the kernel has no Landlock (%s): reads and writes are not confined to "
	         "the destination and the files the agent needs (\"require_landlock\": true "
	         "refuses to run without it)",
	         strerror(errnum));
	return 0;
}

/* The Landlock rules: the rights Coffer handles at the kernel's ABI version, of which only
 * reading, listing, creating, writing, truncating and removing regular files are granted below
 * dest_dir, and reading the files of read_files, reread_files and sandbox_sys_reads. */
static int sandbox_ll_rules(int ruleset_fd, int abi, const struct sandbox_opts *o, char *err,
                            size_t err_len)
{
	uint64_t write = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	                 LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	                 LANDLOCK_ACCESS_FS_MAKE_REG;
	size_t i;

	if (abi >= 3)
		write |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (o->dest_dir != NULL && sandbox_ll_add(ruleset_fd, o->dest_dir, write, true) != 0) {
		sandbox_set_err(err, err_len, "landlock rule for the destination", errno);
		return -1;
	}
	for (i = 0; o->read_files != NULL && o->read_files[i] != NULL; i++) {
		if (sandbox_ll_read(ruleset_fd, o->read_files[i], false) != 0) {
			snprintf(err, err_len, "sandbox: landlock rule for %s: %s",
			         o->read_files[i], strerror(errno));
			return -1;
		}
	}
	for (i = 0; o->reread_files != NULL && o->reread_files[i] != NULL; i++) {
		if (sandbox_ll_read(ruleset_fd, o->reread_files[i], true) != 0) {
			snprintf(err, err_len, "sandbox: landlock rule for %s: %s",
			         o->reread_files[i], strerror(errno));
			return -1;
		}
	}
	for (i = 0; sandbox_sys_reads[i] != NULL; i++) {
		if (sandbox_ll_read(ruleset_fd, sandbox_sys_reads[i], true) != 0) {
			snprintf(err, err_len, "sandbox: landlock rule for %s: %s",
			         sandbox_sys_reads[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int sandbox_landlock(const struct sandbox_opts *o, char *err, size_t err_len)
{
	struct landlock_ruleset_attr attr = {0};
	int abi, ruleset_fd, ret = -1;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
		return sandbox_no_landlock(o, errno, err, err_len);
	if (abi < 0) {
		sandbox_set_err(err, err_len, "landlock ABI version", errno);
		return -1;
	}
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	                         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	                         LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	                         LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	                         LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	                         LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	                         LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	ruleset_fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset_fd < 0) {
		sandbox_set_err(err, err_len, "landlock_create_ruleset", errno);
		return -1;
	}
	if (sandbox_ll_rules(ruleset_fd, abi, o, err, err_len) != 0)
		goto out;
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) {
		sandbox_set_err(err, err_len, "landlock_restrict_self", errno);
		goto out;
	}
	ret = 0;
out:
	close(ruleset_fd);
	return ret;
}

/* A run-time condition's value, from the sandbox_opts at arg: no kill() row without a notify
 * signal. */
static bool sandbox_cond_value(unsigned int src, const void *arg, uint64_t *value)
{
	const struct sandbox_opts *o = arg;

	switch ((enum sandbox_src)src) {
	case SANDBOX_SIGNAL:
		*value = (uint32_t)o->notify_signal;
		return o->notify_signal != 0;
	case SANDBOX_PID:
		*value = (uint32_t)getpid();
		return true;
	case SANDBOX_UID:
		*value = (uint32_t)o->uid;
		return true;
	case SANDBOX_GID:
		*value = (uint32_t)o->gid;
		return true;
	}
	return false;
}

int sandbox_apply(const struct sandbox_opts *o, char *err, size_t err_len)
{
	struct rlimit no_core = {0, 0};
	bool is_locked;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
#ifdef SANDBOX_HAS_ASAN
	/* First: its helper thread ptraces this process (PR_SET_DUMPABLE 0 and no capabilities
	 * would refuse it) and reads /proc/self/maps (Landlock would refuse it). */
	__lsan_do_leak_check();
#endif
	if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
		sandbox_set_err(err, err_len, "setrlimit(RLIMIT_CORE)", errno);
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		sandbox_set_err(err, err_len, "prctl(PR_SET_DUMPABLE)", errno);
		return -1;
	}
	is_locked = sandbox_lock_memory();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		sandbox_set_err(err, err_len, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
		return -1;
	}
	if (sandbox_drop_caps(o, is_locked, err, err_len) != 0 ||
	    sandbox_landlock(o, err, err_len) != 0)
		return -1;
	/* The SECCOMP_ROW_RUN rows; anything else kills the whole process. */
	return seccomp_rows_load(&sandbox_table, 1, sandbox_cond_value, o, "sandbox", err, err_len);
}

int sandbox_print_profile(FILE *f)
{
	return seccomp_rows_print(f, &sandbox_table);
}

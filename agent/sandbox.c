/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c: coffer-agent's confinement (DESIGN.md §7, §10.8): no core dumps, locked memory,
 * no_new_privs, Landlock (writes only below the destination) and a seccomp allow-list. The list is
 * sandbox_rules[] below; sandbox_apply() loads its run-time rows as the in-process filter and
 * sandbox_print_profile() prints every row as the OCI profile (deploy/seccomp/coffer-agent.json),
 * so the two are generated from one table. Called by agent/main.c.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "log.h"

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

/*
 * When a row applies. SANDBOX_RUN rows are the in-process filter and are in the profile;
 * SANDBOX_START rows are in the profile only: the container runtime applies the profile before it
 * execs the agent, so the profile must also let the dynamic loader run and let sandbox_apply()
 * harden the process, after which the in-process filter forbids them.
 */
enum sandbox_phase { SANDBOX_RUN, SANDBOX_START };

/* One argument condition: EQ (arg == value) or MASKED_EQ ((arg & mask) == value). */
struct sandbox_cond {
	unsigned int arg;
	enum scmp_compare op;
	uint64_t mask;
	uint64_t value;
};

/* One row: allow name (when every condition holds), or fail it with errno_ret when nonzero.
 * Rows with the same name are alternatives (OR); the conditions of one row all hold (AND). */
struct sandbox_rule {
	const char *name;
	enum sandbox_phase phase;
	int errno_ret;
	unsigned int n_conds;
	struct sandbox_cond conds[2];
	const char *why;
};

/* Every CLONE_NEW* flag: a thread never gets a new namespace. */
#define SANDBOX_CLONE_NEW                                                                          \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

/* clang-format off */
#define EQ(a, v) {(a), SCMP_CMP_EQ, 0, (uint64_t)(v)}
#define MASKED_EQ(a, m, v) {(a), SCMP_CMP_MASKED_EQ, (uint64_t)(m), (uint64_t)(v)}
#define ALLOW(n, why) {n, SANDBOX_RUN, 0, 0, {{0}}, why}
#define ALLOW_IF(n, c, why) {n, SANDBOX_RUN, 0, 1, {c}, why}
#define ALLOW_IF2(n, c1, c2, why) {n, SANDBOX_RUN, 0, 2, {c1, c2}, why}
#define START(n, why) {n, SANDBOX_START, 0, 0, {{0}}, why}
#define START_IF(n, c, why) {n, SANDBOX_START, 0, 1, {c}, why}
#define FAIL(n, e, why) {n, SANDBOX_RUN, e, 0, {{0}}, why}

/*
 * The allow-list. Everything else kills the process in the in-process filter. Found by running
 * tests/integration/sandbox_probe.c (the agent's work: HTTP and HTTPS through libcurl, DNS and
 * /etc/hosts resolution, the atomic file write, signals, sleeps, a thread) and coffer-agent's own
 * integration tests under strace -f, in the plain and the ASan+UBSan builds (including an ASan
 * report). Names a given architecture lacks (open, poll, renameat on aarch64) are skipped there.
 * Reasons must not hold '"' or '\' (they are printed into the JSON as is). After a change,
 * regenerate deploy/seccomp/coffer-agent.json (test_sandbox.py compares it byte for byte).
 */
static const struct sandbox_rule sandbox_rules[] = {
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
	ALLOW("fchown", "owner of the temp file set before content"),
	ALLOW("fchownat", "owner of the temp file set before content"),
	ALLOW("fchmod", "mode of the temp file set before content"),
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
	ALLOW_IF("clone", MASKED_EQ(0, CLONE_THREAD | SANDBOX_CLONE_NEW, CLONE_THREAD),
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
	ALLOW("kill", "notify the app (the pid file's process) after a change; raise()"),
	ALLOW("tgkill", "raise() and abort()"),
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
	START_IF("prctl", EQ(0, PR_SET_DUMPABLE), "no core dumps, no ptrace by the same user"),
	START_IF("prctl", EQ(0, PR_SET_NO_NEW_PRIVS), "required for seccomp and Landlock"),
	START_IF("prlimit64", EQ(0, 0), "own process: the loader reads RLIMIT_STACK; RLIMIT_CORE 0"),
	START("unlink", "the secret_id file is removed before the sandbox (unlinkat on aarch64)"),
	START("seccomp", "load the in-process filter"),
	START("landlock_create_ruleset", "writes only below the destination"),
	START("landlock_add_rule", "writes only below the destination"),
	START("landlock_restrict_self", "writes only below the destination"),
};
/* clang-format on */

#define SANDBOX_N_RULES (sizeof(sandbox_rules) / sizeof(sandbox_rules[0]))

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
 * CAP_IPC_LOCK, so a failure here is logged and tolerated. MCL_ONFAULT locks pages as they are
 * touched instead of populating every mapping at once. */
static void sandbox_lock_memory(void)
{
#ifdef SANDBOX_HAS_ASAN
	/* Locking would fault in terabytes of shadow memory. */
	log_info("sandbox: mlockall skipped under AddressSanitizer");
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0)
		return;
	if (errno == EINVAL && mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
		return;
	/* Not fatal: the secrets themselves are in sodium_malloc buffers, each mlock()ed. */
	log_info("sandbox: mlockall failed (%s); only the secret buffers are locked",
	         strerror(errno));
#endif
}

/* Landlock: the rights Coffer handles at the kernel's ABI version, of which only creating,
 * writing, truncating and removing regular files are granted, and only below dest_dir (none when
 * dest_dir is NULL). Reads are not restricted. 0 also when the kernel has no Landlock. */
static int sandbox_landlock(const char *dest_dir, char *err, size_t err_len)
{
	struct landlock_ruleset_attr attr = {0};
	struct landlock_path_beneath_attr beneath = {0};
	int abi, ruleset_fd = -1, ret = -1;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		if (errno == ENOSYS || errno == EOPNOTSUPP) {
			log_info(
			    "sandbox: the kernel has no Landlock (%s); writes are not confined "
			    "to the destination",
			    strerror(errno));
			return 0;
		}
		sandbox_set_err(err, err_len, "landlock ABI version", errno);
		return -1;
	}
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	                         LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	                         LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	                         LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	                         LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	                         LANDLOCK_ACCESS_FS_MAKE_SYM;
	beneath.allowed_access = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	                         LANDLOCK_ACCESS_FS_MAKE_REG;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3) {
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
		beneath.allowed_access |= LANDLOCK_ACCESS_FS_TRUNCATE;
	}
	ruleset_fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset_fd < 0) {
		sandbox_set_err(err, err_len, "landlock_create_ruleset", errno);
		goto out;
	}
	if (dest_dir != NULL) {
		beneath.parent_fd = open(dest_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (beneath.parent_fd < 0) {
			sandbox_set_err(err, err_len, "open the destination directory", errno);
			goto out;
		}
		if (syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &beneath,
		            0) != 0) {
			sandbox_set_err(err, err_len, "landlock_add_rule", errno);
			close(beneath.parent_fd);
			goto out;
		}
		close(beneath.parent_fd);
	}
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) {
		sandbox_set_err(err, err_len, "landlock_restrict_self", errno);
		goto out;
	}
	ret = 0;
out:
	if (ruleset_fd >= 0)
		close(ruleset_fd);
	return ret;
}

/* The SANDBOX_RUN rows as a seccomp filter; anything else kills the whole process. */
static int sandbox_seccomp(char *err, size_t err_len)
{
	struct scmp_arg_cmp cmp[2];
	scmp_filter_ctx ctx;
	uint32_t action;
	size_t i;
	unsigned int j;
	int nr, rc, ret = -1;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		sandbox_set_err(err, err_len, "seccomp_init failed", 0);
		return -1;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc != 0) {
		sandbox_set_err(err, err_len, "seccomp_attr_set", -rc);
		goto out;
	}
	for (i = 0; i < SANDBOX_N_RULES; i++) {
		const struct sandbox_rule *r = &sandbox_rules[i];

		if (r->phase != SANDBOX_RUN)
			continue;
		nr = seccomp_syscall_resolve_name(r->name);
		if (nr < 0) /* not a syscall of this architecture */
			continue;
		for (j = 0; j < r->n_conds; j++) {
			cmp[j].arg = r->conds[j].arg;
			cmp[j].op = r->conds[j].op;
			cmp[j].datum_a = r->conds[j].op == SCMP_CMP_MASKED_EQ ? r->conds[j].mask
			                                                      : r->conds[j].value;
			cmp[j].datum_b =
			    r->conds[j].op == SCMP_CMP_MASKED_EQ ? r->conds[j].value : 0;
		}
		action =
		    r->errno_ret != 0 ? SCMP_ACT_ERRNO((uint32_t)r->errno_ret) : SCMP_ACT_ALLOW;
		rc = seccomp_rule_add_array(ctx, action, nr, r->n_conds, cmp);
		if (rc != 0) {
			sandbox_set_err(err, err_len, r->name, -rc);
			goto out;
		}
	}
	rc = seccomp_load(ctx);
	if (rc != 0) {
		sandbox_set_err(err, err_len, "seccomp_load", -rc);
		goto out;
	}
	ret = 0;
out:
	seccomp_release(ctx);
	return ret;
}

int sandbox_apply(const char *dest_dir, char *err, size_t err_len)
{
	struct rlimit no_core = {0, 0};

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
		sandbox_set_err(err, err_len, "setrlimit(RLIMIT_CORE)", errno);
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		sandbox_set_err(err, err_len, "prctl(PR_SET_DUMPABLE)", errno);
		return -1;
	}
	sandbox_lock_memory();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		sandbox_set_err(err, err_len, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
		return -1;
	}
	if (sandbox_landlock(dest_dir, err, err_len) != 0)
		return -1;
#ifdef SANDBOX_HAS_ASAN
	__lsan_do_leak_check();
#endif
	return sandbox_seccomp(err, err_len);
}

/* One row as one entry of the profile's syscalls array, on one line. */
static void sandbox_print_rule(FILE *f, const struct sandbox_rule *r, bool is_last)
{
	unsigned int j;

	fprintf(f, "    {\"names\": [\"%s\"], \"action\": \"%s\"", r->name,
	        r->errno_ret != 0 ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW");
	if (r->errno_ret != 0)
		fprintf(f, ", \"errnoRet\": %d", r->errno_ret);
	if (r->n_conds > 0) {
		fputs(", \"args\": [", f);
		for (j = 0; j < r->n_conds; j++) {
			const struct sandbox_cond *c = &r->conds[j];
			bool is_masked = c->op == SCMP_CMP_MASKED_EQ;

			/* As runc and crun read it: MASKED_EQ's value is the mask. */
			fprintf(f,
			        "%s{\"index\": %u, \"value\": %llu, \"valueTwo\": %llu, \"op\": "
			        "\"%s\"}",
			        j > 0 ? ", " : "", c->arg,
			        (unsigned long long)(is_masked ? c->mask : c->value),
			        (unsigned long long)(is_masked ? c->value : 0),
			        is_masked ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ");
		}
		fputs("]", f);
	}
	fprintf(f, ", \"comment\": \"%s%s\"}%s\n",
	        r->phase == SANDBOX_START ? "start-up only: " : "", r->why, is_last ? "" : ",");
}

/*
 * defaultAction is SCMP_ACT_ERRNO (EPERM), not KILL_PROCESS: the runtime loads this profile
 * before its own last steps (runc's Go code between loading the filter and execve) and before
 * the loader runs, where a killed process looks like a broken runtime; after sandbox_apply() the
 * in-process filter kills anything outside the table.
 */
int sandbox_print_profile(FILE *f)
{
	size_t i;

	fputs("{\n"
	      "  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
	      "  \"defaultErrnoRet\": 1,\n"
	      "  \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\"],\n"
	      "  \"syscalls\": [\n",
	      f);
	for (i = 0; i < SANDBOX_N_RULES; i++)
		sandbox_print_rule(f, &sandbox_rules[i], i + 1 == SANDBOX_N_RULES);
	fputs("  ]\n}\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

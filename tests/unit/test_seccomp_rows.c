/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_seccomp_rows.c: the allow-list machinery both programs share (common/seccomp_rows.c). A
 * small table is loaded into a forked child, which then makes calls the table allows, fails or
 * leaves out; the parent reads the outcome from the child's exit status (a kill is SIGSYS). The
 * printed profile is parsed as JSON and checked row by row.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_rows.h"
#include "test.h"

#define SRC_FD 1U /* a run-time value: the one fd "dup" may take */

/* What the child needs besides the calls under test: exiting, and the memory calls that
 * libseccomp's clean-up and a sanitizer's allocator may make after the filter is loaded. */
static const struct seccomp_row base_rows[] = {
    ALLOW("exit_group", "_exit"),
    ALLOW("exit", "a thread's exit"),
    ALLOW("munmap", "free"),
    ALLOW("mmap", "malloc"),
    ALLOW("madvise", "free"),
    ALLOW("brk", "malloc"),
    ALLOW("futex", "the allocator's locks"),
    ALLOW("sigaltstack", "AddressSanitizer's _exit takes down its signal stack"),
    ALLOW("getppid", "the allowed call under test"),
    FAIL("getuid", EACCES, "the failed call under test"),
    ALLOW_IF("dup", RUN_EQ(0, SRC_FD), "only the fd known at run time"),
    ALLOW_IF("close", EQ(0, 1000), "only fd 1000"),
    START("getgid", "in the profile, not in the filter"),
    TOOL("getegid", "in the profile, not in the filter"),
};

struct value_arg {
	bool is_known;
	uint64_t fd;
};

static bool value_of(unsigned int src, const void *arg, uint64_t *value)
{
	const struct value_arg *va = arg;

	if (src != SRC_FD || !va->is_known)
		return false;
	*value = va->fd;
	return true;
}

enum probe {
	PROBE_ALLOWED,
	PROBE_FAILED,
	PROBE_UNLISTED,
	PROBE_DUP_KNOWN,
	PROBE_DUP_OTHER,
	PROBE_CLOSE_LISTED,
	PROBE_CLOSE_OTHER,
	PROBE_START_ROW
};

/* In the child: load the table, make the call, exit 0 when it did what the probe expects to see
 * when it returns (a kill never gets here). 10+ is a set-up failure. */
static void child_run(enum probe p, const struct value_arg *va, int fd)
{
	const struct seccomp_rows t = SECCOMP_ROWS(base_rows);
	long rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		_exit(10);
	if (seccomp_rows_load(&t, 1, value_of, va, "test", NULL, 0) != 0)
		_exit(11);
	switch (p) {
	case PROBE_ALLOWED:
		_exit(syscall(SYS_getppid) > 0 ? 0 : 1);
	case PROBE_FAILED:
		rc = syscall(SYS_getuid);
		_exit(rc == -1 && errno == EACCES ? 0 : 1);
	case PROBE_UNLISTED:
		(void)syscall(SYS_getpid);
		_exit(0);
	case PROBE_DUP_KNOWN:
		_exit(syscall(SYS_dup, fd) >= 0 ? 0 : 1);
	case PROBE_DUP_OTHER:
		(void)syscall(SYS_dup, fd + 1);
		_exit(0);
	case PROBE_CLOSE_LISTED: /* no such fd: the call is made and answers EBADF */
		rc = syscall(SYS_close, 1000);
		_exit(rc == -1 && errno == EBADF ? 0 : 1);
	case PROBE_CLOSE_OTHER:
		(void)syscall(SYS_close, 999);
		_exit(0);
	case PROBE_START_ROW:
		(void)syscall(SYS_getgid);
		_exit(0);
	}
	_exit(12);
}

/* The child's status: its exit code (0..255), or 1000 + the signal that killed it. */
static int probe(enum probe p, bool is_known)
{
	int fd = dup(2), status = 0;
	struct value_arg va = {is_known, (uint64_t)fd};
	pid_t pid;

	if (fd < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_run(p, &va, fd);
	close(fd);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void allowed_call_returns(void)
{
	CHECK_EQ(probe(PROBE_ALLOWED, true), 0);
}

static void fail_row_returns_its_errno(void)
{
	CHECK_EQ(probe(PROBE_FAILED, true), 0);
}

static void unlisted_call_kills_the_process(void)
{
	CHECK_EQ(probe(PROBE_UNLISTED, true), 1000 + SIGSYS);
}

static void run_time_value_allows_only_that_value(void)
{
	CHECK_EQ(probe(PROBE_DUP_KNOWN, true), 0);
	CHECK_EQ(probe(PROBE_DUP_OTHER, true), 1000 + SIGSYS);
}

static void unknown_run_time_value_leaves_the_row_out(void)
{
	CHECK_EQ(probe(PROBE_DUP_KNOWN, false), 1000 + SIGSYS);
}

static void constant_condition_is_enforced(void)
{
	CHECK_EQ(probe(PROBE_CLOSE_LISTED, true), 0);
	CHECK_EQ(probe(PROBE_CLOSE_OTHER, true), 1000 + SIGSYS);
}

static void start_row_is_not_in_the_filter(void)
{
	CHECK_EQ(probe(PROBE_START_ROW, true), 1000 + SIGSYS);
}

/* The profile's entry for name, or NULL. */
static json_t *profile_entry(json_t *profile, const char *name)
{
	json_t *calls = json_object_get(profile, "syscalls"), *e;
	size_t i;

	json_array_foreach(calls, i, e)
	{
		const char *n = json_string_value(json_array_get(json_object_get(e, "names"), 0));

		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

/* The profile seccomp_rows_print() makes of t, parsed; NULL when it cannot be made or read. */
static json_t *profile_of(const struct seccomp_rows *t)
{
	char *text = NULL;
	size_t len = 0;
	json_t *p = NULL;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (f == NULL)
		return NULL;
	rc = seccomp_rows_print(f, t);
	if (fclose(f) == 0 && rc == 0)
		p = json_loads(text, 0, NULL);
	free(text);
	return p;
}

static void profile_holds_every_row_as_the_runtime_reads_it(void)
{
	const struct seccomp_rows t = SECCOMP_ROWS(base_rows);
	static const struct seccomp_row masked[] = {
	    ALLOW_IF("clone", MASKED_EQ(0, 0x10100, 0x10000), "a thread"),
	};
	const struct seccomp_rows tm = SECCOMP_ROWS(masked);
	json_t *p = NULL, *e, *arg;

	p = profile_of(&t);
	CHECK_OUT(p != NULL);
	CHECK_OUT(
	    strcmp(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_ERRNO") == 0);
	CHECK_EQ_OUT(json_array_size(json_object_get(p, "syscalls")), t.n_rows);

	e = profile_entry(p, "getuid");
	CHECK_OUT(e != NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(e, "action")), "SCMP_ACT_ERRNO") == 0);
	CHECK_EQ_OUT(json_integer_value(json_object_get(e, "errnoRet")), EACCES);

	/* A run-time value cannot be in the profile: the row allows the call unconditionally. */
	e = profile_entry(p, "dup");
	CHECK_OUT(e != NULL && json_object_get(e, "args") == NULL);

	e = profile_entry(p, "close");
	arg = json_array_get(json_object_get(e, "args"), 0);
	CHECK_OUT(arg != NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_EQ") == 0);
	CHECK_EQ_OUT(json_integer_value(json_object_get(arg, "value")), 1000);

	e = profile_entry(p, "getgid");
	CHECK_OUT(e != NULL);
	CHECK_OUT(
	    strncmp(json_string_value(json_object_get(e, "comment")), "start-up only: ", 15) == 0);
	e = profile_entry(p, "getegid");
	CHECK_OUT(strncmp(json_string_value(json_object_get(e, "comment")),
	                  "the coffer CLI only: ", 21) == 0);
	json_decref(p);
	p = NULL;

	/* MASKED_EQ: runc and crun read "value" as the mask and "valueTwo" as the value. */
	p = profile_of(&tm);
	CHECK_OUT(p != NULL);
	arg = json_array_get(json_object_get(profile_entry(p, "clone"), "args"), 0);
	CHECK_OUT(arg != NULL);
	CHECK_OUT(strcmp(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ") == 0);
	CHECK_EQ_OUT(json_integer_value(json_object_get(arg, "value")), 0x10100);
	CHECK_EQ_OUT(json_integer_value(json_object_get(arg, "valueTwo")), 0x10000);
out:
	json_decref(p);
}

int main(void)
{
	RUN(allowed_call_returns);
	RUN(fail_row_returns_its_errno);
	RUN(unlisted_call_kills_the_process);
	RUN(run_time_value_allows_only_that_value);
	RUN(unknown_run_time_value_leaves_the_row_out);
	RUN(constant_condition_is_enforced);
	RUN(start_row_is_not_in_the_filter);
	RUN(profile_holds_every_row_as_the_runtime_reads_it);
	return test_summary();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h: the unit-test harness. A test is a void function named after the behaviour it checks;
 * the CHECK family records a failure and leaves the test; main() runs tests with RUN() and ends
 * with return test_summary(), which prints "N passed, N failed" and gives the exit status.
 *
 * Two forms, chosen by what the test holds:
 * - CHECK(cond), CHECK_EQ(a, b): on failure, record it and return. For tests that hold nothing
 *   to release.
 * - CHECK_OUT(cond), CHECK_EQ_OUT(a, b): on failure, record it and goto out. For tests that hold
 *   anything (a fixture, a temporary directory, a store, a thread, json_t, malloc'd or secmem
 *   buffers), so that a failing test releases what it holds and the next test, and
 *   LeakSanitizer, see only that one failure. The contract:
 *   - every resource the test holds is declared and given its initial value (NULL, -1, a zeroed
 *     fixture) before the first _OUT check, so that out: finds each one either initial or live;
 *   - a resource released early is set back to its initial value at once, so out: does not
 *     release it twice (where a later check pins that a call clears that very pointer, the
 *     test keeps the stale value for the call and out: skips it: test_mount.c, test_fileio.c);
 *   - the test ends with out: releasing everything in reverse order of acquisition, with release
 *     functions that accept the initial value (free(NULL), json_decref(NULL), a fixture_destroy()
 *     safe on a zeroed or partly built fixture).
 */
#ifndef COFFER_TEST_H
#define COFFER_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int test_n_passed, test_n_failed, test_cur_failed;

/* Record a failed check at file:line, text being the condition as written. Returns 1. */
static inline int test_fail_(const char *file, int line, const char *text)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, text);
	test_cur_failed = 1;
	return 1;
}

/* 0 when a == b; otherwise record the failed comparison with both values and return 1. */
static inline int test_fail_ne_(long long a, long long b, const char *file, int line,
                                const char *text_a, const char *text_b)
{
	if (a == b)
		return 0;
	fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", file, line, text_a, text_b, a, b);
	test_cur_failed = 1;
	return 1;
}

/* On failure: record it and return from the test. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond) && test_fail_(__FILE__, __LINE__, #cond))                              \
			return;                                                                    \
	} while (0)

/* CHECK for an int-returning call; prints the value on failure. a is evaluated before b. */
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long test_a_ = (long long)(a), test_b_ = (long long)(b);                      \
		if (test_fail_ne_(test_a_, test_b_, __FILE__, __LINE__, #a, #b))                   \
			return;                                                                    \
	} while (0)

/* CHECK that goes to out on failure (see the contract above). */
#define CHECK_OUT(cond)                                                                            \
	do {                                                                                       \
		if (!(cond) && test_fail_(__FILE__, __LINE__, #cond))                              \
			goto out;                                                                  \
	} while (0)

/* CHECK_EQ that goes to out on failure (see the contract above). */
#define CHECK_EQ_OUT(a, b)                                                                         \
	do {                                                                                       \
		long long test_a_ = (long long)(a), test_b_ = (long long)(b);                      \
		if (test_fail_ne_(test_a_, test_b_, __FILE__, __LINE__, #a, #b))                   \
			goto out;                                                                  \
	} while (0)

#define RUN(fn)                                                                            \
	do {                                                                               \
		test_cur_failed = 0;                                                       \
		fn();                                                                      \
		if (test_cur_failed) {                                                     \
			test_n_failed++;                                                   \
			fprintf(stderr, "FAIL %s\n", #fn);                                 \
		} else {                                                                   \
			test_n_passed++;                                                   \
			fprintf(stderr, "ok   %s\n", #fn);                                 \
		}                                                                          \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_n_passed, test_n_failed);
	return test_n_failed == 0 ? 0 : 1;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test.h: the unit-test harness. A test is a void function named after the behaviour it checks;
 * CHECK records a failure and returns from the test; main() runs tests with RUN() and ends with
 * return test_summary(), which prints "N passed, N failed" and gives the exit status.
 */
#ifndef COFFER_TEST_H
#define COFFER_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int test_n_passed, test_n_failed, test_cur_failed;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			test_cur_failed = 1;                                               \
			return;                                                            \
		}                                                                          \
	} while (0)

/* CHECK for an int-returning call; prints the value on failure. */
#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long test_a_ = (long long)(a), test_b_ = (long long)(b);              \
		if (test_a_ != test_b_) {                                                  \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, test_a_, test_b_);                       \
			test_cur_failed = 1;                                               \
			return;                                                            \
		}                                                                          \
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

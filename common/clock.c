/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c: wall and monotonic time (clock.h), with the wall clock replaceable by unit tests.
 */
#include <time.h>

#include "clock.h"

static int64_t clock_ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t clock_real_ns(void)
{
	return clock_ns_of(CLOCK_REALTIME);
}

static coffer_clock_fn clock_wall = clock_real_ns;

void coffer_clock_set(coffer_clock_fn now_ns)
{
	clock_wall = now_ns != NULL ? now_ns : clock_real_ns;
}

int64_t coffer_clock_now_ns(void)
{
	return clock_wall();
}

int64_t coffer_clock_now_ms(void)
{
	return clock_wall() / 1000000;
}

int64_t coffer_clock_now_s(void)
{
	return clock_wall() / 1000000000;
}

int64_t coffer_clock_mono_ns(void)
{
	return clock_ns_of(CLOCK_MONOTONIC);
}

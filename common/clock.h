/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.h: the one clock of the tree. Wall time (token and lease expiry, KV version times, audit
 * timestamps, watch indexes) and monotonic time (waits, deadlines, intervals) are read here and
 * nowhere else, so that a unit test can move the wall clock instead of sleeping.
 */
#ifndef COFFER_CLOCK_H
#define COFFER_CLOCK_H

#include <stdint.h>

/* Wall time: Unix seconds, milliseconds, nanoseconds. */
int64_t coffer_clock_now_s(void);
int64_t coffer_clock_now_ms(void);
int64_t coffer_clock_now_ns(void);
/* Monotonic nanoseconds (CLOCK_MONOTONIC): never set by tests, never goes back. */
int64_t coffer_clock_mono_ns(void);

/* Tests only: the wall clock reads now_ns() from here on (NULL: the real clock again). Set it
 * before the threads that read it start. */
typedef int64_t (*coffer_clock_fn)(void);
void coffer_clock_set(coffer_clock_fn now_ns);

#endif

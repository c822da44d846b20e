/* SPDX-License-Identifier: Apache-2.0 */
/*
 * duration.h: Vault-style durations. A bare non-negative integer is seconds ("45"); otherwise a
 * sequence of number+unit pairs with units h, m, s, d and ms ("768h", "1h30m", "45s", "1.5h",
 * "500ms"; fractions allowed, the total rounded down to whole seconds). No sign, no spaces, no
 * empty string; overflow past INT64_MAX seconds is an error. Also the one formatter of points in
 * time (RFC 3339 UTC, as Vault prints them).
 */
#ifndef COFFER_DURATION_H
#define COFFER_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* 0 and *out_s set, or COFFER_ERR_INVALID with *out_s untouched. */
int duration_parse(const char *s, int64_t *out_s) COFFER_WUR;
/* Format seconds Vault-style ("768h0m0s", "30m0s", "45s", "0s") into out. */
int duration_format(int64_t s, char *out, size_t out_cap);

/* Length of the longest text coffer_time_format() writes, with its NUL. */
#define COFFER_TIME_LEN sizeof("-292277026596-12-04T15:30:07.999999999Z")

/*
 * Unix time sec + nsec (0..999999999) as RFC 3339 UTC into out (COFFER_TIME_LEN bytes), with
 * digits (0..9) fraction digits: "2026-11-29T01:45:25.123456789Z" (9), "...:25.123Z" (3),
 * "...:25Z" (0). Pure arithmetic: no time zone lookup and no lock, so hot paths may call it.
 */
void coffer_time_format(int64_t sec, long nsec, int digits, char out[COFFER_TIME_LEN]);

#endif

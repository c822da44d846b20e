/* SPDX-License-Identifier: Apache-2.0 */
/*
 * duration.h: Vault-style durations. A bare non-negative integer is seconds ("45"); otherwise a
 * sequence of number+unit pairs with units h, m, s, d and ms ("768h", "1h30m", "45s", "1.5h",
 * "500ms"; fractions allowed, the total rounded down to whole seconds). No sign, no spaces, no
 * empty string; overflow past INT64_MAX seconds is an error.
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

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_util.h: what every storage backend checks and computes the same way: a batch's
 * well-formedness, and the key range of a prefix scan.
 */
#ifndef COFFER_STORAGE_UTIL_H
#define COFFER_STORAGE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "store/storage.h"

/* 0 when every op has a known type and key/value pointers and lengths that fit a 32-bit signed
 * length (what SQLite and libpq take), else COFFER_ERR_INVALID. */
int storage_ops_check(const struct storage_op *ops, size_t n_ops);

/* The least key above every key starting with prefix: prefix cut after its last non-0xff byte,
 * which is incremented, into upper (prefix_len bytes of room). *upper_len = 0 when there is no
 * such bound (prefix empty or all 0xff). */
void storage_prefix_upper_bound(const uint8_t *prefix, size_t prefix_len, uint8_t *upper,
                                size_t *upper_len);

#endif

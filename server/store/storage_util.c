/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_util.c: the checks and key ranges storage_sqlite.c and storage_pg*.c share.
 */
#include <limits.h>
#include <string.h>

#include "store/storage_util.h"

int storage_ops_check(const struct storage_op *ops, size_t n_ops)
{
	size_t i;

	if (n_ops > 0 && ops == NULL)
		return COFFER_ERR_INVALID;
	for (i = 0; i < n_ops; i++) {
		if (ops[i].type != STORAGE_PUT && ops[i].type != STORAGE_DELETE &&
		    ops[i].type != STORAGE_PUT_IF_ABSENT)
			return COFFER_ERR_INVALID;
		if (ops[i].key_len > INT_MAX || (ops[i].key == NULL && ops[i].key_len > 0))
			return COFFER_ERR_INVALID;
		if (ops[i].type != STORAGE_DELETE &&
		    (ops[i].value_len > INT_MAX || (ops[i].value == NULL && ops[i].value_len > 0)))
			return COFFER_ERR_INVALID;
	}
	return 0;
}

void storage_prefix_upper_bound(const uint8_t *prefix, size_t prefix_len, uint8_t *upper,
                                size_t *upper_len)
{
	size_t n = prefix_len;

	while (n > 0 && prefix[n - 1] == 0xff)
		n--;
	if (n > 0) {
		memcpy(upper, prefix, n);
		upper[n - 1]++;
	}
	*upper_len = n;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_migrate.h: copy every record of one store into an empty other one (cofferd migrate).
 */
#ifndef COFFER_STORAGE_MIGRATE_H
#define COFFER_STORAGE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct storage;

struct storage_migrate_result {
	size_t records;
	uint64_t bytes;
};

/*
 * Copy every record of from into to, verbatim, then read to back and compare the count and size.
 * COFFER_ERR_EXISTS when to holds any record (nothing is written), COFFER_ERR_INTEGRITY when the
 * read-back differs, else a storage error.
 */
int storage_migrate(struct storage *from, struct storage *to, struct storage_migrate_result *out);

#endif

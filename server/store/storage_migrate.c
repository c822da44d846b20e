/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_migrate.c: copies a whole store into another one, record by record and byte for byte
 * (cofferd migrate: SQLite to PostgreSQL and back). Records are ciphertext under hidden names, so
 * no key is needed and nothing is decrypted. Called by main.c with both stores opened offline.
 */
#include <stdlib.h>
#include <string.h>

#include "store/storage.h"
#include "store/storage_migrate.h"
#include "xmalloc.h"

#define MIGRATE_BATCH 512

struct migrate_ctx {
	struct storage *to;
	struct storage_op ops[MIGRATE_BATCH];
	size_t n_ops;
	size_t copied;
	uint64_t bytes;
	int err;
};

static void migrate_free_ops(struct migrate_ctx *m)
{
	size_t i;

	for (i = 0; i < m->n_ops; i++) {
		free((void *)m->ops[i].key);
		free((void *)m->ops[i].value);
	}
	m->n_ops = 0;
}

static int migrate_flush(struct migrate_ctx *m)
{
	int err = m->n_ops > 0 ? storage_batch(m->to, m->ops, m->n_ops) : 0;

	if (err == 0)
		m->copied += m->n_ops;
	migrate_free_ops(m);
	return err;
}

static int migrate_row(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
	struct migrate_ctx *m = arg;
	struct storage_op *op = &m->ops[m->n_ops++];
	uint8_t *k = xmalloc(key_len > 0 ? key_len : 1),
	        *v = xmalloc(value_len > 0 ? value_len : 1);

	memcpy(k, key, key_len);
	memcpy(v, value, value_len);
	*op = (struct storage_op){STORAGE_PUT, k, key_len, v, value_len};
	m->bytes += key_len + value_len;
	if (m->n_ops == MIGRATE_BATCH && (m->err = migrate_flush(m)) != 0)
		return 1;
	return 0;
}

static int migrate_any(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	*(size_t *)arg += 1;
	return 1;
}

struct migrate_count {
	size_t n;
	uint64_t bytes;
};

static int migrate_counted(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len)
{
	struct migrate_count *c = arg;

	(void)key;
	(void)value;
	c->n++;
	c->bytes += key_len + value_len;
	return 0;
}

int storage_migrate(struct storage *from, struct storage *to, struct storage_migrate_result *out)
{
	struct migrate_ctx *m;
	struct migrate_count check = {0};
	size_t found = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = storage_scan(to, NULL, 0, migrate_any, &found);
	if (err < 0)
		return err;
	if (found > 0)
		return COFFER_ERR_EXISTS;
	m = xcalloc(1, sizeof(*m));
	m->to = to;
	err = storage_scan(from, NULL, 0, migrate_row, m);
	if (err > 0)
		err = m->err;
	if (err == 0)
		err = migrate_flush(m);
	migrate_free_ops(m);
	out->records = m->copied;
	out->bytes = m->bytes;
	free(m);
	if (err != 0)
		return err;
	/* Read the destination back: the same number of records and bytes. */
	err = storage_scan(to, NULL, 0, migrate_counted, &check);
	if (err == 0 && (check.n != out->records || check.bytes != out->bytes))
		err = COFFER_ERR_INTEGRITY;
	return err;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier_batch.c: builds the physical rows of a barrier batch (sealed data rows, index rows for
 * new folders, deletes for folders the batch leaves empty) and commits them as one storage batch.
 * Called by barrier_batch() in barrier.c, under its locks.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/barrier_int.h"
#include "xmalloc.h"

/* One physical row of a batch under construction. */
struct row {
	enum storage_op_type type;
	uint8_t key[BARRIER_INDEX_KEY_LEN];
	size_t key_len;
	uint8_t *value; /* malloc'd record; NULL for deletes */
	size_t value_len;
};

/* The rows of a batch, with an open-addressing index from each key to its last row (which decides
 * the key's state after the commit), so that large batches stay linear. */
struct rows {
	struct row *v;
	size_t n, cap;
	size_t *slots;  /* a row index + 1, or 0 for an empty slot */
	size_t n_slots; /* a power of two, more than twice n_keys */
	size_t n_keys;
	size_t n_index_puts; /* keys whose last row puts an index row */
};

/* A folder above a deleted path: path[0..len), '/'-terminated, at depth '/'s. */
struct folder_ref {
	const char *path;
	size_t len;
	size_t depth;
};

struct batch_ctx {
	struct barrier *b;
	const struct keyring *kr;
	struct rows rows;
};

int barrier_known_init(struct barrier_known *k)
{
	k->n = 0;
	k->keys = xcalloc(BARRIER_KNOWN_SLOTS, sizeof(*k->keys));
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k->keys);
		k->keys = NULL;
		return COFFER_ERR_INTERNAL;
	}
	return 0;
}

void barrier_known_destroy(struct barrier_known *k)
{
	if (k->keys == NULL)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k->keys);
	k->keys = NULL;
}

void barrier_known_clear(struct barrier_known *k)
{
	pthread_mutex_lock(&k->lock);
	memset(k->keys, 0, BARRIER_KNOWN_SLOTS * sizeof(*k->keys));
	k->n = 0;
	pthread_mutex_unlock(&k->lock);
}

/* The slot of key, or the empty slot where it belongs; k->lock held. An index key starts with
 * 'i', so no key is all zero, and it ends in a MAC, so its last bytes are uniformly distributed. */
static uint8_t *known_slot(struct barrier_known *k, const uint8_t key[BARRIER_INDEX_KEY_LEN])
{
	static const uint8_t zero[BARRIER_INDEX_KEY_LEN];
	uint64_t h;
	size_t j;

	memcpy(&h, key + BARRIER_INDEX_KEY_LEN - sizeof(h), sizeof(h));
	for (j = (size_t)h % BARRIER_KNOWN_SLOTS;; j = (j + 1) % BARRIER_KNOWN_SLOTS) {
		if (memcmp(k->keys[j], key, BARRIER_INDEX_KEY_LEN) == 0 ||
		    memcmp(k->keys[j], zero, BARRIER_INDEX_KEY_LEN) == 0)
			return k->keys[j];
	}
}

static bool known_has(struct barrier_known *k, const uint8_t key[BARRIER_INDEX_KEY_LEN])
{
	bool has;

	pthread_mutex_lock(&k->lock);
	has = known_slot(k, key)[0] != 0;
	pthread_mutex_unlock(&k->lock);
	return has;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].value);
	free(r->v);
	free(r->slots);
	memset(r, 0, sizeof(*r));
}

/* The slot holding key, or the empty slot where it belongs. Keys end in a MAC, so their last
 * bytes are already uniformly distributed. */
static size_t *rows_slot(const struct rows *r, const uint8_t *key, size_t key_len)
{
	size_t mask = r->n_slots - 1, j;
	uint64_t h;

	memcpy(&h, key + key_len - sizeof(h), sizeof(h));
	for (j = (size_t)h & mask;; j = (j + 1) & mask) {
		const struct row *row;

		if (r->slots[j] == 0)
			return &r->slots[j];
		row = &r->v[r->slots[j] - 1];
		if (row->key_len == key_len && memcmp(row->key, key, key_len) == 0)
			return &r->slots[j];
	}
}

static void rows_reserve(struct rows *r)
{
	size_t n_slots = r->n_slots ? r->n_slots * 2 : 64;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	if ((r->n_keys + 1) * 2 < r->n_slots)
		return;
	free(r->slots);
	r->slots = xcalloc(n_slots, sizeof(*r->slots));
	r->n_slots = n_slots;
	for (size_t i = 0; i < r->n; i++) /* in order: each key ends at its last row */
		*rows_slot(r, r->v[i].key, r->v[i].key_len) = i + 1;
}

/* Whether the row leaves its key present (a put, or a put of an index row if absent). */
static bool row_is_put(const struct row *row)
{
	return row->type != STORAGE_DELETE;
}

static bool row_is_index_put(const struct row *row)
{
	return row_is_put(row) && row->key_len == BARRIER_INDEX_KEY_LEN;
}

/* Append a row; takes ownership of value. */
static void rows_add(struct rows *r, enum storage_op_type type, const uint8_t *key, size_t key_len,
                     uint8_t *value, size_t value_len)
{
	struct row *row;
	size_t *slot;

	rows_reserve(r);
	row = &r->v[r->n];
	row->type = type;
	memcpy(row->key, key, key_len);
	row->key_len = key_len;
	row->value = value;
	row->value_len = value_len;
	slot = rows_slot(r, key, key_len);
	if (*slot == 0)
		r->n_keys++;
	else if (row_is_index_put(&r->v[*slot - 1]))
		r->n_index_puts--;
	r->n_index_puts += row_is_index_put(row);
	*slot = ++r->n;
}

static const struct row *rows_last(const struct rows *r, const uint8_t *key, size_t key_len)
{
	size_t *slot;

	if (r->n_slots == 0)
		return NULL;
	slot = rows_slot(r, key, key_len);
	return *slot == 0 ? NULL : &r->v[*slot - 1];
}

static int rows_commit(struct storage *st, const struct rows *r)
{
	struct storage_op *ops;
	int ret;

	if (r->n == 0)
		return 0;
	ops = xcalloc(r->n, sizeof(*ops));
	for (size_t i = 0; i < r->n; i++) {
		ops[i].type = r->v[i].type;
		ops[i].key = r->v[i].key;
		ops[i].key_len = r->v[i].key_len;
		ops[i].value = r->v[i].value;
		ops[i].value_len = r->v[i].value_len;
	}
	ret = storage_batch(st, ops, r->n);
	free(ops);
	return ret;
}

/*
 * The data row, then the index rows of the path and of every folder above it, each written only
 * if absent: no read is needed to find which exist, and the index invariant (a row's ancestors
 * exist) holds. A row the batch already puts ends the walk (its ancestors are in the batch too),
 * and so does a row known to be stored (its ancestors are stored). Unlisted puts have no walk.
 */
static int batch_add_put(struct batch_ctx *c, const struct barrier_op *op)
{
	uint8_t key[BARRIER_INDEX_KEY_LEN];
	uint8_t *rec = NULL;
	size_t rec_len = 0, child_len = strlen(op->path), dir_len;
	const struct row *last;
	int ret;

	barrier_data_key(c->kr, op->path, key);
	ret = barrier_record_seal_active(c->b, c->kr, key, BARRIER_DATA_KEY_LEN, op->value, op->len,
	                                 &rec, &rec_len);
	if (ret != 0)
		return ret;
	rows_add(&c->rows, STORAGE_PUT, key, BARRIER_DATA_KEY_LEN, rec, rec_len);
	while (op->type == BARRIER_PUT) {
		barrier_index_key(c->kr, op->path, child_len, key);
		last = rows_last(&c->rows, key, BARRIER_INDEX_KEY_LEN);
		/* The batch's own row decides (it may delete a known row); else the memory may. */
		if (last != NULL ? row_is_put(last) : known_has(&c->b->known, key))
			return 0;
		dir_len = barrier_parent_len(op->path, child_len);
		ret = barrier_record_seal_active(c->b, c->kr, key, BARRIER_INDEX_KEY_LEN,
		                                 (const uint8_t *)op->path + dir_len,
		                                 child_len - dir_len, &rec, &rec_len);
		if (ret != 0)
			return ret;
		rows_add(&c->rows, STORAGE_PUT_IF_ABSENT, key, BARRIER_INDEX_KEY_LEN, rec, rec_len);
		if (dir_len == 0)
			return 0;
		child_len = dir_len;
	}
	return 0;
}

static void batch_add_delete(struct batch_ctx *c, const struct barrier_op *op)
{
	uint8_t key[BARRIER_INDEX_KEY_LEN];

	barrier_data_key(c->kr, op->path, key);
	rows_add(&c->rows, STORAGE_DELETE, key, BARRIER_DATA_KEY_LEN, NULL, 0);
	if (op->type == BARRIER_DELETE_UNLISTED)
		return;
	barrier_index_key(c->kr, op->path, strlen(op->path), key);
	rows_add(&c->rows, STORAGE_DELETE, key, BARRIER_INDEX_KEY_LEN, NULL, 0);
}

/* Scan callback: a stored child row counts unless the batch deletes it. */
static int child_scan_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                         size_t value_len)
{
	const struct row *last = rows_last(arg, key, key_len);

	(void)value;
	(void)value_len;
	return last == NULL || row_is_put(last);
}

/* 1 when folder has a child once the batch is applied, 0 when not, or an error. */
static int folder_has_child(struct batch_ctx *c, const char *folder, size_t folder_len)
{
	uint8_t prefix[BARRIER_INDEX_PREFIX_LEN];

	barrier_index_prefix(c->kr, folder, folder_len, prefix);
	for (size_t i = 0; c->rows.n_index_puts > 0 && i < c->rows.n; i++) {
		const struct row *row = &c->rows.v[i];

		if (row_is_index_put(row) && memcmp(row->key, prefix, sizeof(prefix)) == 0 &&
		    rows_last(&c->rows, row->key, row->key_len) == row)
			return 1;
	}
	return storage_scan(c->b->st, prefix, sizeof(prefix), child_scan_cb, &c->rows);
}

/* Deepest first, then by name, so that duplicates are adjacent. */
static int folder_ref_cmp(const void *a, const void *b)
{
	const struct folder_ref *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->path, y->path, x->len);
}

/* The folders above the deleted paths (one per '/'), deepest first. */
static void prune_candidates(const struct barrier_op *ops, size_t n_ops, struct folder_ref **out,
                             size_t *n_out)
{
	struct folder_ref *refs;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < n_ops; i++) {
		for (const char *p = ops[i].path; ops[i].type == BARRIER_DELETE && *p != '\0'; p++)
			n += *p == '/';
	}
	if (n == 0)
		return;
	refs = xcalloc(n, sizeof(*refs));
	n = 0;
	for (size_t i = 0; i < n_ops; i++) {
		size_t depth = 0;

		for (size_t j = 0; ops[i].type == BARRIER_DELETE && ops[i].path[j] != '\0'; j++) {
			if (ops[i].path[j] == '/')
				refs[n++] = (struct folder_ref){ops[i].path, j + 1, ++depth};
		}
	}
	qsort(refs, n, sizeof(*refs), folder_ref_cmp);
	*out = refs;
	*n_out = n;
}

/* Remove the rows of folders that the batch leaves without children. Deeper folders are decided
 * first, so the rows pruned below a folder are in the batch when it is checked. */
static int batch_add_prunes(struct batch_ctx *c, const struct barrier_op *ops, size_t n_ops)
{
	struct folder_ref *refs = NULL;
	uint8_t key[BARRIER_INDEX_KEY_LEN];
	size_t n = 0;
	int ret = 0;

	prune_candidates(ops, n_ops, &refs, &n);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (i > 0 && folder_ref_cmp(&refs[i - 1], &refs[i]) == 0)
			continue;
		if ((ret = folder_has_child(c, refs[i].path, refs[i].len)) > 0) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		barrier_index_key(c->kr, refs[i].path, refs[i].len, key);
		rows_add(&c->rows, STORAGE_DELETE, key, BARRIER_INDEX_KEY_LEN, NULL, 0);
	}
	free(refs);
	return ret;
}

static int batch_build(struct batch_ctx *c, const struct barrier_op *ops, size_t n_ops)
{
	int ret = 0;

	for (size_t i = 0; i < n_ops && ret == 0; i++) {
		if (ops[i].type == BARRIER_PUT || ops[i].type == BARRIER_PUT_UNLISTED)
			ret = batch_add_put(c, &ops[i]);
		else
			batch_add_delete(c, &ops[i]);
	}
	return ret == 0 ? batch_add_prunes(c, ops, n_ops) : ret;
}

/* After a committed batch: remember its index rows, or forget all when it deleted any index row
 * (only BARRIER_DELETE does, under tree_lock held exclusively). */
static void known_update(struct barrier_known *k, const struct rows *r)
{
	bool has_delete = false;

	for (size_t i = 0; i < r->n; i++)
		has_delete |=
		    r->v[i].type == STORAGE_DELETE && r->v[i].key_len == BARRIER_INDEX_KEY_LEN;
	pthread_mutex_lock(&k->lock);
	if (has_delete || k->n + r->n_index_puts > BARRIER_KNOWN_SLOTS / 2) {
		memset(k->keys, 0, BARRIER_KNOWN_SLOTS * sizeof(*k->keys));
		k->n = 0;
	}
	for (size_t i = 0; !has_delete && i < r->n; i++) {
		uint8_t *slot;

		if (!row_is_index_put(&r->v[i]) ||
		    rows_last(r, r->v[i].key, r->v[i].key_len) != &r->v[i])
			continue;
		slot = known_slot(k, r->v[i].key);
		if (slot[0] == 0) {
			memcpy(slot, r->v[i].key, BARRIER_INDEX_KEY_LEN);
			k->n++;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

int barrier_batch_apply(struct barrier *b, const struct keyring *kr, const struct barrier_op *ops,
                        size_t n_ops)
{
	struct batch_ctx c = {.b = b, .kr = kr};
	int ret;

	ret = batch_build(&c, ops, n_ops);
	if (ret == 0)
		ret = rows_commit(b->st, &c.rows);
	if (ret == 0)
		known_update(&b->known, &c.rows);
	else /* rare; whatever the store holds now, forgetting is always safe */
		barrier_known_clear(&b->known);
	rows_free(&c.rows);
	return ret;
}

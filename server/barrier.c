/* SPDX-License-Identifier: Apache-2.0 */
/*
 * barrier.c: encryption at rest (DESIGN.md §3). Turns logical paths into keyed-MAC physical keys
 * and plaintext into XChaCha20-Poly1305 records bound to their key, keeps the encrypted directory
 * index that makes listing possible, and holds the keyring while unsealed. Called by every engine.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "keyring.h"
#include "log.h"
#include "path.h"
#include "secmem.h"

#define RECORD_VERSION 1
#define RECORD_HEADER_LEN 5 /* version | term (big endian) */
#define RECORD_OVERHEAD (RECORD_HEADER_LEN + COFFER_AEAD_OVERHEAD)
#define DATA_KEY_LEN (1 + COFFER_MAC_LEN)
#define INDEX_PREFIX_LEN (1 + COFFER_MAC_LEN)
#define INDEX_KEY_LEN (1 + 2 * COFFER_MAC_LEN)

/* Domain labels for the path-key MACs: data rows, and both halves of index rows. */
#define LABEL_DATA "coffer-path-data"
#define LABEL_INDEX "coffer-path-index"

static const char KEYRING_KEY[] = "s/keyring";

/*
 * Lock order: key_lock before tree_lock. key_lock guards kr and root_key (read for every call,
 * write for unseal, seal and rotate). tree_lock keeps the index invariant (a row's ancestors have
 * rows too): puts only add rows idempotently and share it; anything that prunes holds it
 * exclusively across its check and its commit.
 */
struct barrier {
	struct storage *st;
	pthread_rwlock_t key_lock;
	pthread_rwlock_t tree_lock;
	struct keyring *kr; /* NULL while sealed */
	uint8_t *root_key;  /* secmem; NULL while sealed */
	atomic_uint_fast64_t encryptions;
};

/* One physical row of a batch under construction. */
struct row {
	enum storage_op_type type;
	uint8_t key[INDEX_KEY_LEN];
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

struct list_ctx {
	const struct keyring *kr;
	char **names;
	size_t n, cap;
};

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* record = version | term | nonce | ciphertext+tag, with ad (the physical key) authenticated. */
static int record_seal(uint32_t term, const uint8_t key[COFFER_KEY_LEN], const void *ad,
                       size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t **out,
                       size_t *out_len)
{
	uint8_t *rec;
	int ret;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SIZE_MAX - RECORD_OVERHEAD)
		return COFFER_ERR_TOO_LARGE;
	if ((rec = malloc(pt_len + RECORD_OVERHEAD)) == NULL)
		return COFFER_ERR_NOMEM;
	rec[0] = RECORD_VERSION;
	put_u32(rec + 1, term);
	ret = coffer_aead_seal(rec + RECORD_HEADER_LEN, pt, pt_len, ad, ad_len, key);
	if (ret != 0) {
		free(rec);
		return ret;
	}
	*out = rec;
	*out_len = pt_len + RECORD_OVERHEAD;
	return 0;
}

static int record_term(const uint8_t *rec, size_t rec_len, uint32_t *term)
{
	if (rec_len < RECORD_OVERHEAD || rec[0] != RECORD_VERSION)
		return COFFER_ERR_INTEGRITY;
	*term = get_u32(rec + 1);
	return 0;
}

/* *out (malloc'd, NUL-terminated beyond *out_len) gets the plaintext; release with
 * secmem_freezero(*out, *out_len + 1). Any failure is COFFER_ERR_INTEGRITY or NOMEM. */
static int record_open(const uint8_t *rec, size_t rec_len, const void *ad, size_t ad_len,
                       const uint8_t key[COFFER_KEY_LEN], uint8_t **out, size_t *out_len)
{
	size_t pt_len = rec_len - RECORD_OVERHEAD;
	uint8_t *pt;

	*out = NULL;
	*out_len = 0;
	if ((pt = malloc(pt_len + 1)) == NULL)
		return COFFER_ERR_NOMEM;
	if (coffer_aead_open(pt, rec + RECORD_HEADER_LEN, rec_len - RECORD_HEADER_LEN, ad, ad_len,
	                     key) != 0) {
		secmem_freezero(pt, pt_len + 1);
		return COFFER_ERR_INTEGRITY;
	}
	pt[pt_len] = '\0';
	*out = pt;
	*out_len = pt_len;
	return 0;
}

/* Open a record written under a keyring term; an unknown term fails authentication. */
static int record_open_term(const struct keyring *kr, const uint8_t *rec, size_t rec_len,
                            const void *ad, size_t ad_len, uint8_t **out, size_t *out_len)
{
	const struct keyring_term *t;
	uint32_t term;

	*out = NULL;
	*out_len = 0;
	if (record_term(rec, rec_len, &term) != 0 || (t = keyring_term(kr, term)) == NULL)
		return COFFER_ERR_INTEGRITY;
	return record_open(rec, rec_len, ad, ad_len, t->key, out, out_len);
}

static int record_seal_active(struct barrier *b, const struct keyring *kr, const void *ad,
                              size_t ad_len, const uint8_t *pt, size_t pt_len, uint8_t **out,
                              size_t *out_len)
{
	const struct keyring_term *t = keyring_active(kr);

	atomic_fetch_add(&b->encryptions, 1);
	return record_seal(t->term, t->key, ad, ad_len, pt, pt_len, out, out_len);
}

/* A logical path (no leading, trailing or doubled '/'), or a folder ("" or '/'-terminated). */
static bool path_is_valid(const char *p, bool is_folder)
{
	size_t len;

	if (p == NULL)
		return false;
	len = strlen(p);
	if (len > PATH_MAX_LEN || (len == 0 && !is_folder))
		return false;
	if (len == 0)
		return true;
	if (p[0] == '/' || strstr(p, "//") != NULL)
		return false;
	return (p[len - 1] == '/') == is_folder;
}

/* Length of the folder that contains p[0..len) (a leaf, or a folder ending in '/'); 0 = root. */
static size_t parent_len(const char *p, size_t len)
{
	for (size_t i = len - 1; i > 0; i--) {
		if (p[i - 1] == '/')
			return i;
	}
	return 0;
}

static void data_key(const struct keyring *kr, const char *path, uint8_t key[DATA_KEY_LEN])
{
	key[0] = 'd';
	coffer_mac2(key + 1, LABEL_DATA, path, strlen(path), keyring_path_key(kr));
}

static void index_prefix(const struct keyring *kr, const char *dir, size_t dir_len,
                         uint8_t key[INDEX_PREFIX_LEN])
{
	key[0] = 'i';
	coffer_mac2(key + 1, LABEL_INDEX, dir, dir_len, keyring_path_key(kr));
}

/* The index row of child p[0..child_len) inside its parent folder. */
static void index_key(const struct keyring *kr, const char *p, size_t child_len,
                      uint8_t key[INDEX_KEY_LEN])
{
	index_prefix(kr, p, parent_len(p, child_len), key);
	coffer_mac2(key + INDEX_PREFIX_LEN, LABEL_INDEX, p, child_len, keyring_path_key(kr));
}

/* Take the key lock shared; COFFER_ERR_SEALED (lock released) when there is no keyring. */
static int barrier_enter(struct barrier *b)
{
	if (pthread_rwlock_rdlock(&b->key_lock) != 0)
		return COFFER_ERR_INTERNAL;
	if (b->kr == NULL) {
		pthread_rwlock_unlock(&b->key_lock);
		return COFFER_ERR_SEALED;
	}
	return 0;
}

static void barrier_leave(struct barrier *b)
{
	pthread_rwlock_unlock(&b->key_lock);
}

int barrier_new(struct storage *st, struct barrier **out)
{
	pthread_rwlockattr_t attr;
	struct barrier *b = NULL;
	int ret;

	*out = NULL;
	if (pthread_rwlockattr_init(&attr) != 0)
		return COFFER_ERR_INTERNAL;
	/* Writers first, so that a seal or a prune is not starved by a stream of requests; safe
	 * because no thread takes either lock twice. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = COFFER_ERR_NOMEM;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto out;
	b->st = st;
	atomic_init(&b->encryptions, 0);
	ret = COFFER_ERR_INTERNAL;
	if (pthread_rwlock_init(&b->key_lock, &attr) != 0)
		goto out;
	if (pthread_rwlock_init(&b->tree_lock, &attr) != 0) {
		pthread_rwlock_destroy(&b->key_lock);
		goto out;
	}
	*out = b;
	b = NULL;
	ret = 0;
out:
	free(b);
	pthread_rwlockattr_destroy(&attr);
	return ret;
}

void barrier_free(struct barrier *b)
{
	if (b == NULL)
		return;
	barrier_seal(b);
	pthread_rwlock_destroy(&b->tree_lock);
	pthread_rwlock_destroy(&b->key_lock);
	free(b);
}

/* Replace the keys; the caller holds key_lock exclusively. Takes ownership of kr and root_key. */
static void barrier_install(struct barrier *b, struct keyring *kr, uint8_t *root_key)
{
	keyring_free(b->kr);
	secmem_free(b->root_key);
	b->kr = kr;
	b->root_key = root_key;
	atomic_store(&b->encryptions, 0);
}

static int keyring_store(struct storage *st, const struct keyring *kr,
                         const uint8_t root_key[COFFER_KEY_LEN])
{
	uint8_t *ser = NULL, *rec = NULL;
	size_t ser_len = 0, rec_len = 0;
	int ret;

	if ((ret = keyring_serialize(kr, &ser, &ser_len)) != 0)
		goto out;
	ret = record_seal(0, root_key, KEYRING_KEY, strlen(KEYRING_KEY), ser, ser_len, &rec,
	                  &rec_len);
	if (ret != 0)
		goto out;
	ret = storage_put(st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), rec, rec_len);
out:
	free(rec);
	secmem_free(ser);
	return ret;
}

static int keyring_load(struct storage *st, const uint8_t root_key[COFFER_KEY_LEN],
                        struct keyring **out)
{
	uint8_t *rec = NULL, *ser = NULL;
	size_t rec_len = 0, ser_len = 0;
	uint32_t term;
	int ret;

	*out = NULL;
	ret = storage_get(st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), &rec, &rec_len);
	if (ret == COFFER_ERR_NOT_FOUND)
		ret = COFFER_ERR_UNINIT;
	if (ret != 0)
		goto out;
	ret = COFFER_ERR_INTEGRITY;
	if (record_term(rec, rec_len, &term) != 0 || term != 0)
		goto out;
	ret = record_open(rec, rec_len, KEYRING_KEY, strlen(KEYRING_KEY), root_key, &ser, &ser_len);
	if (ret != 0)
		goto out;
	ret = keyring_deserialize(ser, ser_len, out);
out:
	if (ser != NULL)
		secmem_freezero(ser, ser_len + 1);
	free(rec);
	return ret;
}

int barrier_initialize(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN])
{
	struct keyring *kr = NULL;
	uint8_t *rk = NULL, *old = NULL;
	size_t old_len = 0;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	ret = storage_get(b->st, (const uint8_t *)KEYRING_KEY, strlen(KEYRING_KEY), &old, &old_len);
	if (ret == 0)
		ret = COFFER_ERR_EXISTS;
	if (ret != COFFER_ERR_NOT_FOUND)
		goto out;
	if ((ret = keyring_new(&kr)) != 0)
		goto out;
	ret = COFFER_ERR_NOMEM;
	if ((rk = secmem_dup(root_key, COFFER_KEY_LEN)) == NULL)
		goto out;
	if ((ret = keyring_store(b->st, kr, rk)) != 0)
		goto out;
	barrier_install(b, kr, rk);
	kr = NULL;
	rk = NULL;
	log_info("barrier: keyring created, term 1");
out:
	pthread_rwlock_unlock(&b->key_lock);
	free(old);
	secmem_free(rk);
	keyring_free(kr);
	return ret;
}

int barrier_unseal(struct barrier *b, const uint8_t root_key[COFFER_KEY_LEN])
{
	struct keyring *kr = NULL;
	uint8_t *rk = NULL;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	if ((ret = keyring_load(b->st, root_key, &kr)) != 0)
		goto out;
	ret = COFFER_ERR_NOMEM;
	if ((rk = secmem_dup(root_key, COFFER_KEY_LEN)) == NULL)
		goto out;
	barrier_install(b, kr, rk);
	log_info("barrier: unsealed, active term %u", keyring_active(kr)->term);
	kr = NULL;
	rk = NULL;
	ret = 0;
out:
	pthread_rwlock_unlock(&b->key_lock);
	secmem_free(rk);
	keyring_free(kr);
	return ret;
}

void barrier_seal(struct barrier *b)
{
	pthread_rwlock_wrlock(&b->key_lock);
	barrier_install(b, NULL, NULL);
	pthread_rwlock_unlock(&b->key_lock);
}

bool barrier_is_sealed(struct barrier *b)
{
	bool is_sealed;

	pthread_rwlock_rdlock(&b->key_lock);
	is_sealed = b->kr == NULL;
	pthread_rwlock_unlock(&b->key_lock);
	return is_sealed;
}

int barrier_get(struct barrier *b, const char *path, uint8_t **value, size_t *len)
{
	uint8_t key[DATA_KEY_LEN];
	uint8_t *rec = NULL, *pt = NULL;
	size_t rec_len = 0, pt_len = 0;
	int ret;

	*value = NULL;
	*len = 0;
	if (!path_is_valid(path, false))
		return COFFER_ERR_INVALID;
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	data_key(b->kr, path, key);
	if ((ret = storage_get(b->st, key, sizeof(key), &rec, &rec_len)) != 0)
		goto out;
	ret = record_open_term(b->kr, rec, rec_len, key, sizeof(key), &pt, &pt_len);
	if (ret == COFFER_ERR_INTEGRITY)
		log_warn("barrier: a record failed authentication");
	if (ret != 0)
		goto out;
	*value = pt;
	*len = pt_len;
out:
	barrier_leave(b);
	free(rec);
	return ret;
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

static int rows_reserve(struct rows *r)
{
	size_t *slots, n_slots = r->n_slots ? r->n_slots * 2 : 64;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct row *v = reallocarray(r->v, cap, sizeof(*v));

		if (v == NULL)
			return COFFER_ERR_NOMEM;
		r->v = v;
		r->cap = cap;
	}
	if ((r->n_keys + 1) * 2 < r->n_slots)
		return 0;
	if ((slots = calloc(n_slots, sizeof(*slots))) == NULL)
		return COFFER_ERR_NOMEM;
	free(r->slots);
	r->slots = slots;
	r->n_slots = n_slots;
	for (size_t i = 0; i < r->n; i++) /* in order: each key ends at its last row */
		*rows_slot(r, r->v[i].key, r->v[i].key_len) = i + 1;
	return 0;
}

static bool row_is_index_put(const struct row *row)
{
	return row->type == STORAGE_PUT && row->key_len == INDEX_KEY_LEN;
}

/* Append a row; takes ownership of value (freed on failure too). */
static int rows_add(struct rows *r, enum storage_op_type type, const uint8_t *key, size_t key_len,
                    uint8_t *value, size_t value_len)
{
	struct row *row;
	size_t *slot;

	if (rows_reserve(r) != 0) {
		free(value);
		return COFFER_ERR_NOMEM;
	}
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
	return 0;
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
	if ((ops = calloc(r->n, sizeof(*ops))) == NULL)
		return COFFER_ERR_NOMEM;
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

/* 1 when the index row exists once the rows so far are applied, 0 when not, or an error. */
static int index_row_exists(struct batch_ctx *c, const uint8_t key[INDEX_KEY_LEN])
{
	const struct row *last = rows_last(&c->rows, key, INDEX_KEY_LEN);
	uint8_t *v = NULL;
	size_t v_len = 0;
	int ret;

	if (last != NULL)
		return last->type == STORAGE_PUT;
	ret = storage_get(c->b->st, key, INDEX_KEY_LEN, &v, &v_len);
	free(v);
	if (ret == COFFER_ERR_NOT_FOUND)
		return 0;
	return ret == 0 ? 1 : ret;
}

/* The data row, then index rows from the leaf up to the first one that exists: by the index
 * invariant, its ancestors exist too. */
static int batch_add_put(struct batch_ctx *c, const struct barrier_op *op)
{
	uint8_t key[INDEX_KEY_LEN];
	uint8_t *rec = NULL;
	size_t rec_len = 0, child_len = strlen(op->path), dir_len;
	int ret;

	data_key(c->kr, op->path, key);
	ret =
	    record_seal_active(c->b, c->kr, key, DATA_KEY_LEN, op->value, op->len, &rec, &rec_len);
	if (ret != 0 || (ret = rows_add(&c->rows, STORAGE_PUT, key, DATA_KEY_LEN, rec, rec_len)))
		return ret;
	for (;;) {
		index_key(c->kr, op->path, child_len, key);
		if ((ret = index_row_exists(c, key)) != 0)
			return ret < 0 ? ret : 0;
		dir_len = parent_len(op->path, child_len);
		ret = record_seal_active(c->b, c->kr, key, INDEX_KEY_LEN,
		                         (const uint8_t *)op->path + dir_len, child_len - dir_len,
		                         &rec, &rec_len);
		if (ret != 0 ||
		    (ret = rows_add(&c->rows, STORAGE_PUT, key, INDEX_KEY_LEN, rec, rec_len)))
			return ret;
		if (dir_len == 0)
			return 0;
		child_len = dir_len;
	}
}

static int batch_add_delete(struct batch_ctx *c, const struct barrier_op *op)
{
	uint8_t key[INDEX_KEY_LEN];
	int ret;

	data_key(c->kr, op->path, key);
	if ((ret = rows_add(&c->rows, STORAGE_DELETE, key, DATA_KEY_LEN, NULL, 0)) != 0)
		return ret;
	index_key(c->kr, op->path, strlen(op->path), key);
	return rows_add(&c->rows, STORAGE_DELETE, key, INDEX_KEY_LEN, NULL, 0);
}

/* Scan callback: a stored child row counts unless the batch deletes it. */
static int child_scan_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                         size_t value_len)
{
	const struct row *last = rows_last(arg, key, key_len);

	(void)value;
	(void)value_len;
	return last == NULL || last->type == STORAGE_PUT;
}

/* 1 when folder has a child once the batch is applied, 0 when not, or an error. */
static int folder_has_child(struct batch_ctx *c, const char *folder, size_t folder_len)
{
	uint8_t prefix[INDEX_PREFIX_LEN];

	index_prefix(c->kr, folder, folder_len, prefix);
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
static int prune_candidates(const struct barrier_op *ops, size_t n_ops, struct folder_ref **out,
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
		return 0;
	if ((refs = calloc(n, sizeof(*refs))) == NULL)
		return COFFER_ERR_NOMEM;
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
	return 0;
}

/* Remove the rows of folders that the batch leaves without children. Deeper folders are decided
 * first, so the rows pruned below a folder are in the batch when it is checked. */
static int batch_add_prunes(struct batch_ctx *c, const struct barrier_op *ops, size_t n_ops)
{
	struct folder_ref *refs = NULL;
	uint8_t key[INDEX_KEY_LEN];
	size_t n = 0;
	int ret;

	if ((ret = prune_candidates(ops, n_ops, &refs, &n)) != 0)
		return ret;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (i > 0 && folder_ref_cmp(&refs[i - 1], &refs[i]) == 0)
			continue;
		if ((ret = folder_has_child(c, refs[i].path, refs[i].len)) > 0) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		index_key(c->kr, refs[i].path, refs[i].len, key);
		ret = rows_add(&c->rows, STORAGE_DELETE, key, INDEX_KEY_LEN, NULL, 0);
	}
	free(refs);
	return ret;
}

static int batch_build(struct batch_ctx *c, const struct barrier_op *ops, size_t n_ops)
{
	int ret = 0;

	for (size_t i = 0; i < n_ops && ret == 0; i++) {
		if (ops[i].type == BARRIER_PUT)
			ret = batch_add_put(c, &ops[i]);
		else
			ret = batch_add_delete(c, &ops[i]);
	}
	return ret == 0 ? batch_add_prunes(c, ops, n_ops) : ret;
}

int barrier_batch(struct barrier *b, const struct barrier_op *ops, size_t n_ops)
{
	struct batch_ctx c = {.b = b};
	bool has_delete = false;
	int ret;

	for (size_t i = 0; i < n_ops; i++) {
		if (!path_is_valid(ops[i].path, false) ||
		    (ops[i].type != BARRIER_PUT && ops[i].type != BARRIER_DELETE) ||
		    (ops[i].type == BARRIER_PUT && ops[i].value == NULL && ops[i].len > 0))
			return COFFER_ERR_INVALID;
		has_delete |= ops[i].type == BARRIER_DELETE;
	}
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	c.kr = b->kr;
	if (has_delete)
		pthread_rwlock_wrlock(&b->tree_lock);
	else
		pthread_rwlock_rdlock(&b->tree_lock);
	ret = batch_build(&c, ops, n_ops);
	if (ret == 0)
		ret = rows_commit(b->st, &c.rows);
	pthread_rwlock_unlock(&b->tree_lock);
	barrier_leave(b);
	rows_free(&c.rows);
	return ret;
}

int barrier_put(struct barrier *b, const char *path, const uint8_t *value, size_t len)
{
	struct barrier_op op = {BARRIER_PUT, path, value, len};

	return barrier_batch(b, &op, 1);
}

int barrier_delete(struct barrier *b, const char *path)
{
	struct barrier_op op = {BARRIER_DELETE, path, NULL, 0};

	return barrier_batch(b, &op, 1);
}

/* Scan callback: decrypt one index row into a name (a component, '/'-suffixed for folders). */
static int list_scan_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                        size_t value_len)
{
	struct list_ctx *c = arg;
	uint8_t *name = NULL;
	size_t name_len = 0;
	char *slash;
	int ret;

	if (key_len != INDEX_KEY_LEN)
		return COFFER_ERR_INTEGRITY;
	ret = record_open_term(c->kr, value, value_len, key, key_len, &name, &name_len);
	if (ret != 0)
		return ret;
	slash = memchr(name, '/', name_len);
	if (name_len == 0 || strlen((char *)name) != name_len ||
	    (slash != NULL && slash != (char *)name + name_len - 1)) {
		ret = COFFER_ERR_INTEGRITY;
		goto out;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **v = reallocarray(c->names, cap, sizeof(*v));

		ret = COFFER_ERR_NOMEM;
		if (v == NULL)
			goto out;
		c->names = v;
		c->cap = cap;
	}
	c->names[c->n++] = (char *)name;
	name = NULL;
	ret = 0;
out:
	if (name != NULL)
		secmem_freezero(name, name_len + 1);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int barrier_list(struct barrier *b, const char *folder, char ***keys, size_t *n)
{
	struct list_ctx c = {0};
	uint8_t prefix[INDEX_PREFIX_LEN];
	int ret;

	*keys = NULL;
	*n = 0;
	if (!path_is_valid(folder, true))
		return COFFER_ERR_INVALID;
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	c.kr = b->kr;
	pthread_rwlock_rdlock(&b->tree_lock);
	index_prefix(b->kr, folder, strlen(folder), prefix);
	ret = storage_scan(b->st, prefix, sizeof(prefix), list_scan_cb, &c);
	pthread_rwlock_unlock(&b->tree_lock);
	barrier_leave(b);
	if (ret == COFFER_ERR_INTEGRITY)
		log_warn("barrier: an index row failed authentication");
	if (ret != 0) {
		barrier_list_free(c.names, c.n);
		return ret;
	}
	if (c.n > 1)
		qsort(c.names, c.n, sizeof(*c.names), name_cmp);
	*keys = c.names;
	*n = c.n;
	return 0;
}

void barrier_list_free(char **keys, size_t n)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		secmem_freezero(keys[i], strlen(keys[i]) + 1);
	free(keys);
}

int barrier_rotate(struct barrier *b)
{
	struct keyring *kr = NULL;
	int ret;

	pthread_rwlock_wrlock(&b->key_lock);
	ret = COFFER_ERR_SEALED;
	if (b->kr == NULL)
		goto out;
	if ((ret = keyring_rotate(b->kr, &kr)) != 0)
		goto out;
	if ((ret = keyring_store(b->st, kr, b->root_key)) != 0)
		goto out;
	keyring_free(b->kr);
	b->kr = kr;
	kr = NULL;
	atomic_store(&b->encryptions, 0);
	log_info("barrier: rotated, active term %u", keyring_active(b->kr)->term);
out:
	pthread_rwlock_unlock(&b->key_lock);
	keyring_free(kr);
	return ret;
}

int barrier_key_status(struct barrier *b, struct barrier_key_status *out)
{
	const struct keyring_term *t;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = barrier_enter(b)) != 0)
		return ret;
	t = keyring_active(b->kr);
	out->term = t->term;
	out->install_time = t->install_time;
	out->encryptions = atomic_load(&b->encryptions);
	barrier_leave(b);
	return 0;
}

int barrier_hash(struct barrier *b, const char *label, const void *msg, size_t len,
                 uint8_t out[COFFER_MAC_LEN])
{
	int ret;

	if ((ret = barrier_enter(b)) != 0)
		return ret;
	coffer_mac2(out, label, msg, len, keyring_hash_key(b->kr));
	barrier_leave(b);
	return 0;
}
